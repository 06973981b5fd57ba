// The package's types are those of the native module: index.d.ts, generated
// from the Rust sources by `napi build`.
export * from './index'
