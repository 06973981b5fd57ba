// Lease + release of a known name from Node, module-level and on a kept
// Registry, against a server listening on port 0 and get-port, in
// alternating blocks of 100 in this one process (bench/report.py runs it; a
// script of its own, so the lease's holder record carries the command line
// an application's would).
// Usage: node roundtrip.js SCRATCH_DIR
//   -> "registry <us> module <us> net-listen-0 <us> get-port <us>" (medians)
const path = require('path');
const net = require('net');
const d = process.argv[2];
process.env.PORTREG_HOME = path.join(d, 'module');
process.env.PORTREG_RANGE = '12000-12999';
const portreg = require(process.env.PORTREG_NODE);
const probe = () => new Promise((resolve, reject) => {
  const s = net.createServer();
  s.on('error', reject);
  s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
});
(async () => {
  const getPort = (await import(path.join(process.env.PEERS_DIR, 'node_modules/get-port/index.js'))).default;
  const reg = new portreg.Registry(path.join(d, 'kept'));
  const ways = {
    registry: () => reg.lease('bench-js', { range: '12000-12999' }).release(),
    module: () => portreg.lease('bench-js-module').release(),
    'net-listen-0': probe,
    'get-port': () => getPort(),
  };
  const t = Object.fromEntries(Object.keys(ways).map((k) => [k, []]));
  for (const f of Object.values(ways)) await f();
  for (let r = 0; r < 30; r++) {
    for (const [k, f] of Object.entries(ways)) {
      for (let i = 0; i < 100; i++) {
        const a = process.hrtime.bigint();
        await f();
        t[k].push(Number(process.hrtime.bigint() - a) / 1000);
      }
    }
  }
  const med = (v) => v.sort((x, y) => x - y)[v.length >> 1];
  console.log(Object.entries(t).map(([k, v]) => `${k} ${med(v).toFixed(1)}`).join(' '));
})();
