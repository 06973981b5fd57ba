// What load.mjs and trace.mjs share: a registry of N entries leased by this
// process, a release dashboard on it, and the clean-up of both.
// Environment: PORTREG_BIN (release CLI), PORTREG_NODE (the Node package).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const require = createRequire(import.meta.url);
export const portreg = require(process.env.PORTREG_NODE);
const children = [];
const dirs = [];

/**
 * A temporary registry of `entries` names leased by this process: active
 * entries with a holder, as a busy machine's registry has; every tenth idle.
 */
export function registry(entries) {
  const dir = mkdtempSync(join(tmpdir(), 'portreg-bench-dash-'));
  dirs.push(dir);
  const path = join(dir, 'reg');
  const reg = new portreg.Registry(path);
  for (let i = 0; i < entries; i++) {
    const name = `svc-${String(i).padStart(4, '0')}`;
    reg.lease(name, { range: '28000-29999', description: `service ${i} of the load test` });
    if (i % 10 === 9) reg.release(name);
  }
  return { path, reg };
}

/** `portreg dashboard` on `reg` and `port`, once it says where it listens. */
export async function dashboard(reg, port) {
  const child = spawn(process.env.PORTREG_BIN, ['--registry', reg.path, 'dashboard', '--port', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PORTREG_HOME: '', PORTREG_RANGE: '' },
  });
  children.push(child);
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the dashboard did not start')), 15000);
    createInterface({ input: child.stdout }).once('line', () => { clearTimeout(timer); resolve(); });
    child.once('exit', (c) => reject(new Error(`the dashboard exited ${c}`)));
  });
  return { child, port, url: `http://127.0.0.1:${port}/` };
}

/** Stops a dashboard and waits for it: it releases its own lease on the way out. */
export function stop(dash) {
  if (dash.child.exitCode !== null || dash.child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => { dash.child.once('exit', resolve); dash.child.kill('SIGTERM'); });
}

/** Kills what is left and removes the registries. */
export function cleanup() {
  for (const c of children) { try { c.kill('SIGKILL'); } catch { /* gone */ } }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
