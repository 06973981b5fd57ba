// `portreg dashboard` end to end in headless Chromium: services leased by a
// Python process and a Node process appear, a SIGKILLed holder turns idle
// without a reload, and the page's actions (confirmed in its dialog) change
// the registry that the CLI reads.
// Ports: dashboard 26801, services 26810-26899 (this suite's slice of 26000-26999).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  cli, exited, getEntry, isAlive, killAll, launchBrowser, startDashboard,
  startForeignListener, startOtherUserServer, startService, tempRegistry, waitFor, openPage,
} from './lib.mjs';

const DASH = 26801;
const reg = tempRegistry();
let dash;
let browser;
let page;
let py;
let node;
const pageErrors = [];

const row = (name) => page.locator(`tr.entry[data-name="${name}"]`);
const cell = (name, field) => row(name).locator(`td[data-field="${field}"]`);

before(async () => {
  dash = await startDashboard(reg, DASH);
  py = await startService(reg, 'python', 'py-api', '26810-26819', {
    description: 'Python API', meta: ['project=/srv/py-api', 'health=/health'],
  });
  node = await startService(reg, 'node', 'node-web', '26820-26829', {
    description: 'Node web server', meta: ['project=/srv/node-web', 'health=/health'],
  });
  browser = await launchBrowser();
  page = await openPage(browser, dash.url, pageErrors);
});

after(async () => {
  if (browser) await browser.close();
  if (dash) {
    dash.child.kill('SIGTERM');
    const { code } = await exited(dash.child);
    assert.equal(code, 0, 'the dashboard exits 0 on SIGTERM');
    assert.equal(getEntry(reg, 'portreg-dashboard').state, 'idle', 'and releases its own lease');
  }
  killAll();
  reg.remove();
});

test('shows the entries a Python process and a Node process leased', async () => {
  for (const [svc, name, exe] of [[py, 'py-api', 'python'], [node, 'node-web', 'node']]) {
    await row(name).waitFor({ timeout: 8000 });
    assert.equal(await row(name).getAttribute('data-state'), 'active');
    assert.match(await cell(name, 'proc').innerText(), new RegExp(`${exe}[\\s\\S]*pid ${svc.pid}\\b`));
    const link = cell(name, 'port').locator('a');
    assert.equal((await link.innerText()).trim(), String(svc.port));
    assert.equal(await link.getAttribute('href'), `http://localhost:${svc.port}/`);
    // listening, healthy (/health answered 200), with its description and meta
    await cell(name, 'state').locator('[data-listening="yes"]').waitFor({ timeout: 8000 });
    await cell(name, 'name').locator('.hdot.ok').waitFor({ timeout: 8000 });
    const info = await cell(name, 'info').innerText();
    assert.match(info, name === 'py-api' ? /Python API/ : /Node web server/);
    assert.match(info, new RegExp(`/srv/${name}`));
    const stable = cell(name, 'name').locator('a.stable');
    assert.equal(await stable.getAttribute('href'), `http://${name}.localhost:${DASH}/`);
  }
  // the dashboard's own lease is listed too, without actions
  assert.equal(await row('portreg-dashboard').getAttribute('data-state'), 'active');
  assert.equal(await row('portreg-dashboard').locator('button').count(), 0);
  assert.equal(await page.locator('[data-stat="active"] b').innerText(), '3');
});

test('every cell lines up under its column heading, on a wide and a narrow window', async () => {
  // Rows are laid out one by one (so that rows off screen can be skipped):
  // each must still put its cells exactly under the headings.
  const columns = () => page.evaluate(() => {
    const left = (el) => Math.round(el.getBoundingClientRect().left);
    const shown = (el) => getComputedStyle(el).display !== 'none';
    const heads = [...document.querySelectorAll('#entries thead th')].filter(shown).map(left);
    const rows = [...document.querySelectorAll('#entries tbody tr.entry')]
      .map((tr) => ({ name: tr.dataset.name, cells: [...tr.children].filter(shown).map(left) }));
    return { heads, rows };
  });
  for (const width of [1360, 760]) {
    await page.setViewportSize({ width, height: 900 });
    const { heads, rows } = await columns();
    assert.equal(heads.length, width > 980 ? 7 : 6, `columns shown at ${width}px`);
    assert.ok(rows.length >= 3, 'rows to compare');
    for (const r of rows) assert.deepEqual(r.cells, heads, `${r.name} at ${width}px`);
  }
  await page.setViewportSize({ width: 1360, height: 900 });
});

test('a stable NAME.localhost URL reaches the service through the dashboard', async () => {
  const other = await browser.newPage();
  const resp = await other.goto(`http://node-web.localhost:${DASH}/some/path?q=1`);
  assert.equal(resp.status(), 200);
  const body = JSON.parse(await other.locator('body').innerText());
  assert.deepEqual(
    [body.service, body.lang, body.path, body.host],
    ['node-web', 'node', '/some/path?q=1', `node-web.localhost:${DASH}`],
  );
  const missing = await other.goto(`http://nope.localhost:${DASH}/`);
  assert.equal(missing.status(), 404);
  const text = await other.locator('body').innerText();
  assert.match(text, /No service called nope/);
  assert.match(text, new RegExp(`py-api\\.localhost:${DASH}`), 'the page lists the running services');
  await other.close();
});

test('a SIGKILLed holder shows as idle within a few seconds, without a reload', async () => {
  const t0 = Date.now();
  py.child.kill('SIGKILL');
  await exited(py.child);
  await waitFor(async () => (await row('py-api').getAttribute('data-state')) === 'idle', 'py-api to turn idle', 6000);
  const took = Date.now() - t0;
  assert.ok(took < 6000, `took ${took} ms`);
  assert.equal(await page.evaluate(() => window.sameDocument), true, 'the page was not reloaded');
  assert.equal(await cell('py-api', 'proc').innerText(), '—');
  assert.equal(await row('py-api').locator('button[data-action="forget"]').count(), 1);
  assert.equal(getEntry(reg, 'py-api').state, 'idle');
});

test('release asks first; cancelling changes nothing, confirming releases', async () => {
  const dialog = page.locator('dialog#confirm');
  await row('node-web').locator('button[data-action="release"]').click();
  await dialog.waitFor({ state: 'visible' });
  assert.match(await dialog.innerText(), /Release node-web\?/);
  await dialog.locator('[data-cancel]').click();
  await dialog.waitFor({ state: 'hidden' });
  await page.waitForTimeout(1500);
  assert.equal(getEntry(reg, 'node-web').state, 'active', 'cancel leaves the lease alone');

  await row('node-web').locator('button[data-action="release"]').click();
  await dialog.waitFor({ state: 'visible' });
  await dialog.locator('[data-confirm]').click();
  await waitFor(async () => (await row('node-web').getAttribute('data-state')) === 'idle', 'node-web to turn idle');
  const e = getEntry(reg, 'node-web');
  assert.equal(e.state, 'idle');
  assert.equal(e.holder, null);
  assert.equal(e.port, node.port, 'the port is remembered');
  assert.ok(isAlive(node.pid), 'release does not stop the process');
  assert.match(await page.locator('#toasts').innerText(), /Released node-web/);
  // Still listening on the port its idle name remembers: the name's own
  // process (its released holder), not a conflict of it.
  await page.waitForTimeout(2500);
  assert.equal(await page.locator('[data-conflict="node-web"]').count(), 0, 'no conflict with its own process');
  node.child.kill('SIGTERM');
  await exited(node.child);
});

test('kill takes a timeout in its confirmation and stops the holder', async () => {
  const stubborn = await startService(reg, 'python', 'stubborn', '26830-26839', { ignoreTerm: true });
  await row('stubborn').waitFor({ timeout: 8000 });
  await row('stubborn').locator('button[data-action="kill"]').click();
  const dialog = page.locator('dialog#confirm');
  await dialog.waitFor({ state: 'visible' });
  assert.match(await dialog.innerText(), new RegExp(`SIGTERM to pid ${stubborn.pid}`));
  await dialog.locator('#confirm-seconds').fill('1');
  const t0 = Date.now();
  await dialog.locator('[data-confirm]').click();
  const { signal } = await exited(stubborn.child, 8000);
  assert.equal(signal, 'SIGKILL', 'it ignored SIGTERM, so SIGKILL followed after the 1 s timeout');
  assert.ok(Date.now() - t0 < 5000);
  await waitFor(async () => (await row('stubborn').getAttribute('data-state')) === 'idle', 'stubborn to turn idle');
  await waitFor(async () => /SIGKILL/.test(await page.locator('#toasts').innerText()), 'the kill report');
});

test('a conflict names the foreign process; forget and clean work from the page', async () => {
  assert.equal(cli(reg, 'reserve', 'cache', '26840', '-d', 'pinned cache').status, 0);
  const squatter = await startForeignListener(26840, reg.dir, 'squatter.py');
  const note = page.locator('[data-conflict="cache"]');
  await note.waitFor({ timeout: 10000 });
  const text = await note.innerText();
  assert.match(text, new RegExp(`pid ${squatter.pid}`));
  assert.match(text, /python3/);
  assert.match(text, /squatter\.py/);
  assert.equal(await page.locator('[data-stat="conflict"] b').innerText(), '1');
  assert.ok(await row('cache').evaluate((tr) => tr.classList.contains('conflict')));

  await row('py-api').locator('button[data-action="forget"]').click();
  const dialog = page.locator('dialog#confirm');
  await dialog.waitFor({ state: 'visible' });
  await dialog.locator('[data-confirm]').click();
  await row('py-api').waitFor({ state: 'detached', timeout: 8000 });
  assert.equal(getEntry(reg, 'py-api'), null, 'forgotten in the registry');

  await page.locator('#clean').click();
  await waitFor(async () => /Nothing to clean|Dropped/.test(await page.locator('#toasts').innerText()), 'the clean report');
});

test('http://localhost:PORT stays the dashboard: another user cannot bind [::1]:PORT', async (t) => {
  // Browsers try localhost on ::1 first, so a server of another user there
  // would be served at an origin the dashboard trusts.
  const other = await startOtherUserServer('::1', DASH);
  if (typeof other === 'string') { t.skip(other); return; }
  const p = await browser.newPage();
  try {
    await p.goto(dash.url);
    assert.equal(new URL(p.url()).hostname, 'localhost');
    assert.equal(await p.title(), 'portreg dashboard', `the page at ${dash.url}`);
    assert.match(other.line, /^refused 98$/, 'the bind of [::1]:PORT by another user is refused (EADDRINUSE)');
  } finally {
    await p.close();
    other.child.kill('SIGKILL');
  }
});

test('a POST without the page\'s token is refused, and the page had no script errors', async () => {
  // The same POST without the page's token is refused by the server.
  const refused = await page.evaluate(async () => {
    const r = await fetch('/api/clean', { method: 'POST' });
    return [r.status, (await r.json()).code];
  });
  assert.deepEqual(refused, [403, 'PERMISSION']);
  assert.deepEqual(pageErrors.map(String), []);
});
