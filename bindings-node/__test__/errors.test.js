'use strict'
// The shared table of bad inputs (tests/error-cases.json), asserted through
// every JS form: Registry methods, module functions, and their Promise forms.
// Each case runs against a fresh, empty registry.

const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')

const portreg = require('..')
const { ROOT, tmpRegistry } = require('./helpers')

const table = require(path.join(ROOT, 'tests', 'error-cases.json'))
// A row naming its surfaces applies to those only.
const cases = table.cases.filter((c) => !c.surfaces || c.surfaces.includes('node'))
const RANGE = '25200-25299'

// How each op of the table is spelled in JS, on a target that is either a
// Registry or the module itself; `async` picks the Promise form.
function call(target, c, async, t) {
  const fn = (name) => (async ? target[`${name}Async`] : target[name]).bind(target)
  switch (c.op) {
    case 'project': {
      // The file is the portreg.toml of a fresh folder, read from there;
      // project() is a module function of a path and a registry directory.
      const folder = tmpRegistry(t)
      require('node:fs').writeFileSync(path.join(folder, 'portreg.toml'), c.file)
      return portreg.project(folder, target === portreg ? undefined : target.path)
    }
    case 'lease': {
      const opts = {}
      if ('port' in c) opts.port = c.port
      if ('exact' in c) opts.exact = c.exact
      if ('range' in c) opts.range = c.range
      if ('description' in c) opts.description = c.description
      if ('meta' in c) opts.meta = c.meta
      return fn('lease')(c.name, opts)
    }
    case 'get':
      return fn('get')(c.name)
    case 'reserve':
      return fn('reserve')(c.name, c.port, 'description' in c ? { description: c.description } : undefined)
    case 'find_free':
      return fn('findFree')({ range: c.range })
    case 'release':
      return fn('release')(c.name)
    case 'forget':
      return fn('forget')(c.name)
    case 'rename':
      return fn('rename')(c.name, c.new)
    default:
      throw new Error(`the error table has an op this suite does not know: ${c.op}`)
  }
}

function label(c) {
  const { code, ...rest } = c
  return `${JSON.stringify(rest)} -> ${code}`
}

function assertCoded(err, c) {
  assert.ok(err instanceof Error, `${label(c)}: threw a non-Error ${err}`)
  assert.equal(err.code, c.code, `${label(c)}: ${err.message}`)
  assert.ok(err.message.length > 20, `${label(c)}: the message says what to do`)
}

test('releasing what is no longer held: the shared rule', (t) => {
  assert.equal(table.releases.cases.length, 2)
  for (const c of table.releases.cases) {
    const reg = new portreg.Registry(tmpRegistry(t))
    const then = (lease) => {
      if (c.then === 'release') assert.equal(lease.release(), true)
      else reg.forget(c.name)
    }
    let lease = reg.lease(c.name, { range: RANGE })
    then(lease)
    assert.equal(lease.release(), c.lease_release, `${c.name}: lease.release()`)
    assert.equal(lease.released, true)
    lease = reg.lease(c.name, { range: RANGE })
    then(lease)
    if (typeof c.name_release === 'boolean') {
      assert.equal(reg.release(c.name), c.name_release, `${c.name}: release(name)`)
    } else {
      assert.throws(() => reg.release(c.name), (e) => e.code === c.name_release, `${c.name}: release(name)`)
    }
  }
})

test('the table is not empty and names only known codes', () => {
  assert.ok(table.cases.length >= 10)
  const codes = new Set([
    'INVALID_NAME', 'INVALID_PORT', 'INVALID_RANGE', 'NOT_FOUND', 'LEASE_HELD', 'PORT_TAKEN',
    'PORT_BUSY', 'NO_FREE_PORT', 'NOT_HOLDER', 'REGISTRY_CORRUPT', 'REGISTRY_VERSION',
    'PERMISSION', 'IO', 'PROCESS', 'INTERNAL', 'INVALID_CONFIG', 'INVALID_TEXT', 'REGISTRY_FULL', 'LOCK_TIMEOUT',
  ])
  for (const c of table.cases) assert.ok(codes.has(c.code), label(c))
  for (const c of table.cases) {
    if (c.surfaces) assert.ok(c.surfaces.every((s) => ['cli', 'c', 'python', 'node'].includes(s)), label(c))
  }
})

for (const c of cases) {
  test(`Registry: ${label(c)}`, (t) => {
    const reg = new portreg.Registry(tmpRegistry(t))
    assert.throws(() => call(reg, c, false, t), (err) => (assertCoded(err, c), true))
  })

  // project() reads files and has no Promise form.
  if (c.op !== 'project') {
    test(`Registry, Promise form: ${label(c)}`, async (t) => {
      const reg = new portreg.Registry(tmpRegistry(t))
      await assert.rejects(call(reg, c, true, t), (err) => (assertCoded(err, c), true))
    })
  }

  test(`module functions on PORTREG_HOME: ${label(c)}`, async (t) => {
    const before = { home: process.env.PORTREG_HOME, range: process.env.PORTREG_RANGE }
    process.env.PORTREG_HOME = tmpRegistry(t)
    process.env.PORTREG_RANGE = RANGE
    try {
      assert.throws(() => call(portreg, c, false, t), (err) => (assertCoded(err, c), true))
      if (c.op !== 'project') await assert.rejects(call(portreg, c, true, t), (err) => (assertCoded(err, c), true))
    } finally {
      for (const [k, v] of [['PORTREG_HOME', before.home], ['PORTREG_RANGE', before.range]]) {
        if (v === undefined) delete process.env[k]
        else process.env[k] = v
      }
    }
  })
}

test('JS numbers that are not ports are INVALID_PORT, never truncated', (t) => {
  const reg = new portreg.Registry(tmpRegistry(t))
  for (const port of [-1, 0, 8080.5, 65536, 1e21, NaN, Infinity, -Infinity]) {
    assert.throws(() => reg.lease('ok', { port, range: RANGE }), { code: 'INVALID_PORT' }, String(port))
    assert.throws(() => reg.reserve('ok', port), { code: 'INVALID_PORT' }, String(port))
    assert.throws(() => reg.who(port), { code: 'INVALID_PORT' }, String(port))
  }
  assert.equal(reg.list().length, 0, 'nothing was written')
})

test('a registry directory that cannot be used is a coded error at construction', (t) => {
  const dir = tmpRegistry(t)
  const file = path.join(dir, 'not-a-dir')
  require('node:fs').writeFileSync(file, 'x')
  assert.throws(() => new portreg.Registry(path.join(file, 'reg')), (err) => {
    assert.ok(err instanceof Error)
    assert.ok(['IO', 'PERMISSION'].includes(err.code), `${err.code}: ${err.message}`)
    return true
  })
})
