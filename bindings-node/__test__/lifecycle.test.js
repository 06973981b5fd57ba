'use strict'
// Leases end with their process: released on normal exit and on
// SIGINT/SIGTERM/SIGHUP (without taking the app's own handlers away), and
// turned idle by liveness when the process is SIGKILLed. Real child processes
// and real signals; leases.json is read raw, so "released" is told apart from
// "holder died".

const test = require('node:test')
const assert = require('node:assert/strict')

const portreg = require('..')
const { tmpRegistry, leaseRecords, childEnv, startNode, waitForOutput, alive } = require('./helpers')

const RANGE = '25300-25399'
// A test whose child never exits fails here instead of hanging the suite.
const LIMIT = { timeout: 20000 }

// A child that leases `name`, prints the lease as JSON, then runs `then`.
function holder(t, dir, name, then = 'setInterval(() => {}, 1000)') {
  return startNode(
    t,
    `const l = portreg.lease(${JSON.stringify(name)});
     console.log(JSON.stringify({ name: l.name, port: l.port, pid: process.pid }));
     ${then}`,
    childEnv(dir, RANGE),
  )
}

function recordFor(dir, name) {
  return leaseRecords(dir).find((r) => r.name === name)
}

test('a lease is released when the process exits normally', LIMIT, async (t) => {
  const dir = tmpRegistry(t)
  const child = holder(t, dir, 'web', '')
  const info = await child.firstLine
  assert.deepEqual(await child.exited, { code: 0, signal: null })
  assert.equal(recordFor(dir, 'web'), undefined, 'no lease record is left behind')
  const e = new portreg.Registry(dir).get('web')
  assert.equal(e.state, 'idle')
  assert.equal(e.port, info.port, 'the name remembers its port')
})

test('a lease is released on process.exit(code), and the code is kept', LIMIT, async (t) => {
  const dir = tmpRegistry(t)
  const child = holder(t, dir, 'web', 'setTimeout(() => process.exit(7), 50)')
  await child.firstLine
  assert.deepEqual(await child.exited, { code: 7, signal: null })
  assert.equal(recordFor(dir, 'web'), undefined)
})

test('a lease is released when the process dies of an uncaught exception', LIMIT, async (t) => {
  const dir = tmpRegistry(t)
  const child = holder(t, dir, 'web', 'setTimeout(() => { throw new Error("boom") }, 50)')
  await child.firstLine
  const { code } = await child.exited
  assert.equal(code, 1)
  assert.match(child.err, /boom/, "the app's error is still reported")
  assert.equal(recordFor(dir, 'web'), undefined)
})

for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  test(`${signal} with no handler of the app: released, then the process dies of ${signal} as it would without portreg`, LIMIT, async (t) => {
    const dir = tmpRegistry(t)
    const child = holder(t, dir, 'web')
    const info = await child.firstLine
    assert.equal(recordFor(dir, 'web').holder.pid, info.pid, 'held while running')
    child.kill(signal)
    assert.deepEqual(await child.exited, { code: null, signal })
    assert.equal(recordFor(dir, 'web'), undefined, 'released before dying')
  })
}

test("the app's own SIGTERM handler still runs and decides: the process is not killed, the lease stays until it exits", LIMIT, async (t) => {
  const dir = tmpRegistry(t)
  const child = holder(
    t,
    dir,
    'web',
    `process.on('SIGTERM', () => {
       console.log('app: draining')
       setTimeout(() => { console.log('app: bye'); process.exit(0) }, 400)
     })
     setInterval(() => {}, 1000)`,
  )
  const info = await child.firstLine
  child.kill('SIGTERM')
  await waitForOutput(child, /app: draining/)
  assert.ok(alive(info.pid), 'still alive while the app drains')
  assert.equal(recordFor(dir, 'web')?.holder.pid, info.pid, 'still held while the app drains')
  assert.deepEqual(await child.exited, { code: 0, signal: null }, 'exits as the app chose')
  assert.match(child.out, /app: bye/)
  assert.equal(recordFor(dir, 'web'), undefined, 'released on the exit the app chose')
})

test('an app that ignores SIGINT keeps running and keeps its lease', LIMIT, async (t) => {
  const dir = tmpRegistry(t)
  const child = holder(
    t,
    dir,
    'web',
    `process.on('SIGINT', () => console.log('app: ignoring SIGINT'))
     setInterval(() => {}, 1000)`,
  )
  const info = await child.firstLine
  child.kill('SIGINT')
  await waitForOutput(child, /app: ignoring SIGINT/)
  await new Promise((r) => setTimeout(r, 300))
  assert.ok(alive(info.pid), 'not killed behind the app’s back')
  assert.equal(new portreg.Registry(dir).get('web').state, 'active')
  assert.equal(recordFor(dir, 'web').holder.pid, info.pid)
})

test('a handler added after the lease is respected too', LIMIT, async (t) => {
  const dir = tmpRegistry(t)
  const child = holder(
    t,
    dir,
    'web',
    `setTimeout(() => {
       process.once('SIGTERM', () => { console.log('app: late handler'); process.exitCode = 3 })
       console.log('ready')
     }, 20)
     setTimeout(() => {}, 600)`,
  )
  await child.firstLine
  await waitForOutput(child, /ready/)
  child.kill('SIGTERM')
  assert.deepEqual(await child.exited, { code: 3, signal: null })
  assert.match(child.out, /app: late handler/)
  assert.equal(recordFor(dir, 'web'), undefined)
})

test('a process that never leases keeps its signal handling untouched', LIMIT, async (t) => {
  const dir = tmpRegistry(t)
  const child = startNode(
    t,
    `portreg.list()
     console.log(JSON.stringify({ listeners: ['SIGINT', 'SIGTERM', 'SIGHUP', 'exit'].map((s) => process.listenerCount(s)) }))
     setInterval(() => {}, 1000)`,
    childEnv(dir, RANGE),
  )
  const { listeners } = await child.firstLine
  assert.deepEqual(listeners, [0, 0, 0, 0])
  child.kill('SIGTERM')
  assert.deepEqual(await child.exited, { code: null, signal: 'SIGTERM' })
})

test('a SIGKILLed holder is seen as holding, then idle; LEASE_HELD names it until then', LIMIT, async (t) => {
  const dir = tmpRegistry(t)
  const reg = new portreg.Registry(dir)
  const child = holder(t, dir, 'api')
  const info = await child.firstLine

  const held = reg.get('api')
  assert.equal(held.state, 'active')
  assert.equal(held.holder.pid, info.pid)
  assert.equal(held.port, info.port)

  assert.throws(() => reg.lease('api', { range: RANGE }), (e) => {
    assert.ok(e instanceof Error)
    assert.equal(e.code, 'LEASE_HELD')
    assert.equal(e.pid, info.pid)
    assert.equal(e.port, info.port)
    assert.equal(e.since, held.holder.since)
    assert.match(e.message, new RegExp(`http://127\\.0\\.0\\.1:${info.port}`))
    return true
  })
  await assert.rejects(reg.leaseAsync('api'), { code: 'LEASE_HELD', pid: info.pid, port: info.port })
  assert.throws(() => reg.release('api'), { code: 'NOT_HOLDER' }, 'only the holder releases')

  child.kill('SIGKILL')
  assert.deepEqual(await child.exited, { code: null, signal: 'SIGKILL' })
  assert.equal(recordFor(dir, 'api')?.holder.pid, info.pid, 'SIGKILL left its record behind')
  const after = reg.get('api')
  assert.equal(after.state, 'idle', 'liveness: the dead holder no longer counts')
  assert.equal(after.holder, null)

  const mine = reg.lease('api', { range: RANGE })
  assert.equal(mine.port, info.port, 'the name kept its port')
  assert.equal(mine.holder.pid, process.pid)
  mine.release()
})

test('clean drops the records of SIGKILLed holders and says which', LIMIT, async (t) => {
  const dir = tmpRegistry(t)
  const reg = new portreg.Registry(dir)
  const child = holder(t, dir, 'worker')
  const info = await child.firstLine
  assert.deepEqual(reg.clean(), [], 'nothing to clean while it lives')
  child.kill('SIGKILL')
  await child.exited
  assert.deepEqual(reg.clean(), [{ name: 'worker', port: info.port, pid: info.pid }])
  assert.equal(recordFor(dir, 'worker'), undefined)
  assert.deepEqual(await reg.cleanAsync(), [])
})
