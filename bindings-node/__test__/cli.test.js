'use strict'
// The npm package's `portreg` bin runs the same CLI as the Rust binary: the
// same commands, run by each on twin registries, give the same stdout, stderr
// and exit status.

const test = require('node:test')
const assert = require('node:assert/strict')

const { NPM_BIN, tmpRegistry, rustCli, childEnv, run } = require('./helpers')

const R = '25400-25449'

// Each step: the arguments, and what the Rust binary must do (so the
// comparison is never between two identical failures).
const steps = [
  [[], { status: 2, stderr: /Usage: portreg/ }],
  [['--version'], { status: 0, stdout: /^portreg \d+\.\d+\.\d+/ }],
  [['--help'], { status: 0, stdout: /Named port leases|portreg gives each named service/ }],
  [['list'], { status: 0, stdout: /no names are held or reserved/ }],
  [['list', '--json'], { status: 0, stdout: /^\[\]/ }],
  [['get', 'missing'], { status: 1, stderr: /not in the registry/ }],
  [['get', 'bad name'], { status: 2, stderr: /INVALID_NAME/ }],
  [['lease', 'web', '--range', R, '-d', 'front end'], { status: 0, stdout: /^254\d\d\n$/ }],
  [['lease', 'web', '--range', R], { status: 0, stdout: /^254\d\d\n$/ }],
  [['get', 'web'], { status: 0, stdout: /^254\d\d\n$/ }],
  [['get', 'web', '--json'], { status: 0, stdout: /"state": "active"/ }],
  [['list'], { status: 0, stdout: /web\s+254\d\d\s+active/ }],
  [['list', '--all', '--json'], { status: 0, stdout: /"holder": \{/ }],
  [['reserve', 'db', '25450', '-d', 'postgres'], { status: 0, stdout: /reserved db on port 25450/ }],
  [['lease', 'x', '--port', '99999'], { status: 2, stderr: /INVALID_PORT/ }],
  [['lease', 'other', '--port', '25450', '--exact'], { status: 4, stderr: /PORT_TAKEN/ }],
  [['env'], { status: 0, stdout: /WEB_PORT=/ }],
  [['env', '--format', 'json'], { status: 0, stdout: /"DB_PORT"/ }],
  [['env', '--format', 'dotenv', 'db'], { status: 0, stdout: /DB_PORT=/ }],
  [['who', '25450'], { status: 0, stdout: /db/ }],
  [['who', 'web', '--json'], { status: 0, stdout: /"entry"/ }],
  [['conflicts'], { status: 0 }],
  // One port: with more, find picks at random among the free ones.
  [['find', '--range', '25448-25448'], { status: 0, stdout: /^25448\n$/ }],
  [['release', 'web'], { status: 0, stdout: /released web/ }],
  [['release', 'web'], { status: 1, stderr: /nothing to do/ }],
  [['clean'], { status: 0 }],
  [['forget', 'db'], { status: 0, stdout: /forgot db/ }],
  [['forget', 'db'], { status: 1, stderr: /NOT_FOUND/ }],
  [['kill', 'never-seen'], { status: 1, stderr: /NOT_FOUND/ }],
  [['run', 'job', '--range', R, '--', 'sh', '-c', 'echo "port=$PORT"; exit 3'], { status: 3, stdout: /port=254\d\d/ }],
  [['list', '--all'], { status: 0, stdout: /job\s+254\d\d\s+idle/ }],
  [['no-such-command'], { status: 2, stderr: /unrecognized subcommand/ }],
]

// What legitimately differs between the twin runs: the registry's path and
// the clock (timestamps, and `list`'s uptime column).
function normalize(text, dir) {
  return text
    .split(dir).join('<REGISTRY>')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, '<TIME>')
    .replace(/(\s)\d+s(\s)/g, '$1<AGE>$2')
}

test('the npm bin and the Rust binary: same stdout, stderr and exit status, command by command', { timeout: 60000 }, (t) => {
  const rust = rustCli()
  const a = tmpRegistry(t)
  const b = tmpRegistry(t)
  for (const [args, want] of steps) {
    const label = `portreg ${args.join(' ')}`
    const r = run(rust, args, childEnv(a, null))
    const n = run(process.execPath, [NPM_BIN, ...args], childEnv(b, null))
    assert.equal(r.status, want.status, `${label}: Rust exit status; stderr: ${r.stderr}`)
    if (want.stdout) assert.match(r.stdout, want.stdout, `${label}: Rust stdout`)
    if (want.stderr) assert.match(r.stderr, want.stderr, `${label}: Rust stderr`)
    assert.equal(n.signal, null, `${label}: npm bin killed by ${n.signal}`)
    assert.equal(n.status, r.status, `${label}: exit status; npm stderr: ${n.stderr}`)
    assert.equal(normalize(n.stdout, b), normalize(r.stdout, a), `${label}: stdout`)
    assert.equal(normalize(n.stderr, b), normalize(r.stderr, a), `${label}: stderr`)
  }
})

test('`portreg lease` from the npm bin makes its parent the holder, as the Rust binary does', (t) => {
  const dir = tmpRegistry(t)
  const env = childEnv(dir, R)
  const n = run(process.execPath, [NPM_BIN, 'lease', 'from-npm', '--json'], env)
  const r = run(rustCli(), ['lease', 'from-rust', '--json'], env)
  assert.equal(n.status, 0, n.stderr)
  assert.equal(r.status, 0, r.stderr)
  assert.equal(JSON.parse(n.stdout).holder.pid, process.pid)
  assert.equal(JSON.parse(r.stdout).holder.pid, process.pid)
})
