// The types of the ES module entry: those of the CommonJS entry, plus the
// module itself as the default export.
import * as portreg from './portreg.js'

export * from './portreg.js'
export default portreg
