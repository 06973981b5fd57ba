'use strict'
// Median time of one call, sync and Promise form, on a temporary registry:
// re-leasing a known name, releasing it, listing.
//
//   node bench/calls.js [RUNS]     (default 300)

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const RUNS = Number(process.argv[2] || 300)
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portreg-bench-'))
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }))
const portreg = require('..')
const reg = new portreg.Registry(dir)

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1]
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6

async function main() {
  const t = { 'lease (known name)': [], 'lease.release()': [], 'list()': [], 'await leaseAsync': [], 'await listAsync': [] }
  reg.lease('bench', { range: '25000-25099' }).release() // the name exists from here on: no fsync per lease
  for (let i = 0; i < RUNS; i++) {
    let t0 = process.hrtime.bigint()
    const l = reg.lease('bench')
    t['lease (known name)'].push(ms(t0))
    t0 = process.hrtime.bigint()
    l.release()
    t['lease.release()'].push(ms(t0))
    t0 = process.hrtime.bigint()
    reg.list()
    t['list()'].push(ms(t0))
    t0 = process.hrtime.bigint()
    const la = await reg.leaseAsync('bench')
    t['await leaseAsync'].push(ms(t0))
    la.release()
    t0 = process.hrtime.bigint()
    await reg.listAsync()
    t['await listAsync'].push(ms(t0))
  }
  console.log(`node ${process.version}, ${RUNS} calls each, medians:`)
  for (const [k, xs] of Object.entries(t)) console.log(`  ${k.padEnd(20)} ${median(xs).toFixed(3).padStart(7)} ms`)
}
main()
