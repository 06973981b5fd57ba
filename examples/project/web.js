// The `web` service: a Node front end on $PORT. It reads the database
// through `psql` at $DATABASE_URL and the API at $API_URL, all given by
// portreg (portreg.toml), and shows both on one page. GET /health answers 200
// when both answer.
'use strict'
const http = require('node:http')
const { execFile } = require('node:child_process')

const port = Number(process.env.PORT)
const db = process.env.DATABASE_URL
const api = process.env.API_URL

function query (sql) {
  return new Promise((resolve, reject) => {
    execFile('psql', [db, '-X', '-qtA', '-v', 'ON_ERROR_STOP=1', '-c', sql], { timeout: 10000 },
      (err, out, stderr) => err ? reject(new Error(stderr.trim() || err.message)) : resolve(out.trim()))
  })
}

async function fromApi (path) {
  const r = await fetch(api + path, { signal: AbortSignal.timeout(10000) })
  if (!r.ok) throw new Error(`${api}${path} answered ${r.status}`)
  return r.json()
}

const server = http.createServer(async (req, res) => {
  const send = (status, body) => {
    res.writeHead(status, { 'content-type': 'application/json' })
    res.end(JSON.stringify(body))
  }
  try {
    if (req.url === '/health') {
      await query('select 1')
      await fromApi('/health')
      return send(200, { ok: true })
    }
    if (req.url === '/') {
      const count = Number(await query('select count(*) from products'))
      const { products } = await fromApi('/products')
      return send(200, { service: 'web', port, database: db, api, count, products: products.map(p => p.name) })
    }
    send(404, { error: 'not found' })
  } catch (e) {
    send(503, { error: e.message })
  }
})

server.listen(port, '127.0.0.1', () => {
  console.log(`web: serving http://127.0.0.1:${port}/ (database ${db}, api ${api})`)
})
process.on('SIGTERM', () => server.close(() => process.exit(0)))
