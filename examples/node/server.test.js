'use strict'
// The example as a person uses it: start it, open its URL, start it again
// (told where the first one runs), stop it, start it once more (same port).

const test = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const SERVER = path.join(__dirname, 'server.js')

function start(t, env, name = 'shop') {
  const child = spawn(process.execPath, [SERVER, name], { env, signal: t.signal })
  child.on('error', () => {})
  t.after(() => child.kill('SIGKILL'))
  child.out = ''
  child.err = ''
  child.stdout.setEncoding('utf8').on('data', (d) => (child.out += d))
  child.stderr.setEncoding('utf8').on('data', (d) => (child.err += d))
  child.exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })))
  child.url = new Promise((resolve, reject) => {
    child.stdout.on('data', () => {
      const m = child.out.match(/listening at (http:\/\/127\.0\.0\.1:(\d+)) \(pid (\d+)\)/)
      if (m) resolve({ url: m[1], port: Number(m[2]), pid: Number(m[3]) })
    })
    child.exited.then((e) => reject(new Error(`exited ${JSON.stringify(e)}: ${child.err}`)))
  })
  child.url.catch(() => {}) // a copy that is meant to fail never prints a URL
  return child
}

test('the Express example leases its port by name and refuses to start twice', { timeout: 30000 }, async (t) => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'portreg-example-'))
  t.after(() => fs.rmSync(home, { recursive: true, force: true, maxRetries: 20, retryDelay: 50 }))
  const env = { ...process.env, PORTREG_HOME: home, PORTREG_RANGE: '25900-25949' }

  const first = start(t, env)
  const { url, port, pid } = await first.url
  assert.equal(pid, first.pid)
  const body = await (await fetch(url)).json()
  assert.deepEqual(body, { service: 'shop', language: 'node', port, pid })
  assert.equal(await (await fetch(`${url}/healthz`)).text(), 'ok\n')

  const second = start(t, env)
  assert.deepEqual(await second.exited, { code: 1, signal: null })
  assert.equal(second.err.trim(), `shop is already running at ${url} (pid ${pid})`)

  first.kill('SIGTERM')
  assert.deepEqual(await first.exited, { code: 0, signal: null }, 'a graceful stop')
  const leases = JSON.parse(fs.readFileSync(path.join(home, 'leases.json'), 'utf8')).leases
  assert.deepEqual(leases, [], 'released on the way out')
  await assert.rejects(fetch(url), 'nothing listens any more')

  const third = start(t, env)
  assert.equal((await third.url).port, port, 'the name keeps its port')
  third.kill('SIGINT')
  assert.deepEqual(await third.exited, { code: null, signal: 'SIGINT' }, 'Ctrl-C still stops it')
  const after = JSON.parse(fs.readFileSync(path.join(home, 'leases.json'), 'utf8')).leases
  assert.deepEqual(after, [])
})
