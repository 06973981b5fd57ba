'use strict'
// Values of the wrong type: a TypeError whose `code` is the portreg code of
// what the value stands for, through module functions, Registry methods and
// their Promise forms (which reject rather than throw); never napi's
// conversion text. Each case also proves nothing reached the registry.

const test = require('node:test')
const assert = require('node:assert/strict')

const portreg = require('..')
const { tmpRegistry } = require('./helpers')

const RANGE = '25300-25399'

// [call, code, what the message names]; `t` is a Registry or the module.
const CASES = [
  [(t, a) => t[a('lease')](42), 'INVALID_NAME', 'name'],
  [(t, a) => t[a('lease')](undefined), 'INVALID_NAME', 'name'],
  [(t, a) => t[a('lease')]({ name: 'web' }), 'INVALID_NAME', 'name'],
  [(t, a) => t[a('lease')]('web', { port: '8080', range: RANGE }), 'INVALID_PORT', 'options.port'],
  [(t, a) => t[a('lease')]('web', { range: 3000 }), 'INVALID_RANGE', 'options.range'],
  [(t, a) => t[a('lease')]('web', { range: RANGE, description: 7 }), 'INVALID_TEXT', 'options.description'],
  [(t, a) => t[a('lease')]('web', { range: RANGE, meta: { dir: 1 } }), 'INVALID_TEXT', 'options.meta["dir"]'],
  [(t, a) => t[a('lease')]('web', { range: RANGE, exact: 'yes' }), 'ERR_INVALID_ARG_TYPE', 'options.exact'],
  [(t, a) => t[a('lease')]('web', 'fast'), 'ERR_INVALID_ARG_TYPE', 'options'],
  [(t, a) => t[a('get')](null), 'INVALID_NAME', 'name'],
  [(t, a) => t[a('release')](1), 'INVALID_NAME', 'name'],
  [(t, a) => t[a('release')]('web', { force: 1 }), 'ERR_INVALID_ARG_TYPE', 'options.force'],
  [(t, a) => t[a('reserve')]('db', '5432'), 'INVALID_PORT', 'port'],
  [(t, a) => t[a('reserve')]('db'), 'INVALID_PORT', 'port'],
  [(t, a) => t[a('reserve')](5432, 5432), 'INVALID_NAME', 'name'],
  [(t, a) => t[a('forget')](['web']), 'INVALID_NAME', 'name'],
  [(t, a) => t[a('rename')]('web', 2), 'INVALID_NAME', 'newName'],
  [(t, a) => t[a('findFree')]({ range: { low: 1, high: 2 } }), 'INVALID_RANGE', 'options.range'],
  [(t, a) => t[a('who')](true), 'INVALID_NAME', 'target'],
  [(t, a) => t[a('kill')](null), 'INVALID_NAME', 'target'],
  [(t, a) => t[a('kill')]('web', { timeout: '3' }), 'ERR_INVALID_ARG_TYPE', 'options.timeout'],
  [(t, a) => t[a('env')]('web'), 'INVALID_NAME', 'names'],
  [(t, a) => t[a('env')](['web', 3]), 'INVALID_NAME', 'names[1]'],
]

function assertTypeError(err, code, what, label) {
  assert.ok(err instanceof TypeError, `${label}: a TypeError, got ${err}`)
  assert.equal(err.code, code, `${label}: ${err.message}`)
  assert.ok(err.message.startsWith(`${what} must be `), `${label}: the message names ${what}: ${err.message}`)
  assert.doesNotMatch(err.message, /Expected|rust type|napi/i, `${label}: no napi text: ${err.message}`)
}

for (const form of ['Registry', 'module']) {
  test(`wrong types are TypeErrors with portreg codes (${form}, sync and Promise forms)`, async (t) => {
    const dir = tmpRegistry(t)
    process.env.PORTREG_HOME = dir
    const target = form === 'Registry' ? new portreg.Registry(dir) : portreg
    for (const [call, code, what] of CASES) {
      const label = `${form} ${call.toString().replace(/^\(t, a\) => t\[a\('(\w+)'\)\]/, '$1')}`
      assert.throws(() => call(target, (n) => n), (err) => (assertTypeError(err, code, what, label), true), label)
      let promise
      assert.doesNotThrow(() => (promise = call(target, (n) => `${n}Async`)), `${label} (async) does not throw`)
      assert.ok(promise instanceof Promise, `${label} (async) returns a Promise`)
      await assert.rejects(promise, (err) => (assertTypeError(err, code, what, `${label} (async)`), true))
    }
    assert.deepEqual(new portreg.Registry(dir).list(), [], 'no case reached the registry')
  })
}

test('the Registry constructor, project() and runCli check their arguments too', (t) => {
  const dir = tmpRegistry(t)
  assert.throws(() => new portreg.Registry(5), (err) => (assertTypeError(err, 'ERR_INVALID_ARG_TYPE', 'path', 'Registry'), true))
  const reg = new portreg.Registry(dir)
  assert.ok(reg instanceof portreg.Registry, 'the checked constructor builds the exported class')
  assert.equal(reg.path, dir)
  assert.throws(() => portreg.project(1), (err) => (assertTypeError(err, 'ERR_INVALID_ARG_TYPE', 'path', 'project'), true))
  assert.throws(() => portreg.runCli('portreg list'), (err) => (assertTypeError(err, 'ERR_INVALID_ARG_TYPE', 'argv', 'runCli'), true))
})

test('right types go on to the core, which judges the values', (t) => {
  const reg = new portreg.Registry(tmpRegistry(t))
  assert.throws(() => reg.lease('', { range: RANGE }), (err) => !(err instanceof TypeError) && err.code === 'INVALID_NAME')
  assert.throws(() => reg.reserve('db', 70000), (err) => !(err instanceof TypeError) && err.code === 'INVALID_PORT')
  assert.throws(() => reg.findFree({ range: '9-3' }), (err) => err.code === 'INVALID_RANGE')
  const lease = reg.lease('typed', { range: RANGE, port: 25310, exact: false, meta: { dir: '/src' } })
  assert.equal(lease.port, 25310)
  assert.equal(reg.get('typed').meta.dir, '/src')
})

test("range as Node users pass it: [3000, 3100] as well as '3000-3100'", async (t) => {
  const reg = new portreg.Registry(tmpRegistry(t))
  const a = reg.lease('tuple', { range: [25340, 25349] })
  assert.ok(a.port >= 25340 && a.port <= 25349, `leased ${a.port} in [25340, 25349]`)
  const b = await reg.leaseAsync('tuple-async', { range: [25350, 25350] })
  assert.equal(b.port, 25350, 'a one-port range gives that port')
  assert.equal(reg.findFree({ range: [25351, 25351] }), 25351)
  assert.equal(await reg.findFreeAsync({ range: [25352, 25352] }), 25352)
  // The same range as a string gives the same answer.
  assert.equal(reg.findFree({ range: '25351-25351' }), 25351)
  // Several ranges, tried in order, as one string.
  assert.equal(reg.lease('listed', { range: '25355-25355,25356-25356' }).port, 25355)
  assert.equal(reg.findFree({ range: '25355-25355,25356-25356' }), 25356)
  // Values are judged by the core, exactly as the string form is.
  assert.throws(() => reg.findFree({ range: [25360, 25350] }), (err) => !(err instanceof TypeError) && err.code === 'INVALID_RANGE')
  assert.throws(() => reg.findFree({ range: [25350.5, 25360] }), (err) => err.code === 'INVALID_RANGE')
  for (const bad of [[25350], [25350, 25360, 25370], [25350, '25360'], []]) {
    assert.throws(() => reg.findFree({ range: bad }), (err) => err instanceof TypeError && err.code === 'INVALID_RANGE', JSON.stringify(bad))
  }
  const opts = { range: [25353, 25353] }
  reg.lease('kept', opts)
  assert.deepEqual(opts.range, [25353, 25353], "the caller's options object is left as it was")
})
