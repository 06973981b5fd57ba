'use strict'
// An Express server that takes its port from portreg by name: the same name
// gets the same port on every start, and a second copy says where the first
// one runs instead of crashing on EADDRINUSE.
//
//   node server.js [NAME]        (default name: node-demo)

const express = require('express')
const portreg = require('portreg')

const name = process.argv[2] || 'node-demo'

let lease
try {
  lease = portreg.lease(name, {
    description: 'Express example (examples/node)',
    meta: { language: 'node', project: __dirname },
  })
} catch (err) {
  if (err.code === 'LEASE_HELD') {
    console.error(`${name} is already running at http://127.0.0.1:${err.port} (pid ${err.pid})`)
    process.exit(1)
  }
  throw err
}

const app = express()
app.get('/', (req, res) => {
  res.json({ service: name, language: 'node', port: lease.port, pid: process.pid })
})
app.get('/healthz', (req, res) => res.type('text').send('ok\n'))

const server = app.listen(lease.port, '127.0.0.1', (err) => {
  if (err) throw err
  console.log(`${name} listening at ${lease.url} (pid ${process.pid})`)
})

// A graceful stop: finish in-flight requests, then the process exits on its
// own and portreg releases the lease on the way out. Ctrl-C (SIGINT) is left
// to the default: portreg releases, then the process stops.
process.on('SIGTERM', () => {
  console.log(`${name}: SIGTERM, closing`)
  server.close()
})
