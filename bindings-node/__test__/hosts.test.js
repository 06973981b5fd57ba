'use strict'
// Shared machines: another user's live claim on a port, as a real claim file
// owned by that user in a real sticky directory, is seen by `who` and
// `conflicts` and passed over by a lease. Needs root (to write a file owned
// by another uid): skipped otherwise.

const test = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const portreg = require('..')
const { tmpRegistry } = require('./helpers.js')

const NOBODY = 65534
const PORT = 25990
const root = process.getuid() === 0

function startTicks(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19])
}

test('another user\'s claim shows in who and conflicts, and a lease passes over it', { skip: !root && 'needs root to write a claim owned by another uid' }, (t) => {
  const base = tmpRegistry(t)
  const claims = path.join(base, 'claims')
  fs.mkdirSync(claims)
  fs.chmodSync(claims, 0o1777)
  const before = process.env.PORTREG_CLAIMS_DIR
  process.env.PORTREG_CLAIMS_DIR = claims
  t.after(() => {
    if (before === undefined) delete process.env.PORTREG_CLAIMS_DIR
    else process.env.PORTREG_CLAIMS_DIR = before
  })
  const holder = spawn('sleep', ['600'], { stdio: 'ignore' })
  t.after(() => holder.kill('SIGKILL'))
  const boot = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
  const file = path.join(claims, `${PORT}.${NOBODY}`)
  fs.writeFileSync(file, JSON.stringify({ port: PORT, uid: NOBODY, pid: holder.pid, start_ticks: startTicks(holder.pid), boot_id: boot }))
  fs.chmodSync(file, 0o644)
  fs.chownSync(file, NOBODY, NOBODY)

  const reg = new portreg.Registry(path.join(base, 'reg'))
  const w = reg.who(PORT)
  assert.equal(w.hostClaims.length, 1, JSON.stringify(w))
  const [c] = w.hostClaims
  assert.deepEqual({ ...c, user: undefined }, { port: PORT, uid: NOBODY, user: undefined, alive: true, mine: false, honoured: true })
  assert.throws(() => reg.lease('web', { range: [PORT, PORT] }), { code: 'NO_FREE_PORT' })
  assert.throws(() => reg.lease('web', { port: PORT, exact: true }), { code: 'PORT_TAKEN' })
  reg.reserve('db', PORT)
  const conflicts = reg.conflicts()
  assert.deepEqual(conflicts.map((x) => x.entry.name), ['db'])
  assert.deepEqual(conflicts[0].listeners, [])
  assert.deepEqual(conflicts[0].claimedBy.map((x) => x.uid), [NOBODY])
})
