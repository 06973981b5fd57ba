'use strict'
// The native module for this platform. The generated loader (index.js) takes
// a `.node` file next to it (a local `npm run build`) or the platform package
// npm installed from the optionalDependencies (`portreg-linux-x64-gnu`, ...).
// When neither loads, this says which package this platform needs, or that
// none is published for it, instead of napi's generic message.

const manifest = require('./package.json')

const ARCH = { x86_64: 'x64', aarch64: 'arm64' }

// 'x86_64-unknown-linux-gnu' -> 'linux-x64-gnu', as napi names its packages.
function platformOfTarget(triple) {
  const [arch, , os, abi] = triple.split('-')
  return [os, ARCH[arch] || arch, abi].filter(Boolean).join('-')
}

function isMusl() {
  const report = typeof process.report?.getReport === 'function' ? process.report.getReport() : null
  return !report?.header?.glibcVersionRuntime
}

function thisPlatform() {
  if (process.platform !== 'linux') return `${process.platform}-${process.arch}`
  return `linux-${process.arch}-${isMusl() ? 'musl' : 'gnu'}`
}

function missingNative(cause) {
  const platform = thisPlatform()
  const prebuilt = (manifest.napi?.targets || []).map(platformOfTarget)
  const pkg = `${manifest.name}-${platform}`
  let message
  if (!prebuilt.includes(platform)) {
    message =
      `portreg: no prebuilt native module for ${platform} (prebuilt: ${prebuilt.join(', ')}). ` +
      'Build it from source: see "Install" in the README.'
  } else {
    let installed = true
    try {
      require.resolve(`${pkg}/package.json`)
    } catch {
      installed = false
    }
    message = installed
      ? `portreg: the native module in ${pkg} did not load on this ${platform} system: ${cause?.cause?.message || cause?.message}`
      : `portreg: the native module for ${platform} is missing: it comes in the npm package ` +
        `${pkg}@${manifest.version}, an optional dependency of portreg that was not installed ` +
        `(npm --omit=optional, or a lockfile made on another platform). Install it: ` +
        `npm install ${pkg}@${manifest.version}`
  }
  const error = new Error(message)
  error.code = 'PORTREG_NATIVE_MISSING'
  error.platform = platform
  error.cause = cause
  return error
}

try {
  module.exports = require('./index.js')
} catch (e) {
  throw missingNative(e)
}
