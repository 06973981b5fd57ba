// The package's types are those of the native module: index.d.ts, generated
// from the Rust sources by `napi build`, plus what portreg.js adds.
export * from './index'

declare module './index' {
  interface Lease {
    /** `using lease = portreg.lease('web')` releases it when the block ends. */
    [Symbol.dispose](): void
    /** `await using lease = await portreg.leaseAsync('web')`: the same. */
    [Symbol.asyncDispose](): Promise<void>
  }
}
