'use strict'
// Shared by the suites: temporary registries (never ~/.portreg), child
// processes that hold leases, and the two CLIs under comparison.

const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const PKG = path.resolve(__dirname, '..')
const ROOT = path.resolve(PKG, '..')
const NPM_BIN = path.join(PKG, 'bin', 'portreg.js')

/** A fresh registry directory, removed when the test process ends. */
function tmpRegistry(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portreg-node-'))
  // A child that is still exiting may be releasing its lease (writing into
  // the directory) while this runs: retry instead of failing on ENOTEMPTY.
  const remove = () => fs.rmSync(dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 50 })
  if (t) t.after(remove)
  else process.on('exit', remove)
  return dir
}

/** The raw lease records of `leases.json`, read without the library (so no
 *  liveness pruning hides whether a lease was released or merely died). */
function leaseRecords(dir) {
  let text
  try {
    text = fs.readFileSync(path.join(dir, 'leases.json'), 'utf8')
  } catch (e) {
    if (e.code === 'ENOENT') return []
    throw e
  }
  return text.trim() === '' ? [] : JSON.parse(text).leases
}

/** The Rust `portreg` binary (built by `cargo build -p portreg-cli`). */
function rustCli() {
  const candidates = [
    process.env.PORTREG_CLI_BIN,
    path.join(ROOT, 'target', 'x86_64-unknown-linux-gnu', 'debug', 'portreg'),
    path.join(ROOT, 'target', 'debug', 'portreg'),
  ].filter(Boolean)
  const found = candidates.find((c) => fs.existsSync(c))
  if (!found) {
    throw new Error(
      `no portreg binary at ${candidates.join(' or ')}: build it with \`cargo build -p portreg-cli\` (or set PORTREG_CLI_BIN)`,
    )
  }
  return found
}

/** Environment for children: the given registry and range, nothing inherited
 *  that could point them at another registry. */
function childEnv(dir, range, extra = {}) {
  const env = { ...process.env, PORTREG_HOME: dir, ...extra }
  if (range) env.PORTREG_RANGE = range
  else delete env.PORTREG_RANGE
  return env
}

/**
 * Starts `node -e script` with `require('portreg')` available as `portreg`.
 * `child.firstLine` resolves once it printed a line (parsed as JSON when it
 * is). The child is SIGKILLed when test `t` ends, whatever the outcome.
 */
function startNode(t, script, env) {
  // The child dies with the test: on its timeout (t.signal), at its end
  // (t.after), or when the test process itself goes (stdin closes).
  const prelude = `const portreg = require(${JSON.stringify(PKG)});
process.stdin.on('end', () => process.kill(process.pid, 'SIGKILL')).resume().unref();
`
  const child = spawn(process.execPath, ['-e', prelude + script], {
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
    signal: t.signal,
    killSignal: 'SIGKILL',
  })
  child.on('error', () => {})
  child.out = ''
  child.err = ''
  child.stdout.setEncoding('utf8')
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (d) => (child.err += d))
  child.exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }))
  })
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  child.firstLine = new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      child.out += d
      const nl = child.out.indexOf('\n')
      if (nl >= 0) {
        const line = child.out.slice(0, nl)
        try {
          resolve(JSON.parse(line))
        } catch {
          resolve(line)
        }
      }
    })
    child.exited.then(({ code, signal }) =>
      reject(new Error(`child exited (${code ?? signal}) before printing a line; stderr: ${child.err}`)),
    )
  })
  return child
}

/** Waits for a child's next stdout line matching `re`. */
function waitForOutput(child, re, ms = 10000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re}; got: ${child.out}`)), ms)
    const check = () => {
      if (re.test(child.out)) {
        clearTimeout(timer)
        child.stdout.off('data', check)
        resolve(child.out)
      }
    }
    child.stdout.on('data', check)
    check()
  })
}

/** Runs a CLI to completion: { status, signal, stdout, stderr }. */
function run(cmd, args, env) {
  const r = spawnSync(cmd, args, { env, encoding: 'utf8' })
  if (r.error) throw r.error
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr }
}

/** True while `pid` exists. */
function alive(pid) {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

module.exports = {
  PKG,
  ROOT,
  NPM_BIN,
  tmpRegistry,
  leaseRecords,
  rustCli,
  childEnv,
  startNode,
  waitForOutput,
  run,
  alive,
}
