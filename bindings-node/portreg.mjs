// The ES module entry (`import portreg, { lease } from 'portreg'`). It is the
// CommonJS module itself, not a second copy: one set of leases and one set of
// exit hooks whichever way an app (or its dependencies) loads the package.
import portreg from './portreg.js'

export default portreg
export const {
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
} = portreg
