'use strict'
// Argument checks in front of the native module. A value of the wrong type
// is a `TypeError` whose `code` is the portreg code of what it stands for
// (a name: INVALID_NAME, a port: INVALID_PORT, a range: INVALID_RANGE, a
// description or meta: INVALID_TEXT); a switch, a timeout or an options
// object that is not one gets Node's own ERR_INVALID_ARG_TYPE. Values of the
// right type go on to the core, which judges them as every language does.
// Options are also taken as Node users write them: `range: [3000, 3100]`.

function describe(value) {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)}`
  if (typeof value === 'object') return 'an object'
  if (typeof value === 'function') return 'a function'
  return `${typeof value} ${String(value)}`
}

function typeError(code, what, expected, value) {
  const err = new TypeError(`${what} must be ${expected}, not ${describe(value)}`)
  err.code = code
  return err
}

const absent = (v) => v === undefined || v === null

function name(what) {
  return (v) => {
    if (typeof v !== 'string') throw typeError('INVALID_NAME', what, 'a string', v)
    return v
  }
}

function optionalString(code, what) {
  return (v) => {
    if (!absent(v) && typeof v !== 'string') throw typeError(code, what, 'a string', v)
    return v
  }
}

function port(what, optional) {
  return (v) => {
    if (optional && absent(v)) return v
    if (typeof v !== 'number') throw typeError('INVALID_PORT', what, 'a number', v)
    return v
  }
}

function flag(what) {
  return (v) => {
    if (!absent(v) && typeof v !== 'boolean') throw typeError('ERR_INVALID_ARG_TYPE', what, 'a boolean', v)
    return v
  }
}

function number(what) {
  return (v) => {
    if (!absent(v) && typeof v !== 'number') throw typeError('ERR_INVALID_ARG_TYPE', what, 'a number', v)
    return v
  }
}

/** `'3000-3100'` as it is, `[3000, 3100]` as `'3000-3100'`. */
function range(v) {
  if (absent(v) || typeof v === 'string') return v
  if (Array.isArray(v) && v.length === 2 && v.every((n) => typeof n === 'number')) return `${v[0]}-${v[1]}`
  throw typeError('INVALID_RANGE', 'options.range', "'LOW-HIGH' or [low, high] (two numbers)", v)
}

function meta(v) {
  if (absent(v)) return v
  if (typeof v !== 'object' || Array.isArray(v)) throw typeError('INVALID_TEXT', 'options.meta', 'an object of strings', v)
  for (const [k, s] of Object.entries(v)) {
    if (typeof s !== 'string') throw typeError('INVALID_TEXT', `options.meta[${JSON.stringify(k)}]`, 'a string', s)
  }
  return v
}

/** An options object whose listed fields are checked (and normalised). */
function options(fields) {
  return (v) => {
    if (absent(v)) return v
    if (typeof v !== 'object' || Array.isArray(v)) throw typeError('ERR_INVALID_ARG_TYPE', 'options', 'an object', v)
    let out = v
    for (const [key, check] of Object.entries(fields)) {
      const checked = check(v[key])
      if (checked !== v[key]) out = { ...out, [key]: checked }
    }
    return out
  }
}

/** A port (a number) or a name (a string), as `who` and `kill` read them. */
function target(v) {
  if (typeof v === 'number' || typeof v === 'string') return v
  throw typeError('INVALID_NAME', 'target', 'a port (number) or a name (string)', v)
}

function names(v) {
  if (absent(v)) return v
  if (!Array.isArray(v)) throw typeError('INVALID_NAME', 'names', 'an array of strings', v)
  v.forEach((n, i) => name(`names[${i}]`)(n))
  return v
}

function stringArray(what) {
  return (v) => {
    if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) {
      throw typeError('ERR_INVALID_ARG_TYPE', what, 'an array of strings', v)
    }
    return v
  }
}

const FORCE = options({ force: flag('options.force') })

/** The checks of each operation's arguments, in order. */
const OPERATIONS = {
  lease: [
    name('name'),
    options({
      port: port('options.port', true),
      exact: flag('options.exact'),
      range,
      description: optionalString('INVALID_TEXT', 'options.description'),
      meta,
      temporary: flag('options.temporary'),
    }),
  ],
  get: [name('name')],
  list: [],
  release: [name('name'), FORCE],
  reserve: [name('name'), port('port'), options({ description: optionalString('INVALID_TEXT', 'options.description') })],
  forget: [name('name'), FORCE],
  rename: [name('oldName'), name('newName'), FORCE],
  findFree: [options({ range })],
  clean: [],
  who: [target],
  conflicts: [],
  kill: [target, options({ timeout: number('options.timeout'), anyUser: flag('options.anyUser') })],
  env: [names],
}

const OTHERS = {
  registry: [optionalString('ERR_INVALID_ARG_TYPE', 'path')],
  project: [optionalString('ERR_INVALID_ARG_TYPE', 'path'), optionalString('ERR_INVALID_ARG_TYPE', 'registry')],
  service: [name('service')],
  runCli: [stringArray('argv')],
}

/** `args` checked against `checks`; throws the first TypeError. */
function check(checks, args) {
  const out = Array.from(args)
  checks.forEach((c, i) => {
    out[i] = c(out[i])
  })
  return out
}

/** `fn` with its arguments checked first. A Promise form (`async`) rejects
 *  with the TypeError instead of throwing it. */
function checking(fn, checks, async) {
  const wrapped = async
    ? function (...args) {
        let checked
        try {
          checked = check(checks, args)
        } catch (err) {
          return Promise.reject(err)
        }
        return fn.apply(this, checked)
      }
    : function (...args) {
        return fn.apply(this, check(checks, args))
      }
  Object.defineProperty(wrapped, 'name', { value: fn.name })
  return wrapped
}

module.exports = { OPERATIONS, OTHERS, checking, check }
