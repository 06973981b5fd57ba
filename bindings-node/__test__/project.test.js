'use strict'
// portreg.project(): a project's ports read from Node without starting
// anything, and the npm bin's `up`/`ps`/`down` behaving as the Rust binary.

const test = require('node:test')
const assert = require('node:assert')
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const portreg = require('..')
const { tmpRegistry, childEnv, rustCli, NPM_BIN } = require('./helpers')

const RANGE = '25600-25699'

const SERVER = `
require('http').createServer((q, r) => r.end(process.env.API_PORT || '-'))
  .listen(Number(process.env.PORT), '127.0.0.1')
`

function makeProject(t) {
  const root = path.join(tmpRegistry(t), 'shop')
  fs.mkdirSync(path.join(root, 'src'), { recursive: true })
  fs.writeFileSync(path.join(root, 'server.js'), SERVER)
  fs.writeFileSync(
    path.join(root, 'portreg.toml'),
    `project = "shop"
[services.api]
command = [${JSON.stringify(process.execPath)}, "server.js"]
health = "/"
[services.web]
command = [${JSON.stringify(process.execPath)}, "server.js"]
depends_on = ["api"]
`,
  )
  return root
}

function cli(bin, args, cwd, env) {
  const argv = bin === NPM_BIN ? [process.execPath, [NPM_BIN, ...args]] : [bin, args]
  const r = spawnSync(argv[0], argv[1], { cwd, env, encoding: 'utf8', timeout: 120000 })
  if (r.error) throw r.error
  return r
}

test('project() reads names and ports, and leases nothing', (t) => {
  const reg = tmpRegistry(t)
  const root = makeProject(t)
  const p = portreg.project(path.join(root, 'src'), reg)
  assert.strictEqual(p.name, 'shop')
  assert.strictEqual(p.label, null)
  assert.strictEqual(p.root, root)
  assert.deepStrictEqual(
    p.services.map((s) => s.name),
    ['api.shop', 'web.shop'],
  )
  assert.strictEqual(p.port('api'), null)
  assert.strictEqual(new portreg.Registry(reg).list().length, 0)
  assert.throws(() => p.port('nope'), { code: 'NOT_FOUND' })
})

test('project() finds the ports of a project the npm bin brought up', async (t) => {
  const reg = tmpRegistry(t)
  const root = makeProject(t)
  const env = childEnv(reg, RANGE)
  const up = cli(NPM_BIN, ['up', '-d'], root, env)
  assert.strictEqual(up.status, 0, up.stderr)
  try {
    const ps = JSON.parse(cli(NPM_BIN, ['ps', '--json'], root, env).stdout)
    const port = (s) => ps.services.find((x) => x.service === s).port
    const p = portreg.project(root, reg)
    assert.strictEqual(p.port('api'), port('api'))
    assert.strictEqual(p.url('web'), `http://127.0.0.1:${port('web')}`)
    assert.strictEqual(p.services.find((s) => s.service === 'api').state, 'active')
    // web was told api's port.
    const body = await (await fetch(p.url('web'))).text()
    assert.strictEqual(body, String(port('api')))
  } finally {
    const down = cli(NPM_BIN, ['down'], root, env)
    assert.strictEqual(down.status, 0, down.stderr)
  }
  assert.strictEqual(portreg.project(root, reg).services[0].state, 'idle')
})

test('a bad portreg.toml is INVALID_CONFIG everywhere', (t) => {
  const reg = tmpRegistry(t)
  const root = makeProject(t)
  fs.writeFileSync(path.join(root, 'portreg.toml'), '[services.a]\ncommand = "x"\nport = "many"\n')
  assert.throws(() => portreg.project(root, reg), { code: 'INVALID_CONFIG' })
  const env = childEnv(reg, RANGE)
  const npm = cli(NPM_BIN, ['up', '-d'], root, env)
  const rust = cli(rustCli(), ['up', '-d'], root, env)
  assert.strictEqual(npm.status, 14)
  assert.strictEqual(rust.status, 14)
  assert.strictEqual(npm.stderr, rust.stderr)
  assert.match(npm.stderr, /portreg\.toml:3:8: .*\[INVALID_CONFIG\]\n$/)
})

test('Project#port and #url take a service name: another type is a TypeError (INVALID_NAME)', (t) => {
  const root = makeProject(t)
  const p = portreg.project(root, tmpRegistry(t))
  for (const method of ['port', 'url']) {
    assert.equal(p[method]('api'), null, `${method}('api') before up: no port yet`)
    assert.throws(
      () => p[method](1),
      (err) => err instanceof TypeError && err.code === 'INVALID_NAME' && err.message === 'service must be a string, not number 1',
    )
  }
})
