// Type-checked (tsc --noEmit), never run: every function and option of the
// package as a TypeScript app would use them. The @ts-expect-error lines
// fail the check if the types ever loosen into `any`.
import * as portreg from 'portreg'
import { Entry, Lease, LeaseOptions, Registry } from 'portreg'

const opts: LeaseOptions = {
  port: 8080,
  exact: false,
  range: '8070-8999',
  description: 'web frontend',
  meta: { project: '/src/web' },
}
const lease: Lease = portreg.lease('web', opts)
const port: number = lease.port
const url: string = lease.url
const name: string = lease.name
const pid: number = lease.holder.pid
const startTime: number = lease.holder.start_time
const released: boolean = lease.release()
console.log(port, url, name, pid, startTime, released, lease.existing, lease.toJSON().url)

const entry: Entry | null = portreg.get('web')
if (entry) {
  const state: 'active' | 'idle' | 'reserved' = entry.state
  const holderPid: number | undefined = entry.holder?.pid
  const description: string | null = entry.description
  console.log(state, holderPid, description, entry.meta['project'], entry.created, entry.changed, entry.reserved)
}
const all: Entry[] = portreg.list()
portreg.release('web', { force: true })
const pinned: Entry = portreg.reserve('db', 5432, { description: 'postgres' })
const forgotten: Entry = portreg.forget('db', { force: false })
const free: number = portreg.findFree({ range: '9000-9100' })
const freeTuple: number = portreg.findFree({ range: [9000, 9100] })
const tupleOpts: LeaseOptions = { range: [3000, 3100] }
// @ts-expect-error: a range is two numbers
portreg.findFree({ range: [9000, 9100, 9200] })
const cleaned: { name: string; port: number | null; pid: number }[] = portreg.clean()
const who: portreg.Who = portreg.who(8080)
const whoName: portreg.Who = portreg.who('web')
const listenerPids: number[] = who.listeners.map((l) => l.pid)
const conflicts: portreg.Conflict[] = portreg.conflicts()
const reports: portreg.KillReport[] = portreg.kill('web', { timeout: 3, anyUser: false })
const byPort: portreg.KillReport[] = portreg.kill(8080)
const waited: number = reports[0].waited_ms
const vars: Record<string, string> = portreg.env(['web'])
const count: number = portreg.releaseAll()
const exit: number = portreg.runCli(['portreg', 'list'])
console.log(all, pinned, forgotten, free, freeTuple, tupleOpts, cleaned, whoName, listenerPids, conflicts, byPort, waited, vars, count, exit)

async function promises(): Promise<void> {
  const l: Lease = await portreg.leaseAsync('api', { port: 8000 })
  const e: Entry | null = await portreg.getAsync('api')
  const es: Entry[] = await portreg.listAsync()
  const r: boolean = await portreg.releaseAsync('api')
  const p: Entry = await portreg.reserveAsync('db', 5432)
  const f: Entry = await portreg.forgetAsync('db')
  const n: number = await portreg.findFreeAsync()
  const c = await portreg.cleanAsync()
  const w: portreg.Who = await portreg.whoAsync(8000)
  const cs: portreg.Conflict[] = await portreg.conflictsAsync()
  const k: portreg.KillReport[] = await portreg.killAsync(':8000', { timeout: 1 })
  const v: Record<string, string> = await portreg.envAsync()
  console.log(l, e, es, r, p, f, n, c, w, cs, k, v)
}

async function registry(): Promise<void> {
  const reg = new Registry('/tmp/portreg-example')
  const dflt = new Registry()
  const path: string = reg.path
  const warnings: string[] = dflt.takeWarnings()
  const l: Lease = reg.lease('web', { range: '25000-25099' })
  const la: Lease = await reg.leaseAsync('api')
  console.log(path, warnings, l, la, reg.get('web'), reg.list(), reg.release('web'), reg.reserve('db', 5432),
    reg.forget('db'), reg.findFree(), reg.clean(), reg.who(5432), reg.conflicts(), reg.kill(':5432'), reg.env(),
    await reg.getAsync('web'), await reg.listAsync(), await reg.releaseAsync('api'), await reg.reserveAsync('db', 1),
    await reg.forgetAsync('db'), await reg.findFreeAsync(), await reg.cleanAsync(), await reg.whoAsync('db'),
    await reg.conflictsAsync(), await reg.killAsync(1), await reg.envAsync(['db']))
}

// Errors carry the docs/design.md code; LEASE_HELD also the holder.
try {
  portreg.lease('web')
} catch (e) {
  const err = e as Error & { code?: string; pid?: number; port?: number; since?: string }
  if (err.code === 'LEASE_HELD') console.log(`already running at http://127.0.0.1:${err.port} (pid ${err.pid})`)
}

// `using` releases the lease when the block ends (TypeScript 5.2+).
{
  using scoped = portreg.lease('scoped')
  const scopedPort: number = scoped.port
  console.log(scopedPort)
}
async function scopedAsync(): Promise<number> {
  await using scoped = await portreg.leaseAsync('scoped')
  return scoped.port
}
const disposeNow: void = lease[Symbol.dispose]()
const disposeLater: Promise<void> = lease[Symbol.asyncDispose]()
console.log(scopedAsync, disposeNow, disposeLater)
// @ts-expect-error: an Entry is plain data, nothing to dispose
portreg.get('web')?.[Symbol.dispose]()

// @ts-expect-error: the generated loader's export is not part of the package
console.log(portreg.__napiBindingTarget)
// @ts-expect-error: the Rust type names are not types of the package
const internalLease: portreg.JsLease = lease
// @ts-expect-error: the Rust type names are not types of the package
const internalRegistry: portreg.JsRegistry = new Registry()
// @ts-expect-error: the Rust type names are not types of the package
const internalProject: portreg.JsProject = portreg.project()
console.log(internalLease, internalRegistry, internalProject)

// @ts-expect-error: ports are numbers
portreg.lease('web', { port: '8080' })
// @ts-expect-error: unknown option
portreg.lease('web', { prot: 8080 })
// @ts-expect-error: ranges are "LOW-HIGH" strings or [LOW, HIGH] numbers
portreg.findFree({ range: ['8000', '8100'] })
// @ts-expect-error: the name is required
portreg.get()
// @ts-expect-error: a Lease's port is read-only
lease.port = 1
// @ts-expect-error: state is one of three words
const bad: Entry['state'] = 'running'

void promises
void registry
void bad
