//! Maps portreg-core to a Node module: module-level functions on the default
//! registry, a `Registry` class for an explicit one, the leases behind
//! portreg.js's `Lease` class, a Promise form (`...Async`) of every operation, and the `portreg` CLI.

// `types` first: napi's type generator must see the JS names of the record
// types before the signatures that use them.
mod types;

mod error;
// Public: its functions are called from JavaScript only (portreg.js).
pub mod lease;
mod ops;
mod project;
mod registry;
mod task;

use std::io::Write;

use napi::bindgen_prelude::{AsyncTask, Either};
use napi::Env;
use napi_derive::napi;

use crate::error::sync;
pub use crate::project::project;
use crate::task::Job;
use crate::types::{
    EnvVars, FindOptions, ForceOptions, JsCleaned, JsConflict, JsEntry, JsKillReport, JsWho,
    KillOptions, LeaseOptions, ReserveOptions,
};

/// Leases a port for `name` in the default registry, held by this process:
/// the name's reserved port, else the port it remembers, else `options.port`
/// if free, else the lowest free port of the range. Throws `LEASE_HELD` (with
/// the holder's `pid`, `port` and `since`) when another live process holds
/// the name. Released on `lease.release()`, on exit and on SIGINT/SIGTERM/SIGHUP.
#[napi(ts_return_type = "Lease")]
pub fn lease(env: Env, name: String, options: Option<LeaseOptions>) -> napi::Result<u32> {
    sync(&env, || ops::lease(&ops::default()?, name, options))
}

/// `lease`, run off the main thread.
#[napi(ts_return_type = "Promise<Lease>")]
pub fn lease_async(name: String, options: Option<LeaseOptions>) -> AsyncTask<Job<u32>> {
    Job::spawn(move || ops::lease(&ops::default()?, name, options))
}

/// The entry for `name`, or null if the registry does not know it.
#[napi]
pub fn get(env: Env, name: String) -> napi::Result<Option<JsEntry>> {
    sync(&env, || ops::get(&ops::default()?, name))
}

/// `get`, run off the main thread.
#[napi(ts_return_type = "Promise<Entry | null>")]
pub fn get_async(name: String) -> AsyncTask<Job<Option<JsEntry>>> {
    Job::spawn(move || ops::get(&ops::default()?, name))
}

/// Every entry (active, idle and reserved), sorted by port.
#[napi]
pub fn list(env: Env) -> napi::Result<Vec<JsEntry>> {
    sync(&env, || ops::list(&ops::default()?))
}

/// `list`, run off the main thread.
#[napi(ts_return_type = "Promise<Array<Entry>>")]
pub fn list_async() -> AsyncTask<Job<Vec<JsEntry>>> {
    Job::spawn(move || ops::list(&ops::default()?))
}

/// Releases this process's lease on `name` (it turns idle and remembers its
/// port). Returns false when no live process held it. Throws `NOT_HOLDER`
/// when another live process holds it, unless `{ force: true }`.
#[napi]
pub fn release(env: Env, name: String, options: Option<ForceOptions>) -> napi::Result<bool> {
    sync(&env, || ops::release(&ops::default()?, name, options))
}

/// `release`, run off the main thread.
#[napi(ts_return_type = "Promise<boolean>")]
pub fn release_async(name: String, options: Option<ForceOptions>) -> AsyncTask<Job<bool>> {
    Job::spawn(move || ops::release(&ops::default()?, name, options))
}

/// Pins `name` to `port` (no process needed). The same request twice is not
/// an error.
#[napi]
pub fn reserve(
    env: Env,
    name: String,
    port: f64,
    options: Option<ReserveOptions>,
) -> napi::Result<JsEntry> {
    sync(&env, || ops::reserve(&ops::default()?, name, port, options))
}

/// `reserve`, run off the main thread.
#[napi(ts_return_type = "Promise<Entry>")]
pub fn reserve_async(
    name: String,
    port: f64,
    options: Option<ReserveOptions>,
) -> AsyncTask<Job<JsEntry>> {
    Job::spawn(move || ops::reserve(&ops::default()?, name, port, options))
}

/// Removes `name` from the registry and returns what it was. Throws
/// `LEASE_HELD` while another live process holds it, unless `{ force: true }`.
#[napi]
pub fn forget(env: Env, name: String, options: Option<ForceOptions>) -> napi::Result<JsEntry> {
    sync(&env, || ops::forget(&ops::default()?, name, options))
}

/// `forget`, run off the main thread.
#[napi(ts_return_type = "Promise<Entry>")]
pub fn forget_async(name: String, options: Option<ForceOptions>) -> AsyncTask<Job<JsEntry>> {
    Job::spawn(move || ops::forget(&ops::default()?, name, options))
}

/// Renames `oldName` to `newName` and returns the entry: it keeps its port,
/// reservation, description and holder. Throws `LEASE_HELD` while another
/// live process holds it, unless `{ force: true }`; `INVALID_NAME` when `newName`
/// is already in the registry.
#[napi]
pub fn rename(
    env: Env,
    old_name: String,
    new_name: String,
    options: Option<ForceOptions>,
) -> napi::Result<JsEntry> {
    sync(&env, || {
        ops::rename(&ops::default()?, old_name, new_name, options)
    })
}

/// `rename`, run off the main thread.
#[napi(ts_return_type = "Promise<Entry>")]
pub fn rename_async(
    old_name: String,
    new_name: String,
    options: Option<ForceOptions>,
) -> AsyncTask<Job<JsEntry>> {
    Job::spawn(move || ops::rename(&ops::default()?, old_name, new_name, options))
}

/// A port free right now, without leasing it, picked at random among the
/// first few free ones so that concurrent callers rarely get the same port.
/// Only `lease` is race-free: it alone stops another process from taking
/// the port too.
#[napi]
pub fn find_free(env: Env, options: Option<FindOptions>) -> napi::Result<u32> {
    sync(&env, || ops::find_free(&ops::default()?, options))
}

/// `findFree`, run off the main thread.
#[napi(ts_return_type = "Promise<number>")]
pub fn find_free_async(options: Option<FindOptions>) -> AsyncTask<Job<u32>> {
    Job::spawn(move || ops::find_free(&ops::default()?, options))
}

/// Drops every lease whose holder is gone (those names turn idle); returns
/// what was dropped.
#[napi]
pub fn clean(env: Env) -> napi::Result<Vec<JsCleaned>> {
    sync(&env, || ops::clean(&ops::default()?))
}

/// `clean`, run off the main thread.
#[napi(ts_return_type = "Promise<Array<Cleaned>>")]
pub fn clean_async() -> AsyncTask<Job<Vec<JsCleaned>>> {
    Job::spawn(move || ops::clean(&ops::default()?))
}

/// Who listens on a port (a number), or on a name's port (a string), and
/// which entry claims it.
#[napi]
pub fn who(env: Env, target: Either<f64, String>) -> napi::Result<JsWho> {
    sync(&env, || ops::who(&ops::default()?, target))
}

/// `who`, run off the main thread.
#[napi(ts_return_type = "Promise<Who>")]
pub fn who_async(target: Either<f64, String>) -> AsyncTask<Job<JsWho>> {
    Job::spawn(move || ops::who(&ops::default()?, target))
}

/// Entries whose port is listened on by a process other than their holder.
#[napi]
pub fn conflicts(env: Env) -> napi::Result<Vec<JsConflict>> {
    sync(&env, || ops::conflicts(&ops::default()?))
}

/// `conflicts`, run off the main thread.
#[napi(ts_return_type = "Promise<Array<Conflict>>")]
pub fn conflicts_async() -> AsyncTask<Job<Vec<JsConflict>>> {
    Job::spawn(move || ops::conflicts(&ops::default()?))
}

/// Stops a name's holder (a string; `":8080"` is a port) or whatever listens
/// on a port (a number): SIGTERM, wait up to `timeout` seconds (default 10),
/// then SIGKILL. Never signals pid 1 or this process. Blocks while it waits:
/// prefer `killAsync` in a server.
#[napi]
pub fn kill(
    env: Env,
    target: Either<f64, String>,
    options: Option<KillOptions>,
) -> napi::Result<Vec<JsKillReport>> {
    sync(&env, || ops::kill(&ops::default()?, target, options))
}

/// `kill`, run off the main thread.
#[napi(ts_return_type = "Promise<Array<KillReport>>")]
pub fn kill_async(
    target: Either<f64, String>,
    options: Option<KillOptions>,
) -> AsyncTask<Job<Vec<JsKillReport>>> {
    Job::spawn(move || ops::kill(&ops::default()?, target, options))
}

/// `NAME_PORT` and `NAME_URL` for every active and reserved name (or just
/// `names`), e.g. `{ WEB_PORT: '8070', WEB_URL: 'http://127.0.0.1:8070' }`.
#[napi(js_name = "env", ts_return_type = "Record<string, string>")]
pub fn env_vars(js: Env, names: Option<Vec<String>>) -> napi::Result<EnvVars> {
    sync(&js, || ops::env(&ops::default()?, names))
}

/// `env`, run off the main thread.
#[napi(
    js_name = "envAsync",
    ts_return_type = "Promise<Record<string, string>>"
)]
pub fn env_vars_async(names: Option<Vec<String>>) -> AsyncTask<Job<EnvVars>> {
    Job::spawn(move || ops::env(&ops::default()?, names))
}

/// Releases every lease this process took through this module and still
/// holds; returns how many it released. The package calls it on exit and on
/// SIGINT/SIGTERM/SIGHUP; errors (a name forgotten or taken over meanwhile,
/// a registry removed) are skipped, since nothing is left to release there.
#[napi]
pub fn release_all() -> u32 {
    u32::try_from(portreg_core::tracking::release_all()).unwrap_or(u32::MAX)
}

/// Runs the `portreg` command line on `argv` (program name first) and returns
/// its exit status; output goes straight to this process's stdout and stderr.
/// The package's `portreg` bin is this call.
#[napi]
pub fn run_cli(argv: Vec<String>) -> i32 {
    // Node marks stdin/stdout/stderr close-on-exec at startup; `portreg run`
    // starts its command with fork + exec and means it to write to the
    // terminal, as it does from the Rust binary.
    inherit_stdio();
    let code = portreg_cli::run(argv);
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    code
}

fn inherit_stdio() {
    use nix::fcntl::{fcntl, FcntlArg, FdFlag};
    use std::os::fd::AsFd;
    let (stdin, stdout, stderr) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
    for fd in [stdin.as_fd(), stdout.as_fd(), stderr.as_fd()] {
        let _ = fcntl(fd, FcntlArg::F_SETFD(FdFlag::empty()));
    }
}
