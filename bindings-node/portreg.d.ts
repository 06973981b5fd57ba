// The package's types: those of the native module (index.d.ts, generated
// from the Rust sources by `napi build`) that are public, plus what
// portreg.js adds. The generated loader's own export (`__napiBindingTarget`)
// stays out: it is not part of the package.
export {
  Lease,
  Project,
  Registry,
  clean,
  cleanAsync,
  conflicts,
  conflictsAsync,
  env,
  envAsync,
  findFree,
  findFreeAsync,
  forget,
  forgetAsync,
  get,
  getAsync,
  kill,
  killAsync,
  lease,
  leaseAsync,
  list,
  listAsync,
  project,
  release,
  releaseAll,
  releaseAsync,
  rename,
  renameAsync,
  reserve,
  reserveAsync,
  runCli,
  who,
  whoAsync,
} from './index'
export type {
  Cleaned,
  Conflict,
  Entry,
  FindOptions,
  ForceOptions,
  Holder,
  HostClaim,
  KillOptions,
  KillReport,
  LeaseInfo,
  LeaseOptions,
  Listener,
  ProjectService,
  ReserveOptions,
  Who,
} from './index'

declare module './index' {
  interface Lease {
    /** `using lease = portreg.lease('web')` releases it when the block ends. */
    [Symbol.dispose](): void
    /** `await using lease = await portreg.leaseAsync('web')`: the same. */
    [Symbol.asyncDispose](): Promise<void>
  }
}
