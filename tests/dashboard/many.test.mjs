// A registry of many names in headless Chromium: the page places the first
// screenful of rows at once and the rest over the next frames, so every row
// must still arrive, in port order, and a keystroke typed while rows are
// still being placed must leave exactly its own matches.
// Ports: dashboard 26501, names reserved on 26510-26909 (this file's slice of 26000-26999).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cli, exited, killAll, launchBrowser, openPage, startDashboard, tempRegistry, waitFor } from './lib.mjs';

const DASH = 26501;
const N = 400;
const reg = tempRegistry();
let dash;
let browser;
let page;
const pageErrors = [];

const name = (i) => `many-${String(i).padStart(3, '0')}`;

before(async () => {
  // Reserved names: rows without processes. The page's own lease comes on top.
  for (let i = 0; i < N; i += 1) {
    const r = cli(reg, 'reserve', name(i), String(26510 + i));
    assert.equal(r.status, 0, r.stderr);
  }
  dash = await startDashboard(reg, DASH);
  browser = await launchBrowser();
  page = await openPage(browser, dash.url, pageErrors);
});

after(async () => {
  if (browser) await browser.close();
  if (dash) {
    dash.child.kill('SIGTERM');
    await exited(dash.child);
  }
  killAll();
  reg.remove();
});

/** The names of the entry rows in the page, in document order. */
const shown = () => page.evaluate(() => [...document.querySelectorAll('tr.entry')]
  .map((tr) => tr.dataset.name).filter((n) => n.startsWith('many-')));

const all = Array.from({ length: N }, (_, i) => name(i));

/** Types `text` into the filter as a person would, in one input event. */
const type = (text) => page.evaluate((q) => {
  const input = document.querySelector('#filter');
  input.value = q;
  input.dispatchEvent(new Event('input', { bubbles: true }));
}, text);

test('every row arrives, in port order, though most are placed after the first frame', async () => {
  await waitFor(async () => (await shown()).length === N, `${N} rows`, 15000);
  assert.deepEqual(await shown(), all);
});

test('a filter narrows, and clearing it brings every row back in order', async () => {
  await type('many-3');
  await waitFor(async () => (await shown()).length === 100, 'the 100 names of many-3..');
  assert.deepEqual(await shown(), all.slice(300, 400));
  await type('');
  await waitFor(async () => (await shown()).length === N, `${N} rows again`);
  assert.deepEqual(await shown(), all);
});

test('a keystroke while rows are still being placed leaves only its own matches', async () => {
  await type('many-1');
  await waitFor(async () => (await shown()).length === 100, 'the names of many-1..');
  // Clearing the filter starts placing 400 rows over several frames; the
  // next keystroke comes in the same task, before the second frame.
  await page.evaluate(() => {
    const input = document.querySelector('#filter');
    input.value = '';
    input.dispatchEvent(new Event('input', { bubbles: true }));
    input.value = 'many-2';
    input.dispatchEvent(new Event('input', { bubbles: true }));
  });
  // Give any placement of the cleared filter's rows frames to run.
  await page.evaluate(() => new Promise((r) => {
    let n = 0;
    const tick = () => (++n >= 10 ? r() : requestAnimationFrame(tick));
    requestAnimationFrame(tick);
  }));
  assert.deepEqual(await shown(), all.slice(200, 300));
  await type('');
  await waitFor(async () => (await shown()).length === N, `${N} rows again`);
  assert.deepEqual(await shown(), all);
  assert.deepEqual(pageErrors, [], 'no script errors');
});
