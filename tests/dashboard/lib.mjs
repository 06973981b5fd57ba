// Helpers for the dashboard's browser tests and screenshot: the real portreg
// binary, throwaway registries, services in Python and Node that lease their
// own port, and Debian's Chromium driven by playwright-core.
import { spawn, execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, readdirSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(here, '..', '..');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

/** The portreg binary: $PORTREG_BIN, else target/<host>/debug/portreg. */
export function portregBin() {
  if (process.env.PORTREG_BIN) return process.env.PORTREG_BIN;
  const target = join(ROOT, 'target');
  const candidates = [join(target, 'debug', 'portreg')];
  if (existsSync(target)) {
    for (const d of readdirSync(target)) candidates.unshift(join(target, d, 'debug', 'portreg'));
  }
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error('no portreg binary: build it (cargo build -p portreg-cli) or set PORTREG_BIN');
  return found;
}

const children = new Set();

function track(child) {
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

/** Kills every child this module started (services, dashboards). */
export function killAll() {
  for (const c of children) {
    try { c.kill('SIGKILL'); } catch { /* gone */ }
  }
}

/** A fresh registry directory (never ~/.portreg). */
export function tempRegistry() {
  const dir = mkdtempSync(join(tmpdir(), 'portreg-dash-'));
  return { dir, path: join(dir, 'reg'), remove: () => rmSync(dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 50 }) };
}

/** Runs the CLI on `reg`; returns { status, stdout, stderr }. */
export function cli(reg, ...args) {
  const r = spawnSync(portregBin(), ['--registry', reg.path, ...args], {
    encoding: 'utf8',
    env: { ...process.env, PORTREG_HOME: '', PORTREG_RANGE: '' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `portreg get NAME --json` as an object (null when unknown). */
export function getEntry(reg, name) {
  const r = cli(reg, 'get', name, '--json');
  return r.status === 0 ? JSON.parse(r.stdout) : null;
}

function firstLine(child, what, timeoutMs = 10000) {
  return new Promise((resolveLine, reject) => {
    const rl = createInterface({ input: child.stdout });
    let err = '';
    child.stderr?.on('data', (d) => { err += d; });
    const timer = setTimeout(() => reject(new Error(`${what}: no output within ${timeoutMs} ms; stderr: ${err}`)), timeoutMs);
    rl.once('line', (line) => { clearTimeout(timer); resolveLine(line); });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}) before it was ready; stderr: ${err}`));
    });
  });
}

/** Starts `portreg dashboard` on `port`; resolves once it serves. */
export async function startDashboard(reg, port) {
  const child = track(spawn(portregBin(), ['--registry', reg.path, 'dashboard', '--port', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PORTREG_HOME: '', PORTREG_RANGE: '' },
  }));
  const line = await firstLine(child, 'portreg dashboard');
  if (!line.includes(`http://127.0.0.1:${port}/`)) throw new Error(`unexpected first line: ${line}`);
  return { child, url: `http://localhost:${port}/`, port };
}

// A Python web service that leases its own port through the portreg CLI
// (holder: this very python3 process), then serves /health and echoes the
// path and Host of every other request.
const PY_SERVICE = String.raw`
import http.server, json, os, signal, sys
import portreg
reg, name, rng, desc, status, listen = sys.argv[1:7]
meta = dict(m.split("=", 1) for m in sys.argv[7:])
if os.environ.get("IGNORE_TERM"):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
port = portreg.Registry(reg).lease(name, range=rng, description=desc, meta=meta).port
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code = int(status) if self.path == "/health" else 200
        body = json.dumps({"service": name, "lang": "python", "path": self.path, "host": self.headers.get("Host")}).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
if listen == "1":
    srv = http.server.HTTPServer(("127.0.0.1", port), H)
    print("ready", port, flush=True)
    srv.serve_forever()
else:
    print("ready", port, flush=True)
    signal.pause()
`;

// The same in Node, with require('portreg').
const NODE_SERVICE = String.raw`
const http = require('node:http');
const portreg = require(process.env.PORTREG_NODE);
const [reg, name, rng, desc, status, listen, ...meta] = process.argv.slice(1);
const lease = new portreg.Registry(reg).lease(name, {
  range: rng, description: desc, meta: Object.fromEntries(meta.map((m) => m.split(/=(.*)/s).slice(0, 2))),
});
const port = lease.port;
if (listen === '1') {
  http.createServer((req, res) => {
    const code = req.url === '/health' ? Number(status) : 200;
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ service: name, lang: 'node', path: req.url, host: req.headers.host }));
  }).listen(port, '127.0.0.1', () => console.log('ready', port));
} else {
  console.log('ready', port);
  setInterval(() => {}, 1 << 30);
}
`;

/** The project's Python (with the portreg package) and Node package. */
export const PORTREG_PYTHON = process.env.PORTREG_PYTHON || join(ROOT, '.venv', 'bin', 'python');
export const PORTREG_NODE = process.env.PORTREG_NODE || join(ROOT, 'bindings-node');

/**
 * Starts a service in `lang` ('python' or 'node') that leases NAME from
 * `range` through that language's portreg package, with itself as holder. Resolves to { child, pid, port }.
 */
export async function startService(reg, lang, name, range, {
  description = `${name} service`, meta = [], healthStatus = 200, listen = true, ignoreTerm = false,
} = {}) {
  const rest = [reg.path, name, range, description, String(healthStatus), listen ? '1' : '0', ...meta];
  const cmd = lang === 'python' ? [PORTREG_PYTHON, ['-c', PY_SERVICE, ...rest]] : ['node', ['-e', NODE_SERVICE, ...rest]];
  const child = track(spawn(cmd[0], cmd[1], {
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: reg.dir,
    env: {
      ...process.env, PORTREG_HOME: '', PORTREG_RANGE: '', PORTREG_NODE,
      ...(ignoreTerm ? { IGNORE_TERM: '1' } : {}),
    },
  }));
  const line = await firstLine(child, `${lang} service ${name}`);
  const m = /^ready (\d+)$/.exec(line.trim());
  if (!m) throw new Error(`${lang} service ${name} said: ${line}`);
  return { child, pid: child.pid, port: Number(m[1]) };
}

/**
 * A plain python3 listener on 127.0.0.1:PORT that portreg knows nothing
 * about, run as `python3 SCRIPT` from `dir`.
 */
export async function startForeignListener(port, dir, script = 'squatter.py') {
  const code = `import socket, time\ns = socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind(("127.0.0.1", ${port})); s.listen()\nprint("ready", flush=True)\ntime.sleep(3600)\n`;
  writeFileSync(join(dir, script), code);
  const child = track(spawn('python3', [script], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }));
  await firstLine(child, 'foreign listener');
  return { child, pid: child.pid };
}

/** Waits for `child` to exit; resolves to { code, signal }. */
export function exited(child, timeoutMs = 10000) {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((res, rej) => {
    const t = setTimeout(() => rej(new Error(`pid ${child.pid} still running after ${timeoutMs} ms`)), timeoutMs);
    child.once('exit', (code, signal) => { clearTimeout(t); res({ code, signal }); });
  });
}

/** Headless Debian Chromium with the flags this machine needs. */
export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

/**
 * A page of `browser` on `url` whose uncaught errors go to `errors`, its
 * document marked (`window.sameDocument`): a full reload would lose the mark.
 */
export async function openPage(browser, url, errors) {
  const page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
  page.on('pageerror', (e) => errors.push(e));
  await page.goto(url);
  await page.evaluate(() => { window.sameDocument = true; });
  return page;
}

/** Polls `fn` every 100 ms until it returns something truthy (returned). */
export async function waitFor(fn, what, timeoutMs = 10000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function isAlive(pid) {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

export { execFileSync };

// Binds HOST:PORT (an IPv6 socket is v6-only, as any user may make one) and
// answers every request with a page saying "another user's server"; prints
// "bound" once listening, or "refused ERRNO" and exits when the bind fails.
const OTHER_USER_SERVER = String.raw`
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
s = socket.socket(fam)
if fam == socket.AF_INET6:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
try:
    s.bind((host, port)); s.listen()
except OSError as e:
    print("refused", e.errno, flush=True); sys.exit(0)
print("bound", flush=True)
body = b"<title>another user's server</title>another user's server"
while True:
    c, _ = s.accept()
    c.recv(65536)
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    c.close()
`;

/**
 * Runs a server as the user `nobody` (setpriv; needs root) on HOST:PORT.
 * Resolves to { child, line } where line is "bound" or "refused ERRNO",
 * or to a string saying why it cannot run here.
 */
export async function startOtherUserServer(host, port) {
  if (process.getuid() !== 0) return 'not root: cannot run a server as another user here';
  if (!existsSync('/usr/bin/setpriv') || !existsSync('/usr/bin/python3')) return 'no setpriv or /usr/bin/python3';
  const child = track(spawn('/usr/bin/setpriv', [
    '--reuid=nobody', '--regid=nogroup', '--clear-groups',
    '/usr/bin/python3', '-c', OTHER_USER_SERVER, host, String(port),
  ], { stdio: ['ignore', 'pipe', 'pipe'], cwd: '/' }));
  const line = await firstLine(child, 'the other user\'s server');
  return { child, line: line.trim() };
}
