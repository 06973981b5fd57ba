'use strict'
// How much `require('portreg')` adds to a Node process: runs `node -e ""` and
// `node -e "require(PKG)"` alternately, RUNS times each, and prints the
// medians and their difference; then the time require() itself takes, timed
// inside the process (less noisy than whole-process timings on a busy box).
//
//   node bench/require.js [RUNS]     (default 100)

const { spawnSync } = require('node:child_process')
const path = require('node:path')

const RUNS = Number(process.argv[2] || 100)
const PKG = JSON.stringify(path.resolve(__dirname, '..'))
const cases = {
  'node -e ""': '',
  'node -e "require(\'portreg\')"': `require(${PKG})`,
}

function once(code) {
  const t0 = process.hrtime.bigint()
  const r = spawnSync(process.execPath, ['-e', code], { stdio: 'inherit' })
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  if (r.status !== 0) throw new Error(`node -e ${JSON.stringify(code)} exited ${r.status}`)
  return ms
}

function inside() {
  const code = `const t = process.hrtime.bigint(); require(${PKG}); console.log(Number(process.hrtime.bigint() - t) / 1e6)`
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(r.stderr)
  return Number(r.stdout)
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return (s[(s.length - 1) >> 1] + s[s.length >> 1]) / 2
}

const times = Object.fromEntries(Object.keys(cases).map((k) => [k, []]))
const inner = []
for (const code of Object.values(cases)) once(code) // warm the page cache
for (let i = 0; i < RUNS; i++) {
  for (const [k, code] of Object.entries(cases)) times[k].push(once(code))
  inner.push(inside())
}
const [base, req] = Object.values(times).map(median)
console.log(`node ${process.version}, ${RUNS} runs each, medians:`)
for (const [k, xs] of Object.entries(times)) console.log(`  ${k.padEnd(30)} ${median(xs).toFixed(1).padStart(6)} ms`)
console.log(`  difference                     ${(req - base).toFixed(1).padStart(6)} ms`)
console.log(`  require() timed inside node    ${median(inner).toFixed(1).padStart(6)} ms`)
