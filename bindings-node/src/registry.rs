//! Maps `portreg_core::Registry` to the JS `Registry` class: the module's
//! functions as methods of a registry opened on an explicit directory.

use std::sync::Arc;

use napi::bindgen_prelude::{AsyncTask, Either};
use napi::Env;
use napi_derive::napi;
use portreg_core::Registry as CoreRegistry;

use crate::error::sync;
use crate::ops;
use crate::task::Job;
use crate::types::{
    EnvVars, FindOptions, ForceOptions, JsCleaned, JsConflict, JsEntry, JsKillReport, JsWho,
    KillOptions, LeaseOptions, ReserveOptions,
};

/// A registry opened on a directory. Every method takes the registry lock for
/// its own call only, so many processes and threads can share one directory.
#[napi]
pub struct Registry {
    inner: Arc<CoreRegistry>,
}

#[napi]
impl Registry {
    /// Opens (creating it if needed, mode 0700) the registry in `path`;
    /// without a path, the default one (`$PORTREG_HOME`, else `~/.portreg`).
    #[napi(constructor)]
    pub fn new(env: Env, path: Option<String>) -> napi::Result<Self> {
        // One open registry per directory in this process, shared with the
        // module functions (and its cache with them).
        let inner = sync(&env, || match path {
            Some(p) => CoreRegistry::shared(p),
            None => CoreRegistry::shared_default(),
        })?;
        Ok(Registry { inner })
    }

    /// The registry directory.
    #[napi(getter)]
    pub fn path(&self) -> String {
        self.inner.path().display().to_string()
    }

    /// Warnings gathered since the last call (a corrupt file moved aside, a
    /// range overlapping the kernel's ephemeral ports...). They are also
    /// printed to stderr as they happen.
    #[napi]
    pub fn take_warnings(&self) -> Vec<String> {
        self.inner.take_warnings()
    }

    #[napi(ts_return_type = "Lease")]
    pub fn lease(
        &self,
        env: Env,
        name: String,
        options: Option<LeaseOptions>,
    ) -> napi::Result<u32> {
        sync(&env, || ops::lease(&self.inner, name, options))
    }

    #[napi(ts_return_type = "Promise<Lease>")]
    pub fn lease_async(&self, name: String, options: Option<LeaseOptions>) -> AsyncTask<Job<u32>> {
        let reg = self.inner.clone();
        Job::spawn(move || ops::lease(&reg, name, options))
    }

    #[napi]
    pub fn get(&self, env: Env, name: String) -> napi::Result<Option<JsEntry>> {
        sync(&env, || ops::get(&self.inner, name))
    }

    #[napi(ts_return_type = "Promise<Entry | null>")]
    pub fn get_async(&self, name: String) -> AsyncTask<Job<Option<JsEntry>>> {
        let reg = self.inner.clone();
        Job::spawn(move || ops::get(&reg, name))
    }

    #[napi]
    pub fn list(&self, env: Env) -> napi::Result<Vec<JsEntry>> {
        sync(&env, || ops::list(&self.inner))
    }

    #[napi(ts_return_type = "Promise<Array<Entry>>")]
    pub fn list_async(&self) -> AsyncTask<Job<Vec<JsEntry>>> {
        let reg = self.inner.clone();
        Job::spawn(move || ops::list(&reg))
    }

    #[napi]
    pub fn release(
        &self,
        env: Env,
        name: String,
        options: Option<ForceOptions>,
    ) -> napi::Result<bool> {
        sync(&env, || ops::release(&self.inner, name, options))
    }

    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn release_async(
        &self,
        name: String,
        options: Option<ForceOptions>,
    ) -> AsyncTask<Job<bool>> {
        let reg = self.inner.clone();
        Job::spawn(move || ops::release(&reg, name, options))
    }

    #[napi]
    pub fn reserve(
        &self,
        env: Env,
        name: String,
        port: f64,
        options: Option<ReserveOptions>,
    ) -> napi::Result<JsEntry> {
        sync(&env, || ops::reserve(&self.inner, name, port, options))
    }

    #[napi(ts_return_type = "Promise<Entry>")]
    pub fn reserve_async(
        &self,
        name: String,
        port: f64,
        options: Option<ReserveOptions>,
    ) -> AsyncTask<Job<JsEntry>> {
        let reg = self.inner.clone();
        Job::spawn(move || ops::reserve(&reg, name, port, options))
    }

    #[napi]
    pub fn forget(
        &self,
        env: Env,
        name: String,
        options: Option<ForceOptions>,
    ) -> napi::Result<JsEntry> {
        sync(&env, || ops::forget(&self.inner, name, options))
    }

    #[napi(ts_return_type = "Promise<Entry>")]
    pub fn forget_async(
        &self,
        name: String,
        options: Option<ForceOptions>,
    ) -> AsyncTask<Job<JsEntry>> {
        let reg = self.inner.clone();
        Job::spawn(move || ops::forget(&reg, name, options))
    }

    #[napi]
    pub fn rename(
        &self,
        env: Env,
        old_name: String,
        new_name: String,
        options: Option<ForceOptions>,
    ) -> napi::Result<JsEntry> {
        sync(&env, || {
            ops::rename(&self.inner, old_name, new_name, options)
        })
    }

    #[napi(ts_return_type = "Promise<Entry>")]
    pub fn rename_async(
        &self,
        old_name: String,
        new_name: String,
        options: Option<ForceOptions>,
    ) -> AsyncTask<Job<JsEntry>> {
        let reg = self.inner.clone();
        Job::spawn(move || ops::rename(&reg, old_name, new_name, options))
    }

    #[napi]
    pub fn find_free(&self, env: Env, options: Option<FindOptions>) -> napi::Result<u32> {
        sync(&env, || ops::find_free(&self.inner, options))
    }

    #[napi(ts_return_type = "Promise<number>")]
    pub fn find_free_async(&self, options: Option<FindOptions>) -> AsyncTask<Job<u32>> {
        let reg = self.inner.clone();
        Job::spawn(move || ops::find_free(&reg, options))
    }

    #[napi]
    pub fn clean(&self, env: Env) -> napi::Result<Vec<JsCleaned>> {
        sync(&env, || ops::clean(&self.inner))
    }

    #[napi(ts_return_type = "Promise<Array<Cleaned>>")]
    pub fn clean_async(&self) -> AsyncTask<Job<Vec<JsCleaned>>> {
        let reg = self.inner.clone();
        Job::spawn(move || ops::clean(&reg))
    }

    #[napi]
    pub fn who(&self, env: Env, target: Either<f64, String>) -> napi::Result<JsWho> {
        sync(&env, || ops::who(&self.inner, target))
    }

    #[napi(ts_return_type = "Promise<Who>")]
    pub fn who_async(&self, target: Either<f64, String>) -> AsyncTask<Job<JsWho>> {
        let reg = self.inner.clone();
        Job::spawn(move || ops::who(&reg, target))
    }

    #[napi]
    pub fn conflicts(&self, env: Env) -> napi::Result<Vec<JsConflict>> {
        sync(&env, || ops::conflicts(&self.inner))
    }

    #[napi(ts_return_type = "Promise<Array<Conflict>>")]
    pub fn conflicts_async(&self) -> AsyncTask<Job<Vec<JsConflict>>> {
        let reg = self.inner.clone();
        Job::spawn(move || ops::conflicts(&reg))
    }

    #[napi]
    pub fn kill(
        &self,
        env: Env,
        target: Either<f64, String>,
        options: Option<KillOptions>,
    ) -> napi::Result<Vec<JsKillReport>> {
        sync(&env, || ops::kill(&self.inner, target, options))
    }

    #[napi(ts_return_type = "Promise<Array<KillReport>>")]
    pub fn kill_async(
        &self,
        target: Either<f64, String>,
        options: Option<KillOptions>,
    ) -> AsyncTask<Job<Vec<JsKillReport>>> {
        let reg = self.inner.clone();
        Job::spawn(move || ops::kill(&reg, target, options))
    }

    #[napi(js_name = "env", ts_return_type = "Record<string, string>")]
    pub fn env_vars(&self, js: Env, names: Option<Vec<String>>) -> napi::Result<EnvVars> {
        sync(&js, || ops::env(&self.inner, names))
    }

    #[napi(
        js_name = "envAsync",
        ts_return_type = "Promise<Record<string, string>>"
    )]
    pub fn env_vars_async(&self, names: Option<Vec<String>>) -> AsyncTask<Job<EnvVars>> {
        let reg = self.inner.clone();
        Job::spawn(move || ops::env(&reg, names))
    }
}
