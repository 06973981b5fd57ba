// One racer in Node: asks a tool for a port when told "go", binds it 500 ms
// later. Usage: node worker.mjs TOOL INDEX BASE SCRATCH (see worker.py).
// Tools: get-port, portfinder, detect-port, portreg-node.
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { createRequire } from 'node:module';

const [tool, indexS, baseS, scratch] = process.argv.slice(2);
const index = Number(indexS), base = Number(baseS), high = base + 199;
const name = `race-${index}`;
const require = createRequire(path.join(process.env.PEERS_DIR || process.cwd(), 'package.json'));

let ask;
if (tool === 'get-port') {
  const { default: getPort, portNumbers } = await import(require.resolve('get-port'));
  ask = () => getPort({ port: portNumbers(base, high) });
} else if (tool === 'portfinder') {
  const portfinder = require('portfinder');
  ask = () => portfinder.getPortPromise({ port: base, stopPort: high });
} else if (tool === 'detect-port') {
  const { detect } = await import(require.resolve('detect-port'));
  ask = () => detect(base);
} else if (tool === 'portreg-node') {
  const portreg = require(process.env.PORTREG_NODE);
  const reg = new portreg.Registry(path.join(scratch, 'registry'));
  ask = async () => reg.lease(name, { range: `${base}-${high}` }).port;
} else {
  console.error(`unknown tool ${tool}`);
  process.exit(2);
}

const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
console.log('ready');
await lines.next();
const t0 = performance.now();
let port = null, error = null;
try { port = await ask(); } catch (e) { error = String(e); }
const latency = performance.now() - t0;
await new Promise((r) => setTimeout(r, Math.max(0, 500 - (performance.now() - t0))));
const bind = await new Promise((resolve) => {
  if (!port) return resolve(false);
  const srv = net.createServer();
  srv.once('error', () => resolve(false));
  srv.listen({ port, host: '127.0.0.1' }, () => resolve(true));
});
console.log(JSON.stringify({ port, latency_ms: latency, bind, error }));
await lines.next();
process.exit(0);
