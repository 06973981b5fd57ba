//! Maps `portreg_core::Lease` to the JS `Lease` class, and keeps the list of
//! leases this process took so they are released when it exits.

use std::sync::{Arc, Mutex};

use napi::Env;
use napi_derive::napi;
use portreg_core::{Actor, Registry, Released};

use crate::error::sync;
use crate::types::JsHolder;

/// Leases taken through this module and not yet released, so `releaseAll`
/// (run on exit and on SIGINT/SIGTERM/SIGHUP) can hand them back.
static HELD: Mutex<Vec<(Arc<Registry>, String)>> = Mutex::new(Vec::new());

fn held() -> std::sync::MutexGuard<'static, Vec<(Arc<Registry>, String)>> {
    HELD.lock().unwrap_or_else(|e| e.into_inner())
}

fn same(reg: &Registry, name: &str, other: &(Arc<Registry>, String)) -> bool {
    other.0.path() == reg.path() && other.1.eq_ignore_ascii_case(name)
}

pub(crate) fn track(reg: &Arc<Registry>, name: &str) {
    let mut held = held();
    if !held.iter().any(|h| same(reg, name, h)) {
        held.push((reg.clone(), name.to_string()));
    }
}

pub(crate) fn untrack(reg: &Registry, name: &str) {
    held().retain(|h| !same(reg, name, h));
}

/// Releases `name` for this process and forgets it was ours.
pub(crate) fn release(reg: &Registry, name: &str, actor: Actor) -> portreg_core::Result<bool> {
    let r = reg.release(name, actor)?;
    untrack(reg, name);
    Ok(matches!(r, Released::Released { .. }))
}

/// Releases every lease taken through this module and still tracked; returns
/// how many were released. Errors (a name forgotten or taken over meanwhile,
/// a registry removed) are skipped: nothing is left to release there.
pub(crate) fn release_all() -> u32 {
    let taken = std::mem::take(&mut *held());
    let mut n = 0;
    for (reg, name) in taken {
        if let Ok(Released::Released { .. }) = reg.release(&name, Actor::me()) {
            n += 1;
        }
    }
    n
}

/// A port leased to a name for this process. It stays leased until
/// `release()`, or until the process exits or dies.
#[napi(js_name = "Lease")]
pub struct JsLease {
    reg: Arc<Registry>,
    lease: portreg_core::Lease,
}

/// A lease as plain data (what `JSON.stringify(lease)` shows).
#[napi(object)]
pub struct LeaseInfo {
    pub name: String,
    pub port: u32,
    pub url: String,
    pub holder: JsHolder,
    pub existing: bool,
}

impl JsLease {
    pub(crate) fn new(reg: Arc<Registry>, lease: portreg_core::Lease) -> JsLease {
        track(&reg, &lease.name);
        JsLease { reg, lease }
    }
}

#[napi]
impl JsLease {
    /// The name, spelled as the registry first saw it.
    #[napi(getter)]
    pub fn name(&self) -> String {
        self.lease.name.clone()
    }

    #[napi(getter)]
    pub fn port(&self) -> u32 {
        self.lease.port.into()
    }

    /// `http://127.0.0.1:PORT`
    #[napi(getter)]
    pub fn url(&self) -> String {
        self.lease.url()
    }

    /// This process, as the registry records it.
    #[napi(getter)]
    pub fn holder(&self) -> JsHolder {
        self.lease.holder.clone().into()
    }

    /// True when this process already held the name and got the same lease back.
    #[napi(getter)]
    pub fn existing(&self) -> bool {
        self.lease.existing
    }

    /// Releases the lease: the name turns idle and remembers its port.
    /// Returns false when this process no longer held it.
    #[napi]
    pub fn release(&self, env: Env) -> napi::Result<bool> {
        sync(&env, || release(&self.reg, &self.lease.name, Actor::me()))
    }

    #[napi(js_name = "toJSON")]
    pub fn to_json(&self) -> LeaseInfo {
        LeaseInfo {
            name: self.name(),
            port: self.port(),
            url: self.url(),
            holder: self.holder(),
            existing: self.existing(),
        }
    }
}
