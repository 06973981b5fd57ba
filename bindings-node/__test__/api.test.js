'use strict'
// The API as an app sees it: module functions on PORTREG_HOME, the Registry
// class on an explicit path, their Promise forms, against real sockets and
// real processes.

const test = require('node:test')
const assert = require('node:assert/strict')
const net = require('node:net')
const { spawn, spawnSync } = require('node:child_process')
const path = require('node:path')

const portreg = require('..')
const { PKG, tmpRegistry, childEnv, startNode, leaseRecords } = require('./helpers')

const RANGE = '25000-25099'
const RANGE2 = '25100-25199'
const LIMIT = { timeout: 20000 }

// Module-level functions use the default registry: point it at a temp dir.
process.env.PORTREG_HOME = tmpRegistry()
process.env.PORTREG_RANGE = RANGE

function listen(port, host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.once('error', reject)
    srv.listen({ port, host, exclusive: true }, () => resolve(srv))
  })
}

const inRange = (port, range) => {
  const [lo, hi] = range.split('-').map(Number)
  return port >= lo && port <= hi
}

test('lease: a Lease with name, port, url and this process as holder', () => {
  const l = portreg.lease('web')
  assert.ok(l instanceof portreg.Lease)
  assert.equal(l.name, 'web')
  assert.ok(inRange(l.port, RANGE), `${l.port} in ${RANGE}`)
  assert.equal(l.url, `http://127.0.0.1:${l.port}`)
  assert.equal(l.holder.pid, process.pid)
  assert.equal(l.holder.exe, 'node')
  assert.equal(l.existing, false)
  assert.deepEqual(JSON.parse(JSON.stringify(l)), {
    name: 'web', port: l.port, url: l.url, holder: { ...l.holder }, existing: false,
  })

  const e = portreg.get('web')
  assert.equal(e.state, 'active')
  assert.equal(e.port, l.port)
  assert.equal(e.holder.pid, process.pid)
  assert.equal(typeof e.holder.start_time, 'number')
  assert.equal(typeof e.holder.start_ticks, 'number')
  assert.equal(typeof e.holder.boot_id, 'string')
  assert.ok(e.holder.lock, 'a lease of this process is proved alive by its lock')
  assert.deepEqual(Object.keys(e).sort(), [
    'changed', 'created', 'description', 'holder', 'listening', 'meta', 'name', 'port', 'reserved', 'state',
  ])
  assert.ok(portreg.list().some((x) => x.name === 'web' && x.state === 'active'))
})

test('leasing again from the same process returns the same lease; names are case-insensitive', () => {
  const a = portreg.lease('api')
  const b = portreg.lease('API')
  assert.equal(b.port, a.port)
  assert.equal(b.name, 'api', 'keeps the first spelling')
  assert.equal(b.existing, true)
  assert.equal(portreg.list().filter((e) => e.name.toLowerCase() === 'api').length, 1)
})

test('release makes the name idle and it keeps its port for next time', () => {
  const l = portreg.lease('sticky')
  assert.equal(l.release(), true)
  const e = portreg.get('sticky')
  assert.equal(e.state, 'idle')
  assert.equal(e.holder, null)
  assert.equal(e.port, l.port)
  assert.equal(l.release(), false, 'nothing left to release')
  assert.equal(portreg.release('sticky'), false)

  // Another name leased meanwhile does not get the remembered port.
  const other = portreg.lease('other')
  assert.notEqual(other.port, l.port)
  const again = portreg.lease('sticky')
  assert.equal(again.port, l.port)
  assert.equal(portreg.release('STICKY'), true)
  other.release()
})

test('a different process cannot take an active name; two names never share a port', async (t) => {
  // The child holds (a child asking for its parent's name would share it:
  // see the reloader rule), this process asks.
  const dir = tmpRegistry(t)
  const reg = new portreg.Registry(dir)
  const child = startNode(
    t,
    `const r = new portreg.Registry(${JSON.stringify(dir)});
     const l = r.lease('theirs', { range: ${JSON.stringify(RANGE2)} });
     console.log(JSON.stringify({ port: l.port, pid: process.pid }));
     setInterval(() => {}, 1000)`,
    childEnv(dir, null),
  )
  const theirs = await child.firstLine
  assert.throws(() => reg.lease('theirs', { range: RANGE2 }), (e) => {
    assert.equal(e.code, 'LEASE_HELD')
    assert.equal(e.pid, theirs.pid)
    assert.equal(e.port, theirs.port)
    assert.equal(e.url, `http://127.0.0.1:${theirs.port}`)
    assert.equal(e.cwd, process.cwd(), 'the child runs where this test does')
    assert.ok(e.message.includes(`/ in ${process.cwd()})`), e.message)
    return true
  })
  const mine = reg.lease('mine', { range: RANGE2, port: theirs.port })
  assert.notEqual(mine.port, theirs.port, 'a preferred port held by another name is not handed out')
})

test('options: preferred port, range, description and meta', (t) => {
  const reg = new portreg.Registry(tmpRegistry(t))
  const l = reg.lease('svc', {
    port: 25150,
    range: RANGE2,
    description: 'the service',
    meta: { project: '/src/svc', health: '/healthz' },
  })
  assert.equal(l.port, 25150)
  const e = reg.get('svc')
  assert.equal(e.description, 'the service')
  assert.deepEqual(e.meta, { project: '/src/svc', health: '/healthz' })
  const n = reg.lease('next', { range: '25160-25169' })
  assert.ok(inRange(n.port, '25160-25169'))
  for (const x of reg.list()) assert.equal(x.holder.pid, process.pid)
})

test('exact port: PORT_BUSY names the process listening outside the registry; PORT_TAKEN names the other entry', async (t) => {
  const reg = new portreg.Registry(tmpRegistry(t))
  const srv = await listen(25170)
  t.after(() => srv.close())
  assert.throws(() => reg.lease('busy', { port: 25170, exact: true }), (e) => {
    assert.equal(e.code, 'PORT_BUSY')
    assert.match(e.message, new RegExp(`pid ${process.pid}`))
    return true
  })
  const moved = reg.lease('busy', { port: 25170, range: RANGE2 })
  assert.notEqual(moved.port, 25170, 'without exact, a busy port is only a preference')

  reg.reserve('db', 25171)
  assert.throws(() => reg.lease('other', { port: 25171, exact: true }), (e) => {
    assert.equal(e.code, 'PORT_TAKEN')
    assert.match(e.message, /"db"/)
    return true
  })
})

test('an active entry says whether its port is listened on', async () => {
  const lease = portreg.lease('listens')
  assert.equal(portreg.get('listens').listening, false)
  const srv = await listen(lease.port)
  try {
    assert.equal(portreg.get('listens').listening, true)
    assert.deepEqual(portreg.list().filter((e) => e.name === 'listens').map((e) => e.listening), [true])
  } finally {
    await new Promise((resolve) => srv.close(resolve))
  }
  lease.release()
  const idle = portreg.get('listens')
  assert.equal(idle.state, 'idle')
  assert.equal(idle.listening, null)
})

test('a port bound only on ::1 counts as busy', async (t) => {
  const reg = new portreg.Registry(tmpRegistry(t))
  let srv
  try {
    srv = await listen(25172, '::1')
  } catch (e) {
    if (e.code === 'EADDRNOTAVAIL' || e.code === 'EAFNOSUPPORT') return t.skip('no IPv6 loopback here')
    throw e
  }
  t.after(() => srv.close())
  assert.throws(() => reg.lease('v6', { port: 25172, exact: true }), { code: 'PORT_BUSY' })
  assert.notEqual(reg.findFree({ range: '25172-25173' }), 25172)
})

test('rename keeps the port and the holder; a taken name or an unknown one is refused', async (t) => {
  const reg = new portreg.Registry(tmpRegistry(t))
  const lease = reg.lease('old-name', { range: RANGE2, description: 'front' })
  const e = reg.rename('old-name', 'new-name')
  assert.deepEqual([e.name, e.port, e.state, e.description], ['new-name', lease.port, 'active', 'front'])
  assert.equal(reg.get('old-name'), null)
  assert.equal(reg.get('new-name').holder.pid, process.pid)
  assert.equal((await reg.renameAsync('new-name', 'newer')).port, lease.port)
  assert.throws(() => reg.rename('old-name', 'x'), { code: 'NOT_FOUND' })
  reg.reserve('taken', 25190)
  assert.throws(() => reg.rename('newer', 'taken'), { code: 'INVALID_NAME' })
  assert.equal(reg.release('newer'), true)
})

test('reserve pins a port; lease of that name gets it; reserving twice is fine; forget removes', (t) => {
  const reg = new portreg.Registry(tmpRegistry(t))
  const r = reg.reserve('db', 25180, { description: 'postgres' })
  assert.equal(r.state, 'reserved')
  assert.equal(r.reserved, true)
  assert.equal(r.port, 25180)
  assert.equal(r.description, 'postgres')
  assert.equal(reg.reserve('db', 25180).state, 'reserved', 'same request twice')
  const l = reg.lease('db', { range: RANGE2 })
  assert.equal(l.port, 25180)
  assert.equal(reg.get('db').state, 'active')
  l.release()
  assert.equal(reg.get('db').state, 'reserved')
  const f = reg.forget('db')
  assert.equal(f.name, 'db')
  assert.equal(reg.get('db'), null)
  assert.throws(() => reg.forget('db'), { code: 'NOT_FOUND' })
})

test('release and forget of a name another process holds: NOT_HOLDER / LEASE_HELD unless forced', async (t) => {
  const dir = tmpRegistry(t)
  const reg = new portreg.Registry(dir)
  const child = startNode(
    t,
    `const l = new portreg.Registry(${JSON.stringify(dir)}).lease('theirs', { range: ${JSON.stringify(RANGE2)} });
     console.log(JSON.stringify({ port: l.port })); setInterval(() => {}, 1000)`,
    childEnv(dir, null),
  )
  await child.firstLine
  assert.throws(() => reg.release('theirs'), { code: 'NOT_HOLDER' })
  assert.throws(() => reg.forget('theirs'), { code: 'LEASE_HELD', pid: child.pid })
  assert.equal(reg.release('theirs', { force: true }), true)
  assert.equal(reg.get('theirs').state, 'idle')
  assert.equal(leaseRecords(dir).length, 0)
})

test('findFree skips ports that are listened on or held, and leases nothing', async (t) => {
  const reg = new portreg.Registry(tmpRegistry(t))
  const srv = await listen(25190)
  t.after(() => srv.close())
  // Ranges with one free port: findFree picks at random among free ones.
  assert.equal(reg.findFree({ range: '25190-25191' }), 25191)
  reg.lease('holds', { port: 25191, exact: true })
  assert.equal(reg.findFree({ range: '25190-25192' }), 25192)
  assert.equal(await reg.findFreeAsync({ range: '25190-25192' }), 25192)
  assert.equal(reg.list().length, 1, 'findFree leased nothing')
  assert.throws(() => reg.findFree({ range: '25190-25191' }), { code: 'NO_FREE_PORT' })
})

test('who names the listening process and the entry claiming the port', async (t) => {
  const reg = new portreg.Registry(tmpRegistry(t))
  const l = reg.lease('whoami', { range: RANGE2 })
  const srv = await listen(l.port)
  t.after(() => srv.close())
  const w = reg.who(l.port)
  assert.equal(w.port, l.port)
  assert.equal(w.entry.name, 'whoami')
  assert.ok(w.listeners.some((x) => x.pid === process.pid && x.addrs.includes('127.0.0.1')), JSON.stringify(w))
  assert.deepEqual(reg.who('whoami'), w)
  assert.deepEqual(await reg.whoAsync(l.port), w)
  const nobody = reg.who(25199)
  assert.deepEqual(nobody, { port: 25199, listeners: [], entry: null, hostClaims: [] })
  assert.throws(() => reg.who('nobody-here'), { code: 'NOT_FOUND' })
})

test('conflicts lists an entry whose port another process listens on', async (t) => {
  const dir = tmpRegistry(t)
  const reg = new portreg.Registry(dir)
  reg.reserve('db', 25185)
  assert.deepEqual(reg.conflicts(), [])
  const squatter = startNode(
    t,
    `require('net').createServer().listen(25185, '127.0.0.1', () => console.log('"up"'))`,
    childEnv(dir, null),
  )
  await squatter.firstLine
  const c = reg.conflicts()
  assert.equal(c.length, 1)
  assert.equal(c[0].entry.name, 'db')
  assert.deepEqual(c[0].listeners.map((x) => x.pid), [squatter.pid])
  assert.deepEqual(await reg.conflictsAsync(), c)
})

test('kill stops a name’s holder (SIGTERM), and SIGKILLs one that ignores SIGTERM', async (t) => {
  const dir = tmpRegistry(t)
  const reg = new portreg.Registry(dir)
  const polite = startNode(
    t,
    `const l = new portreg.Registry(${JSON.stringify(dir)}).lease('polite', { range: ${JSON.stringify(RANGE2)} });
     console.log(l.port); setInterval(() => {}, 1000)`,
    childEnv(dir, null),
  )
  await polite.firstLine
  const [r] = reg.kill('polite', { timeout: 5 })
  assert.equal(r.pid, polite.pid)
  assert.deepEqual(r.signals, ['SIGTERM'])
  assert.equal(r.outcome, 'exited')
  assert.deepEqual(await polite.exited, { code: null, signal: 'SIGTERM' })
  assert.equal(reg.get('polite').state, 'idle')

  const stubborn = startNode(
    t,
    `process.on('SIGTERM', () => {});
     require('net').createServer().listen(25186, '127.0.0.1', () => console.log('"up"'))`,
    childEnv(dir, null),
  )
  await stubborn.firstLine
  const reports = await reg.killAsync(25186, { timeout: 0.3 })
  assert.equal(reports.length, 1)
  assert.equal(reports[0].pid, stubborn.pid)
  assert.deepEqual(reports[0].signals, ['SIGTERM', 'SIGKILL'])
  assert.equal(reports[0].outcome, 'killed')
  assert.ok(reports[0].waited_ms >= 300)
  assert.deepEqual(await stubborn.exited, { code: null, signal: 'SIGKILL' })

  assert.throws(() => reg.kill(':0'), { code: 'INVALID_PORT' })
  assert.throws(() => reg.kill('never-seen'), { code: 'NOT_FOUND' })
  assert.throws(() => reg.kill('never-seen', { anyUser: true }), { code: 'NOT_FOUND' })
  assert.throws(() => reg.kill(25187, { timeout: -1 }), { code: 'PROCESS' })
})

test('env gives NAME_PORT and NAME_URL for active and reserved names', (t) => {
  const reg = new portreg.Registry(tmpRegistry(t))
  const l = reg.lease('my-app.web', { range: RANGE2 })
  reg.reserve('db', 25188)
  reg.lease('gone', { range: RANGE2 }).release()
  assert.deepEqual(reg.env(), {
    MY_APP_WEB_PORT: String(l.port),
    MY_APP_WEB_URL: `http://127.0.0.1:${l.port}`,
    DB_PORT: '25188',
    DB_URL: 'http://127.0.0.1:25188',
  })
  assert.deepEqual(reg.env(['db']), { DB_PORT: '25188', DB_URL: 'http://127.0.0.1:25188' })
  assert.throws(() => reg.env(['nope']), { code: 'NOT_FOUND' })
})

test('every operation has a Promise form that resolves to what the sync form returns', async (t) => {
  const reg = new portreg.Registry(tmpRegistry(t))
  const l = await reg.leaseAsync('p', { range: RANGE2 })
  assert.ok(l instanceof portreg.Lease)
  assert.deepEqual(await reg.getAsync('p'), reg.get('p'))
  assert.deepEqual(await reg.listAsync(), reg.list())
  assert.deepEqual(await reg.envAsync(), reg.env())
  assert.equal((await reg.reserveAsync('q', 25189)).state, 'reserved')
  assert.equal(await reg.releaseAsync('p'), true)
  assert.equal((await reg.forgetAsync('q')).name, 'q')
  assert.equal(await portreg.getAsync('never-seen'), null)
  assert.ok(Array.isArray(await portreg.listAsync()))
})

// Holds the registry's lock from another process (flock(1), the same lock
// the library takes) so a registry call has to wait for it.
async function holdLock(t, dir, seconds) {
  const p = spawn('flock', ['-x', path.join(dir, 'registry.lock'), '-c', `echo locked; sleep ${seconds}`])
  t.after(() => p.kill())
  await new Promise((resolve) => p.stdout.once('data', resolve))
  return p
}

test('the Promise form waits off the main thread: the event loop keeps running; the sync form blocks it', LIMIT, async (t) => {
  const dir = tmpRegistry(t)
  const reg = new portreg.Registry(dir)
  reg.list() // creates registry.lock

  await holdLock(t, dir, 0.8)
  let ticks = 0
  const timer = setInterval(() => ticks++, 10)
  let start = Date.now()
  const l = await reg.leaseAsync('waits', { range: RANGE2 })
  const asyncWaited = Date.now() - start
  clearInterval(timer)
  assert.ok(asyncWaited >= 500, `waited for the lock (${asyncWaited} ms)`)
  assert.ok(ticks >= 20, `timers ran while it waited (${ticks} ticks in ${asyncWaited} ms)`)

  await holdLock(t, dir, 0.8)
  ticks = 0
  const timer2 = setInterval(() => ticks++, 10)
  start = Date.now()
  assert.equal(reg.release('waits'), true)
  const syncWaited = Date.now() - start
  clearInterval(timer2)
  assert.ok(syncWaited >= 500, `waited for the lock (${syncWaited} ms)`)
  assert.equal(ticks, 0, 'nothing else ran while the sync call waited')
  assert.equal(l.port, reg.get('waits').port)
})

test('a Lease that is garbage-collected stays leased; its fields outlive release(); new Lease() is refused', (t) => {
  const dir = tmpRegistry(t)
  const script = `
    const portreg = require(${JSON.stringify(PKG)})
    const { setTimeout: sleep } = require('node:timers/promises')
    ;(async () => {
      const ports = []
      for (let i = 0; i < 80; i++) ports.push(portreg.lease('gc-' + i).port)
      for (let round = 0; round < 5; round++) {
        globalThis.gc()
        await sleep(20) // collected objects' FinalizationRegistry callbacks run
      }
      const held = portreg.list().filter((e) => e.state === 'active' && e.holder.pid === process.pid)
      const kept = portreg.lease('kept')
      kept.release()
      let refused = null
      try { new portreg.Lease() } catch (e) { refused = e.constructor.name + ': ' + e.message }
      console.log(JSON.stringify({
        held: held.length,
        again: portreg.lease('gc-7').port === ports[7] && portreg.lease('gc-7').existing,
        after: [kept.name, kept.port === portreg.get('kept').port, kept.released, JSON.stringify(kept).includes('"kept"')],
        refused,
      }))
    })()`
  const r = spawnSync(process.execPath, ['--expose-gc', '-e', script], { env: childEnv(dir, RANGE2), encoding: 'utf8' })
  assert.equal(r.status, 0, r.stderr)
  const out = JSON.parse(r.stdout)
  assert.equal(out.held, 80, 'every lease whose object was collected is still held by the process')
  assert.equal(out.again, true, 'leasing a collected lease\'s name again gives the same lease back')
  assert.deepEqual(out.after, ['kept', true, true, true])
  assert.match(out.refused, /^TypeError: portreg: a Lease comes from lease\(\)/)
})

test('ESM: named imports work', () => {
  const names = Object.keys(require('../index.js')).filter((k) => k !== '__napiBindingTarget')
  const r = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', `import * as m from ${JSON.stringify(path.join(PKG, 'portreg.js'))}; console.log(JSON.stringify(Object.keys(m)))`],
    { encoding: 'utf8' },
  )
  assert.equal(r.status, 0, r.stderr)
  const exported = JSON.parse(r.stdout)
  for (const n of names) assert.ok(exported.includes(n), `import { ${n} } from 'portreg'`)
})

test('module functions and Registry expose the same operations', () => {
  const ops = ['lease', 'get', 'list', 'release', 'reserve', 'forget', 'findFree', 'clean', 'who', 'conflicts', 'kill', 'env']
  for (const op of ops) {
    for (const name of [op, `${op}Async`]) {
      assert.equal(typeof portreg[name], 'function', `portreg.${name}`)
      assert.equal(typeof portreg.Registry.prototype[name], 'function', `Registry#${name}`)
    }
  }
  assert.equal(new portreg.Registry(process.env.PORTREG_HOME).path, process.env.PORTREG_HOME)
  assert.equal(new portreg.Registry().path, process.env.PORTREG_HOME, 'no path: the default registry')
})

test('a temporary lease forgets its name on release; an ordinary one stays idle', (t) => {
  const reg = new portreg.Registry(tmpRegistry(t))
  const tmp = reg.lease('fixture', { temporary: true, range: '25500-25599' })
  assert.equal(reg.get('fixture').meta['portreg.temporary'], '1')
  const kept = reg.lease('kept', { range: '25500-25599' })
  tmp.release()
  kept.release()
  assert.equal(reg.get('fixture'), null, 'forgotten, not idle')
  assert.equal(reg.get('kept').state, 'idle')
  assert.throws(() => reg.lease('x', { temporary: 'yes' }), { code: 'ERR_INVALID_ARG_TYPE' })
})
