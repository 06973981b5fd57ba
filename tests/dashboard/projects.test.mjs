// Projects in the dashboard page, in headless Chromium: two checkouts of one
// project brought up with `portreg up -d` (Python and shell services) are
// grouped under a heading each, with every service's health state and
// restart count; a crash restarted by the policy shows restarts + 1 without
// a reload; Restart and Stop clicked in the page go through the supervisor
// (same port, restarts + 1 / stopped, lease released); a forged POST is
// refused.
// Ports: dashboard 26301, services 26310-26349 (this file's slice of 26000-26999).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  exited, getEntry, isAlive, killAll, launchBrowser, portregBin, startDashboard, tempRegistry, waitFor, openPage,
} from './lib.mjs';

const DASH = 26301;
const reg = tempRegistry();
const MAIN = join(reg.dir, 'pshop');
const COPY = join(reg.dir, 'copy');
let dash;
let browser;
let page;
const pageErrors = [];

const PROJECT = `project = "pshop"

[services.db]
command = "exec python3 -m http.server {port} --bind 127.0.0.1"
port = 26310
health = "tcp"

[services.api]
command = ["python3", "-m", "http.server", "{port}", "--bind", "127.0.0.1"]
port = 26311
health = "/"
depends_on = ["db"]
restart = "on-failure"
stop_timeout = 3

[services.worker]
command = "while true; do sleep 0.2; done"
port = false
depends_on = { api = "healthy" }
`;

/** Runs the CLI on the test registry from `cwd`. */
function cliIn(cwd, ...args) {
  const r = spawnSync(portregBin(), ['--registry', reg.path, ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, PORTREG_HOME: '', PORTREG_RANGE: '' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ps(cwd) {
  const r = cliIn(cwd, 'ps', '--json');
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

const svcOf = (st, name) => st.services.find((s) => s.service === name);

const row = (name) => page.locator(`tr.entry[data-name="${name}"]`);
const svcState = (name) => row(name).locator('[data-svc-state]');
const restarts = (name) => row(name).locator('.restarts');

before(async () => {
  for (const dir of [MAIN, COPY]) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'portreg.toml'), PROJECT);
    const r = cliIn(dir, 'up', '-d');
    assert.equal(r.status, 0, `up -d in ${dir}: ${r.stdout}${r.stderr}`);
  }
  dash = await startDashboard(reg, DASH);
  browser = await launchBrowser();
  page = await openPage(browser, dash.url, pageErrors);
});

after(async () => {
  if (browser) await browser.close();
  for (const dir of [MAIN, COPY]) cliIn(dir, 'down');
  if (dash) {
    dash.child.kill('SIGTERM');
    await exited(dash.child);
  }
  killAll();
  reg.remove();
});

test('each checkout is a group with its services, their health and restarts', async () => {
  await page.locator('tr.group[data-checkout="pshop"]').waitFor({ timeout: 10000 });
  await page.locator('tr.group[data-checkout="copy.pshop"]').waitFor({ timeout: 10000 });
  const mainHead = await page.locator('tr.group[data-checkout="pshop"]').innerText();
  assert.match(mainHead, /pshop[\s\S]*main checkout/);
  assert.match(mainHead, new RegExp(`supervisor pid ${ps(MAIN).supervisor}`));
  const copyHead = await page.locator('tr.group[data-checkout="copy.pshop"]').innerText();
  assert.match(copyHead, /checkout copy/);
  assert.match(copyHead, new RegExp(`supervisor pid ${ps(COPY).supervisor}`));

  for (const [name, state] of [
    ['db.pshop', 'healthy'], ['api.pshop', 'healthy'], ['worker.pshop', 'running'],
    ['db.copy.pshop', 'healthy'], ['api.copy.pshop', 'healthy'], ['worker.copy.pshop', 'running'],
  ]) {
    await waitFor(async () => (await svcState(name).getAttribute('data-svc-state')) === state, `${name} ${state}`);
    assert.equal(await restarts(name).getAttribute('data-restarts'), '0');
  }
  // The worker has no port and no registry entry, and still has its row.
  assert.equal(getEntry(reg, 'worker.pshop'), null);
  assert.equal(await row('worker.pshop').getAttribute('data-service'), 'worker');
  // The ports: the main checkout's as asked, the copy's its own.
  const port = async (name) => (await row(name).locator('td[data-field="port"]').innerText()).trim();
  assert.equal(await port('api.pshop'), '26311');
  assert.equal(await port('api.copy.pshop'), String(svcOf(ps(COPY), 'api').port));
  assert.notEqual(await port('api.copy.pshop'), '26311');

  // Page order: each heading is followed by its own checkout's rows.
  const order = await page.locator('#rows > tr.group, #rows > tr.entry').evaluateAll((trs) => trs.map((tr) => (
    tr.classList.contains('group') ? `# ${tr.dataset.checkout}` : `${tr.dataset.checkout || '-'} ${tr.dataset.name}`)));
  const at = (s) => order.indexOf(s);
  for (const [co, names] of [['pshop', ['db.pshop', 'api.pshop', 'worker.pshop']],
    ['copy.pshop', ['db.copy.pshop', 'api.copy.pshop', 'worker.copy.pshop']]]) {
    const head = at(`# ${co}`);
    assert.ok(head >= 0, order.join('\n'));
    names.forEach((n, i) => assert.equal(order[head + 1 + i], `${co} ${n}`, order.join('\n')));
  }
  // Supervised services offer Restart and Stop instead of Release and Kill.
  assert.equal(await row('api.pshop').locator('button[data-action="restart"]').count(), 1);
  assert.equal(await row('api.pshop').locator('button[data-action="stop"]').count(), 1);
  assert.equal(await row('api.pshop').locator('button[data-action="kill"]').count(), 0);
});

test('a crash restarted by the policy shows restarts 1 without a reload, on the same port', async () => {
  const before = svcOf(ps(MAIN), 'api');
  process.kill(before.pid, 'SIGKILL');
  await waitFor(async () => (await restarts('api.pshop').getAttribute('data-restarts')) === '1', 'restarts 1');
  await waitFor(async () => (await svcState('api.pshop').getAttribute('data-svc-state')) === 'healthy', 'healthy again');
  const now = svcOf(ps(MAIN), 'api');
  assert.equal(now.port, 26311);
  assert.notEqual(now.pid, before.pid);
  assert.equal(now.restarts, 1);
  assert.equal(await page.evaluate(() => window.sameDocument), true, 'the page was not reloaded');
});

test('Restart clicked in the page: same port, a new process, restarts + 1', async () => {
  const before = svcOf(ps(MAIN), 'api');
  const dialog = page.locator('dialog#confirm');
  await row('api.pshop').locator('button[data-action="restart"]').click();
  await dialog.waitFor({ state: 'visible' });
  assert.match(await dialog.innerText(), /Restart api\.pshop\?/);
  await dialog.locator('[data-confirm]').click();
  await waitFor(async () => (await restarts('api.pshop').getAttribute('data-restarts')) === String(before.restarts + 1), 'restarts + 1', 20000);
  await waitFor(async () => /Restarted api\.pshop on port 26311: healthy/.test(await page.locator('#toasts').innerText()), 'the toast');
  const now = svcOf(ps(MAIN), 'api');
  assert.equal(now.port, 26311, 'the same port');
  assert.notEqual(now.pid, before.pid, 'a new process');
  assert.equal(now.restarts, before.restarts + 1);
  assert.ok(!isAlive(before.pid), 'the old process is gone');
  assert.equal(getEntry(reg, 'api.pshop').holder.pid, now.pid);
  assert.equal(await svcState('api.pshop').getAttribute('data-svc-state'), 'healthy');
  // The other checkout's api was left alone.
  assert.equal(svcOf(ps(COPY), 'api').restarts, 0);
});

test('Stop clicked in the page: the service stops, shows stopped, its lease is released', async () => {
  const before = svcOf(ps(COPY), 'api');
  const dialog = page.locator('dialog#confirm');
  await row('api.copy.pshop').locator('button[data-action="stop"]').click();
  await dialog.waitFor({ state: 'visible' });
  assert.match(await dialog.innerText(), /Stop api\.copy\.pshop\?/);
  await dialog.locator('[data-confirm]').click();
  await waitFor(async () => (await svcState('api.copy.pshop').getAttribute('data-svc-state')) === 'stopped', 'stopped');
  await waitFor(async () => (await row('api.copy.pshop').getAttribute('data-state')) === 'idle', 'the entry idle');
  await waitFor(() => !isAlive(before.pid), 'the process to exit', 5000);
  const now = svcOf(ps(COPY), 'api');
  assert.equal(now.state, 'stopped');
  assert.equal(now.pid, null);
  const e = getEntry(reg, 'api.copy.pshop');
  assert.equal(e.state, 'idle');
  assert.equal(e.port, before.port, 'the port stays remembered');
  assert.equal(svcOf(ps(COPY), 'db').state, 'healthy', 'only api stopped');
  // A stopped service can be started again from the page.
  assert.equal(await row('api.copy.pshop').locator('button[data-action="start"]').count(), 1);
});

test('a forged restart is refused and changes nothing; no script errors', async () => {
  const before = svcOf(ps(MAIN), 'db');
  const answers = await page.evaluate(async () => {
    const out = [];
    for (const headers of [{}, { 'X-Portreg-Token': '0'.repeat(64) }]) {
      const r = await fetch('/api/projects/pshop/services/db/restart', { method: 'POST', headers });
      out.push([r.status, (await r.json()).code]);
    }
    return out;
  });
  assert.deepEqual(answers, [[403, 'PERMISSION'], [403, 'PERMISSION']]);
  await new Promise((r) => setTimeout(r, 500));
  const now = svcOf(ps(MAIN), 'db');
  assert.equal(now.pid, before.pid);
  assert.equal(now.restarts, before.restarts);
  assert.deepEqual(pageErrors.map(String), []);
});
