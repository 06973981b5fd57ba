// The dashboard under load, on loopback, with the release build: prints one
// JSON object for bench/report.py.
//
//   node bench/dashboard/load.mjs
//
// Environment: PORTREG_BIN (release CLI), PORTREG_NODE (the Node package, for
// leases timed in this process), PLAYWRIGHT (a directory whose node_modules
// has playwright-core), CHROMIUM (default /usr/bin/chromium). Dashboards on
// ports 27001-27002, names leased in 28000-29999, temporary registries only.
//
// 1. 200 clients at once, each asking GET /api/entries 20 times in a row on
//    a registry of 100 entries (and of 1,000): the latency of every request,
//    and the CPU time of the dashboard and of this load generator. Clients
//    are lean keep-alive sockets; node:http's Agent is timed too, once.
// 2. A known name's lease + release in this process, median of blocks taken
//    alternately with and without 100 open /api/events streams (pages).
// 3. A 1,000-entry registry in headless Chromium: the page's own timings
//    (performance.now() in the page): until every row is drawn, and from a
//    keystroke in the filter to the next frame painted; long tasks (the
//    Long Tasks API) while it renders and filters.
// 4. The resident size (VmRSS) of the dashboard serving 1,000 entries, idle
//    and after the load.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import http from 'node:http';
import net from 'node:net';
import { cleanup, dashboard, registry } from './lib.mjs';

const require = createRequire(import.meta.url);
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

function get(agent, port, path) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      let n = 0;
      res.on('data', (d) => { n += d.length; });
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`${path}: ${res.statusCode}`));
        else resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, bytes: n });
      });
    });
    req.on('error', reject);
  });
}

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

async function concurrent(port, clients, each) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  await get(agent, port, '/api/entries'); // warm
  const times = [];
  let bytes = 0;
  const t0 = Date.now();
  await Promise.all(Array.from({ length: clients }, async () => {
    for (let i = 0; i < each; i++) {
      const r = await get(agent, port, '/api/entries');
      times.push(r.ms);
      bytes = r.bytes;
    }
  }));
  const secs = (Date.now() - t0) / 1000;
  agent.destroy();
  times.sort((a, b) => a - b);
  return {
    clients, requests: times.length, bytes, per_s: Math.round(times.length / secs),
    p50_ms: pct(times, 50), p99_ms: pct(times, 99), max_ms: times[times.length - 1],
  };
}

/** CPU time (user + system) of process `pid` so far, in ms. */
function cpuMs(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

/**
 * One keep-alive connection speaking just enough HTTP/1.1 to time a GET: a
 * response is whole when its Content-Length bytes of body are in. node:http
 * costs the load generator so much per response (a whole core for 200
 * clients here) that it measured itself; this client costs a third of it.
 */
function leanClient(port, path) {
  const sock = net.connect(port, '127.0.0.1');
  sock.setNoDelay(true);
  let buf = Buffer.alloc(0);
  let need = -1;
  let start = 0;
  let pending = null;
  sock.on('data', (d) => {
    buf = buf.length ? Buffer.concat([buf, d]) : d;
    if (need < 0) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.subarray(0, end).toString('latin1');
      const len = /\r\ncontent-length: *(\d+)/i.exec(head);
      if (!/^HTTP\/1\.1 200 /.test(head) || !len) {
        pending.reject(new Error(`${path}: ${head.split('\r\n')[0]}`));
        return;
      }
      need = Number(len[1]);
      start = end + 4;
    }
    if (buf.length - start >= need) {
      const bytes = need;
      buf = buf.subarray(start + need);
      need = -1;
      const p = pending;
      pending = null;
      p.resolve({ ms: Number(process.hrtime.bigint() - p.t0) / 1e6, bytes });
    }
  });
  sock.on('error', (e) => pending && pending.reject(e));
  return {
    get: () => new Promise((resolve, reject) => {
      pending = { resolve, reject, t0: process.hrtime.bigint() };
      sock.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    }),
    close: () => sock.destroy(),
  };
}

/** `clients` lean clients at once, each asking `each` times in a row. */
async function concurrentLean(dash, clients, each) {
  const conns = Array.from({ length: clients }, () => leanClient(dash.port, '/api/entries'));
  await Promise.all(conns.map((c) => c.get())); // connected and warm
  const times = [];
  let bytes = 0;
  const cpu0 = cpuMs(dash.child.pid);
  const own0 = process.cpuUsage();
  const t0 = Date.now();
  await Promise.all(conns.map(async (c) => {
    for (let i = 0; i < each; i++) {
      const r = await c.get();
      times.push(r.ms);
      bytes = r.bytes;
    }
  }));
  const secs = (Date.now() - t0) / 1000;
  const own = process.cpuUsage(own0);
  for (const c of conns) c.close();
  times.sort((a, b) => a - b);
  return {
    clients, requests: times.length, bytes, per_s: Math.round(times.length / secs),
    p50_ms: pct(times, 50), p99_ms: pct(times, 99), max_ms: times[times.length - 1],
    server_cpu_ms: cpuMs(dash.child.pid) - cpu0, client_cpu_ms: Math.round((own.user + own.system) / 1000),
    wall_ms: Math.round(secs * 1000),
  };
}

function leaseBlock(reg, n) {
  const t = [];
  for (let i = 0; i < n; i++) {
    const a = process.hrtime.bigint();
    reg.lease('bench-sse', { range: '28000-29999' }).release();
    t.push(Number(process.hrtime.bigint() - a) / 1000);
  }
  return t;
}

// Lets the event loop run (the SSE streams are read by it) between blocks.
const tick = () => new Promise((r) => setTimeout(r, 20));

async function withPages(reg, port, pages) {
  reg.lease('bench-sse', { range: '28000-29999' }).release();
  const streams = [];
  let events = 0;
  const openPages = async () => {
    const agent = new http.Agent({ keepAlive: false, maxSockets: pages });
    await Promise.all(Array.from({ length: pages }, () => new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/api/events', agent }, (res) => {
        res.on('data', (d) => { if (String(d).includes('event: snapshot')) events++; });
        resolve();
      });
      req.on('error', reject);
      streams.push(req);
    })));
  };
  const off = [];
  const on = [];
  // Alternating blocks, so both see the same machine.
  for (let round = 0; round < 6; round++) {
    off.push(...leaseBlock(reg, 200));
    await tick();
    await openPages();
    await new Promise((r) => setTimeout(r, 300));
    for (let b = 0; b < 4; b++) { on.push(...leaseBlock(reg, 50)); await tick(); }
    for (const s of streams.splice(0)) s.destroy();
    await tick();
  }
  off.sort((a, b) => a - b);
  on.sort((a, b) => a - b);
  return { pages, events, without_us: pct(off, 50), with_us: pct(on, 50), runs: [off.length, on.length] };
}

async function browser(url) {
  const { chromium } = require(join(process.env.PLAYWRIGHT, 'node_modules', 'playwright-core'));
  const b = await chromium.launch({
    executablePath: CHROMIUM, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  try {
    const page = await b.newPage({ viewport: { width: 1360, height: 900 } });
    await page.addInitScript(() => {
      window.longTasks = [];
      new PerformanceObserver((l) => { for (const e of l.getEntries()) window.longTasks.push(e.duration); })
        .observe({ type: 'longtask', buffered: true });
    });
    await page.goto(url);
    const rendered = await page.evaluate(() => new Promise((resolve) => {
      const done = () => document.querySelectorAll('tr.entry').length >= 1000;
      const check = () => (done() ? resolve(performance.now()) : requestAnimationFrame(check));
      check();
    }));
    const renderLong = await page.evaluate(() => window.longTasks.splice(0));
    const filters = [];
    for (const q of ['s', 'sv', 'svc-0', 'svc-05', 'svc-055', 'svc-0550', '', 'service 7', '27', '']) {
      filters.push(await page.evaluate((text) => new Promise((resolve) => {
        const input = document.querySelector('#filter');
        const t0 = performance.now();
        input.value = text;
        input.dispatchEvent(new Event('input', { bubbles: true }));
        // The frame after the one that paints the change.
        requestAnimationFrame(() => requestAnimationFrame(() => resolve({
          q: text, ms: performance.now() - t0, rows: document.querySelectorAll('tr.entry:not([hidden])').length,
        })));
      }), q));
    }
    const filterLong = await page.evaluate(() => window.longTasks.splice(0));
    const ms = filters.map((f) => f.ms).sort((a, b) => a - b);
    return {
      rows: 1000, render_ms: rendered, render_long_tasks: renderLong.length,
      render_longest_ms: Math.max(0, ...renderLong),
      filter_median_ms: pct(ms, 50), filter_max_ms: ms[ms.length - 1],
      filter_long_tasks: filterLong.length, filter_longest_ms: Math.max(0, ...filterLong),
    };
  } finally {
    await b.close();
  }
}

function rssKiB(pid) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
  return m ? Number(m[1]) : null;
}

async function main() {
  const out = {};
  const small = registry(100);
  const d1 = await dashboard(small, 27001);
  out.entries_100 = await concurrentLean(d1, 200, 20);
  const c0 = cpuMs(d1.child.pid);
  const own0 = process.cpuUsage();
  out.entries_100_http = await concurrent(d1.port, 200, 20);
  const own = process.cpuUsage(own0);
  out.entries_100_http.server_cpu_ms = cpuMs(d1.child.pid) - c0;
  out.entries_100_http.client_cpu_ms = Math.round((own.user + own.system) / 1000);
  out.sse = await withPages(small.reg, d1.port, 100);
  d1.child.kill('SIGTERM');

  const big = registry(1000);
  const d2 = await dashboard(big, 27002);
  await new Promise((r) => setTimeout(r, 1500)); // its first snapshots taken
  out.rss_idle_kib = rssKiB(d2.child.pid);
  out.entries_1000 = await concurrentLean(d2, 200, 5);
  if (process.env.PLAYWRIGHT) out.browser = await browser(d2.url.replace('127.0.0.1', 'localhost'));
  out.rss_kib = rssKiB(d2.child.pid);
  d2.child.kill('SIGTERM');
  console.log(JSON.stringify(out));
}

main().catch((e) => { console.error(e); process.exitCode = 1; }).finally(cleanup);
