// Takes docs/dashboard.png: a real dashboard on a throwaway registry with
// real Python and Node services (active, one not listening yet, one
// unhealthy), an idle one, a reservation, and a conflict on a reserved port.
// Usage: node screenshot.mjs [OUT.png] [--dark]
import { join } from 'node:path';
import {
  ROOT, cli, exited, killAll, launchBrowser, startDashboard, startForeignListener,
  startService, tempRegistry,
} from './lib.mjs';

const dark = process.argv.includes('--dark');
const out = process.argv.slice(2).find((a) => !a.startsWith('--')) || join(ROOT, 'docs', dark ? 'dashboard-dark.png' : 'dashboard.png');
const reg = tempRegistry();
const DASH = 26901;
let browser;
try {
  const dash = await startDashboard(reg, DASH);
  const project = (p) => `project=/home/dev/src/${p}`;
  await startService(reg, 'node', 'shop-web', '26910-26919', {
    description: 'Vite dev server, storefront', meta: [project('shop'), 'health=/health'],
  });
  await startService(reg, 'python', 'shop-api', '26920-26929', {
    description: 'FastAPI backend', meta: [project('shop'), 'health=/health'],
  });
  await startService(reg, 'python', 'auth', '26930-26939', {
    description: 'OAuth test provider', meta: [project('auth'), 'health=/health'], healthStatus: 503,
  });
  await startService(reg, 'node', 'storybook', '26940-26949', {
    description: 'Storybook (starting)', meta: [project('shop')], listen: false,
  });
  const old = await startService(reg, 'python', 'docs', '26950-26959', {
    description: 'mkdocs serve', meta: [project('handbook')],
  });
  old.child.kill('SIGKILL');
  await exited(old.child);
  cli(reg, 'reserve', 'postgres', '26965', '-d', 'Postgres 16, pinned');
  cli(reg, 'reserve', 'redis', '26966', '-d', 'Redis cache, pinned');
  await startForeignListener(26966, reg.dir, 'legacy_cache.py');

  browser = await launchBrowser();
  const page = await browser.newPage({
    viewport: { width: 1360, height: 720 },
    deviceScaleFactor: 1,
    colorScheme: dark ? 'dark' : 'light',
  });
  await page.goto(dash.url);
  await page.locator('tr.entry[data-name="redis"].conflict').waitFor({ timeout: 10000 });
  await page.locator('tr.entry[data-name="auth"] .hdot.bad').waitFor({ timeout: 10000 });
  await page.locator('tr.entry[data-name="shop-web"] .hdot.ok').waitFor({ timeout: 10000 });
  // let uptimes read a few seconds, like a page that has been open a while
  await page.waitForTimeout(2500);
  await page.screenshot({ path: out, fullPage: true });
  console.log(`wrote ${out}`);
} finally {
  if (browser) await browser.close();
  killAll();
  reg.remove();
}
