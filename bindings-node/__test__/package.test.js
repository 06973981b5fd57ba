'use strict'
// The package as its users load it: `require('portreg')` and
// `import ... from 'portreg'` through package.json's `exports` (resolved here
// by the package's own name), the internal files kept out of reach, and the
// types of both entries checked by tsc as an ES module app would use them.

const test = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const { PKG } = require('./helpers')
const manifest = require('../package.json')

// Runs an ES module snippet with its folder inside the package, so 'portreg'
// resolves through the package's own exports map.
function esm(code) {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: PKG, encoding: 'utf8' })
  assert.equal(r.status, 0, r.stderr)
  return JSON.parse(r.stdout)
}

test("require('portreg') and import 'portreg' are one module", () => {
  const cjs = require('portreg')
  assert.equal(cjs, require('..'), "require('portreg') is the package entry")
  const cjsNames = Object.keys(cjs).sort()
  assert.deepEqual(cjsNames.filter((k) => /^(__|Js[A-Z])/.test(k)), [], 'no internal name on the module')
  const out = esm(`
    import { createRequire } from 'node:module'
    import portreg, * as named from 'portreg'
    const cjs = createRequire(process.cwd() + '/')('portreg')
    console.log(JSON.stringify({
      same: portreg === cjs,
      sameLease: named.lease === cjs.lease && named.Registry === cjs.Registry,
      names: Object.keys(named).filter((k) => k !== 'default').sort(),
    }))`)
  assert.equal(out.same, true, 'the default export is the CommonJS module, not a copy')
  assert.equal(out.sameLease, true, 'named exports are the CommonJS functions and classes')
  assert.deepEqual(out.names, cjsNames, 'every public name is a named export of the ES module entry')
})

test('the generated loader is not importable: only the entries, which hook exit', () => {
  for (const spec of ['portreg/index.js', 'portreg/index', 'portreg/portreg.js', 'portreg/bin/portreg.js']) {
    assert.throws(() => require(spec), { code: 'ERR_PACKAGE_PATH_NOT_EXPORTED' }, spec)
  }
  const codes = esm(`
    const codes = []
    for (const spec of ['portreg/index.js', 'portreg/portreg.mjs']) {
      try { await import(spec); codes.push('imported ' + spec) } catch (e) { codes.push(e.code) }
    }
    console.log(JSON.stringify(codes))`)
  assert.deepEqual(codes, ['ERR_PACKAGE_PATH_NOT_EXPORTED', 'ERR_PACKAGE_PATH_NOT_EXPORTED'])
  assert.equal(require('portreg/package.json').version, manifest.version)
})

test('engines names the Node versions the suite runs on', () => {
  assert.equal(manifest.type, 'commonjs')
  const min = Number(/^>= ?(\d+)$/.exec(manifest.engines.node)?.[1])
  assert.ok(min >= 20, `engines.node ${manifest.engines.node}: napi4 and node:test need 20`)
  assert.ok(Number(process.versions.node.split('.')[0]) >= min, `Node ${process.version} satisfies ${manifest.engines.node}`)
})

test('types: an ES module app and a CommonJS app (module nodenext) type-check', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portreg-types-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  fs.mkdirSync(path.join(dir, 'node_modules'))
  fs.symlinkSync(PKG, path.join(dir, 'node_modules', 'portreg'))
  fs.writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}\n')
  fs.writeFileSync(
    path.join(dir, 'app.mts'),
    `import portreg, { lease, Registry, type Lease, type Entry } from 'portreg'
const l: Lease = lease('web', { port: 8080 })
const port: number = l.port
const e: Entry | null = portreg.get('web')
const r: Registry = new portreg.Registry('/tmp/x')
// @ts-expect-error: lease takes a name
lease(42)
console.log(port, e, r.path)
`,
  )
  fs.writeFileSync(
    path.join(dir, 'app.cts'),
    `import portreg = require('portreg')
const port: number = portreg.lease('web').port
// @ts-expect-error: reserve takes a port number
portreg.reserve('db', '5432')
console.log(port)
`,
  )
  fs.writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        target: 'es2022',
        module: 'nodenext',
        moduleResolution: 'nodenext',
        types: ['node'],
        typeRoots: [path.join(PKG, 'node_modules', '@types')],
      },
      files: ['app.mts', 'app.cts'],
    }),
  )
  const r = spawnSync(path.join(PKG, 'node_modules', '.bin', 'tsc'), ['-p', dir], { encoding: 'utf8' })
  assert.equal(r.status, 0, r.stdout + r.stderr)
})

test('the public types name every public export of the native module, and nothing internal', () => {
  const read = (f) => fs.readFileSync(path.join(PKG, f), 'utf8')
  const generated = read('index.d.ts')
  assert.doesNotMatch(generated, /\bJs[A-Z]\w*/, 'index.d.ts names no Rust type (JsLease...)')
  const declared = [...generated.matchAll(/^export (?:declare )?(?:class|interface|function|const|type) (\w+)/gm)].map((m) => m[1])
  const publicTypes = read('portreg.d.ts')
  const listed = new Set([...publicTypes.matchAll(/^export (?:type )?\{([^}]*)\} from '\.\/index'/gm)].flatMap((m) => m[1].split(',').map((s) => s.trim()).filter(Boolean)))
  for (const name of new Set(declared)) {
    if (name === '__napiBindingTarget') assert.ok(!listed.has(name), 'portreg.d.ts leaves out __napiBindingTarget')
    else assert.ok(listed.has(name), `portreg.d.ts exports ${name} (declared in index.d.ts)`)
  }
  assert.doesNotMatch(publicTypes, /export \*/, 'no wholesale re-export that would carry internal names along')
  // Every value the types promise exists at runtime, and nothing else does.
  const values = [...generated.matchAll(/^export declare (?:class|function) (\w+)/gm)].map((m) => m[1]).sort()
  assert.deepEqual(Object.keys(require('portreg')).sort(), [...new Set(values)])
})

test('npm ci on this Node version: no dev dependency asks for a newer Node (EBADENGINE)', (t) => {
  // The lockfile is what `npm ci` installs; a dry run in a copy reads it
  // (and each locked package's engines) without touching node_modules.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portreg-engines-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  for (const f of ['package.json', 'package-lock.json']) fs.copyFileSync(path.join(PKG, f), path.join(dir, f))
  const r = spawnSync('npm', ['ci', '--dry-run', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: dir, encoding: 'utf8' })
  assert.equal(r.status, 0, r.stdout + r.stderr)
  assert.doesNotMatch(r.stdout + r.stderr, /EBADENGINE/, `npm ci warns on Node ${process.version}`)
})

test('without a native module for this platform, require names the platform package to install', (t) => {
  // The package's JavaScript alone, as npm leaves it when the optional
  // platform package was not installed: no .node file, no portreg-linux-*.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portreg-noplatform-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  for (const f of ['package.json', 'portreg.js', 'native.js', 'index.js', 'args.js']) {
    fs.copyFileSync(path.join(PKG, f), path.join(dir, f))
  }
  const env = { ...process.env }
  delete env.NAPI_RS_NATIVE_LIBRARY_PATH
  const r = spawnSync(
    process.execPath,
    ['-e', "try { require('./portreg.js') } catch (e) { console.log(JSON.stringify({ code: e.code, platform: e.platform, message: e.message })) }"],
    { cwd: dir, env, encoding: 'utf8' },
  )
  assert.equal(r.status, 0, r.stderr)
  const error = JSON.parse(r.stdout)
  const platform = `linux-${process.arch}-${process.report.getReport().header.glibcVersionRuntime ? 'gnu' : 'musl'}`
  assert.equal(error.code, 'PORTREG_NATIVE_MISSING')
  assert.equal(error.platform, platform)
  assert.match(error.message, new RegExp(`npm install portreg-${platform}@${manifest.version.replace(/\./g, '\\.')}$`))
  const prebuilt = fs.readdirSync(path.join(PKG, 'npm')).sort()
  assert.deepEqual(prebuilt, manifest.napi.targets.map((t) => {
    const [arch, , os, abi] = t.split('-')
    return `${os}-${{ x86_64: 'x64', aarch64: 'arm64' }[arch]}-${abi}`
  }).sort(), 'one npm/ folder per napi target')
})
