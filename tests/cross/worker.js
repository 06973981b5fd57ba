// Soak worker in Node. Usage: node worker.js REGISTRY DEADLINE_UNIX POOL_SIZE
const net = require('node:net')
const portreg = require(process.env.PORTREG_NODE)
const [regPath, deadlineS, poolS] = process.argv.slice(2)
const deadline = Number(deadlineS) * 1000, pool = Number(poolS)
const reg = new portreg.Registry(regPath)
let leases = 0, held = 0, violations = 0, other = 0

const listen = (port) => new Promise((resolve) => {
  const srv = net.createServer()
  srv.once('error', (e) => resolve([null, e.code]))
  srv.listen({ port, host: '127.0.0.1' }, () => resolve([srv, null]))
})
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

;(async () => {
  while (Date.now() < deadline) {
    const name = `svc-${Math.floor(Math.random() * pool)}`
    let lease
    try {
      lease = reg.lease(name, { range: '27000-27099' })
    } catch (e) {
      if (e.code === 'LEASE_HELD') held++
      else {
        console.log(`ERROR node lease ${name}: ${e.code} ${e.message}`)
        other++
      }
      continue
    }
    leases++
    const [srv, err] = await listen(lease.port)
    if (!srv) {
      console.log(`VIOLATION node ${name} port ${lease.port}: ${err}`)
      violations++
    }
    await sleep(2 + Math.random() * 18)
    if (srv) await new Promise((r) => srv.close(r))
    try {
      lease.release()
    } catch (e) {
      console.log(`ERROR node release ${name}: ${e.code} ${e.message}`)
      other++
    }
  }
  console.log(`DONE node leases=${leases} held=${held} violations=${violations} other=${other}`)
})()
