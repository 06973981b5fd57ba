'use strict'
// Many processes lease at the same instant from one registry: Node processes
// (sync and Promise forms) and `portreg lease` CLI processes (the Rust binary
// and the npm bin). No two names may get the same port, and every port a
// Node peer got must really be bindable.

const test = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const { setMaxListeners } = require('node:events')

const portreg = require('..')
const { PKG, NPM_BIN, tmpRegistry, rustCli, childEnv } = require('./helpers')

const RANGE = '25500-25799'
const NODE_PEERS = 6
const NAMES_PER_NODE_PEER = 3
const CLI_PEERS = 8 // half the Rust binary, half the npm bin

// Every peer is a process that, at `startAt` (ms since the epoch), leases and
// prints one JSON line per lease: {"name", "port", "pid" (the holder)}. A
// Node peer also binds each port and keeps its leases until the test ends.
//
// Python peers join here: a `pythonPeer(i, dir, startAt)` like `nodePeer`,
// returning { kind: 'python', cmd: <.venv/bin/python>, args: ['-c', script],
// names }, where the script waits until startAt, then for
// each name runs `l = portreg.Registry(dir).lease(name)` and prints
// json.dumps({"name": l.name, "port": l.port, "pid": l.holder.pid}) with
// flush=True, then sleeps until stdin closes; add its peers to `running`
// next to the Node ones and count them in `expected`.
function nodePeer(i, dir, startAt) {
  const names = Array.from({ length: NAMES_PER_NODE_PEER }, (_, k) => `node-${i}-${k}`)
  const script = `
    const portreg = require(${JSON.stringify(PKG)});
    const net = require('net');
    const reg = new portreg.Registry(${JSON.stringify(dir)});
    process.stdin.on('end', () => process.exit(0)).resume();
    setTimeout(async () => {
      for (const [k, name] of ${JSON.stringify(names)}.entries()) {
        const l = k % 2 ? await reg.leaseAsync(name) : portreg.lease(name);
        const bound = await new Promise((ok) => {
          const s = net.createServer().once('error', () => ok(false));
          s.listen({ port: l.port, host: '127.0.0.1', exclusive: true }, () => ok(true));
        });
        console.log(JSON.stringify({ name: l.name, port: l.port, pid: l.holder.pid, bound }));
      }
    }, ${startAt} - Date.now());`
  return { kind: 'node', cmd: process.execPath, args: ['-e', script], names }
}

function cliPeer(i, rust) {
  const name = `cli-${i}`
  const cmd = i % 2 ? process.execPath : rust
  const args = i % 2 ? [NPM_BIN, 'lease', name, '--json'] : ['lease', name, '--json']
  return { kind: i % 2 ? 'npm-bin' : 'rust-cli', cmd, args, names: [name], cli: true }
}

function start(peer, env, t) {
  const child = spawn(peer.cmd, peer.args, { env, stdio: ['pipe', 'pipe', 'pipe'], signal: t.signal })
  child.on('error', () => {})
  t.after(() => child.kill('SIGKILL'))
  let out = ''
  let err = ''
  child.stdout.setEncoding('utf8').on('data', (d) => (out += d))
  child.stderr.setEncoding('utf8').on('data', (d) => (err += d))
  const leases = new Promise((resolve, reject) => {
    const check = () => {
      if (peer.cli) return
      const lines = out.split('\n').filter(Boolean)
      if (lines.length >= peer.names.length) resolve(lines.map((l) => JSON.parse(l)))
    }
    child.stdout.on('data', check)
    child.on('close', (code) => {
      if (peer.cli && code === 0) {
        const e = JSON.parse(out)
        resolve([{ name: e.name, port: e.port, pid: e.holder.pid }])
      } else reject(new Error(`${peer.kind} ${peer.names} exited ${code}: ${err}`))
    })
  })
  return leases
}

test('Node and CLI processes leasing at once from one registry never share a port', { timeout: 60000 }, async (t) => {
  const dir = tmpRegistry(t)
  const env = childEnv(dir, RANGE)
  const rust = rustCli()
  setMaxListeners(NODE_PEERS + CLI_PEERS + 4, t.signal) // one abort listener per child
  const startAt = Date.now() + 3000

  const nodePeers = Array.from({ length: NODE_PEERS }, (_, i) => nodePeer(i, dir, startAt))
  const cliPeers = Array.from({ length: CLI_PEERS }, (_, i) => cliPeer(i, rust))
  const running = nodePeers.map((p) => start(p, env, t))
  // CLI processes start in milliseconds: launch them at the same instant.
  await new Promise((r) => setTimeout(r, startAt - Date.now() - 20))
  running.push(...cliPeers.map((p) => start(p, env, t)))

  const leases = (await Promise.all(running)).flat()
  const expected = NODE_PEERS * NAMES_PER_NODE_PEER + CLI_PEERS
  assert.equal(leases.length, expected)

  const byPort = new Map()
  for (const l of leases) {
    assert.ok(!byPort.has(l.port), `port ${l.port} given to both ${byPort.get(l.port)} and ${l.name}`)
    byPort.set(l.port, l.name)
  }
  for (const l of leases.filter((x) => 'bound' in x)) assert.ok(l.bound, `${l.name} could bind ${l.port}`)

  // The registry agrees: every name active, held by whoever leased it, on the
  // port it was told; no port twice.
  const entries = new portreg.Registry(dir).list()
  assert.equal(entries.length, expected)
  assert.equal(new Set(entries.map((e) => e.port)).size, expected)
  for (const l of leases) {
    const e = entries.find((x) => x.name === l.name)
    assert.equal(e.state, 'active', l.name)
    assert.equal(e.port, l.port, l.name)
    assert.equal(e.holder.pid, l.pid, l.name)
  }
  for (const l of leases.filter((x) => x.name.startsWith('cli-'))) {
    assert.equal(l.pid, process.pid, 'a CLI lease is held by the process that ran the CLI')
  }
})
