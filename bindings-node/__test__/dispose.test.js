'use strict'
// A lease is disposable: `using lease = portreg.lease('web')` (TypeScript
// 5.2+, JavaScript where `using` exists) releases it when the block ends.
// Node 20 cannot parse `using`, so the disposers are called as it would.

const test = require('node:test')
const assert = require('node:assert/strict')

const portreg = require('..')
const { leaseRecords, tmpRegistry } = require('./helpers')

const RANGE = '25400-25499'
const dispose = Symbol.dispose ?? Symbol.for('nodejs.dispose')
const asyncDispose = Symbol.asyncDispose ?? Symbol.for('nodejs.asyncDispose')

test('Symbol.dispose releases the lease: the name turns idle and keeps its port', (t) => {
  const dir = tmpRegistry(t)
  const reg = new portreg.Registry(dir)
  const lease = reg.lease('scoped', { range: RANGE })
  assert.equal(typeof lease[dispose], 'function')
  assert.equal(reg.get('scoped').state, 'active')
  assert.equal(lease[dispose](), undefined)
  assert.equal(lease.released, true)
  const entry = reg.get('scoped')
  assert.equal(entry.state, 'idle')
  assert.equal(entry.port, lease.port)
  assert.equal(leaseRecords(dir).length, 0, 'no lease record left in leases.json')
  // Disposing twice (or after release()) is harmless, as `using` may do.
  assert.doesNotThrow(() => lease[dispose]())
})

test('Symbol.asyncDispose releases it too, resolving once released', async (t) => {
  const dir = tmpRegistry(t)
  const reg = new portreg.Registry(dir)
  const lease = await reg.leaseAsync('scoped-async', { range: RANGE })
  const done = lease[asyncDispose]()
  assert.ok(done instanceof Promise)
  assert.equal(await done, undefined)
  assert.equal(lease.released, true)
  assert.equal(reg.get('scoped-async').state, 'idle')
  assert.equal(leaseRecords(dir).length, 0, 'no lease record left in leases.json')
})
