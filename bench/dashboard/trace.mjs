// Where the page's time goes with 1,000 entries, from Chromium's own trace:
// the first load (until every row is in the document), and bringing all
// rows back after a filter had narrowed them to one. Prints, for each, the
// wall time and the trace's total per kind of work (Layout, style
// recalculation = UpdateLayoutTree, PrePaint, script = FunctionCall or
// EventDispatch, ParseHTML...), in ms.
//
//   node bench/dashboard/trace.mjs
//
// Environment as for load.mjs: PORTREG_BIN (release CLI), PORTREG_NODE (the
// Node package), PLAYWRIGHT (a directory whose node_modules has
// playwright-core), CHROMIUM (default /usr/bin/chromium). Dashboard on port
// 27003, names leased in 28000-29999 (the registry of load.mjs), a
// temporary registry only.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { cleanup, dashboard, registry, stop } from './lib.mjs';

const require = createRequire(import.meta.url);
const { chromium } = require(join(process.env.PLAYWRIGHT, 'node_modules', 'playwright-core'));
const PORT = 27003;
const CATEGORIES = ['devtools.timeline', 'disabled-by-default-devtools.timeline'];

function totals(trace) {
  const sum = {};
  for (const e of JSON.parse(trace.toString()).traceEvents) {
    if (e.ph === 'X' && e.dur) sum[e.name] = (sum[e.name] || 0) + e.dur / 1000;
  }
  const keep = ['Layout', 'UpdateLayoutTree', 'PrePaint', 'Paint', 'FunctionCall', 'EventDispatch', 'ParseHTML'];
  return Object.fromEntries(keep.map((k) => [k, Math.round((sum[k] || 0) * 10) / 10]));
}

const dash = await dashboard(registry(1000), PORT);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
  await browser.startTracing(page, { categories: CATEGORIES });
  const t0 = Date.now();
  await page.goto(`http://127.0.0.1:${PORT}/`);
  await page.waitForFunction(() => document.querySelectorAll('tr.entry').length >= 1000);
  const load = { ms: Date.now() - t0, ...totals(await browser.stopTracing()) };
  const filter = (text) => page.evaluate((q) => new Promise((resolve) => {
    const input = document.querySelector('#filter');
    const start = performance.now();
    input.value = q;
    input.dispatchEvent(new Event('input', { bubbles: true }));
    requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now() - start)));
  }), text);
  await filter('svc-0550');
  await browser.startTracing(page, { categories: CATEGORIES });
  const ms = await filter('');
  const restore = { ms: Math.round(ms * 10) / 10, ...totals(await browser.stopTracing()) };
  console.log(JSON.stringify({ load, restore }));
} finally {
  await browser.close();
  await stop(dash);
  cleanup();
}
