//! The leases this process took, kept here by number for the `Lease` class
//! of portreg.js (core also remembers them, so `releaseAll` hands them back
//! at exit).
//!
//! `Lease` is a JavaScript class holding the number, not a class of this
//! module: a `#[napi]` class instance costs a constructor call from native
//! code, a wrapped reference with a finalizer and an entry in napi-rs's
//! table of instances, about 3 µs of a lease and release that takes about
//! 47 (bench/report.py's Node round trip). A number and a
//! `FinalizationRegistry`, which calls `leaseDrop` once the object is
//! collected, cost a fraction of that.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use napi::Env;
use napi_derive::napi;
use portreg_core::OwnLease;

use crate::error::sync;
use crate::types::JsHolder;

struct Table {
    next: u32,
    leases: HashMap<u32, Arc<OwnLease>>,
}

static TABLE: Mutex<Option<Table>> = Mutex::new(None);

fn table() -> MutexGuard<'static, Option<Table>> {
    TABLE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Keeps `lease` and returns its number (never 0, never one in use).
pub(crate) fn keep(lease: OwnLease) -> u32 {
    let mut guard = table();
    let t = guard.get_or_insert_with(|| Table {
        next: 1,
        leases: HashMap::new(),
    });
    let mut id = t.next;
    while id == 0 || t.leases.contains_key(&id) {
        id = id.wrapping_add(1);
    }
    t.next = id.wrapping_add(1);
    t.leases.insert(id, Arc::new(lease));
    id
}

fn get(id: u32) -> napi::Result<Arc<OwnLease>> {
    table()
        .as_ref()
        .and_then(|t| t.leases.get(&id).cloned())
        .ok_or_else(|| napi::Error::from_reason(format!("portreg: no lease number {id}")))
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

// The `Lease` class's fields and methods (its declaration, with their
// documentation, is lease.d.ts). portreg.js takes these functions off the
// module's exports.

#[napi(skip_typescript, js_name = "leaseName")]
pub fn name(id: u32) -> napi::Result<String> {
    Ok(get(id)?.lease().name.clone())
}

#[napi(skip_typescript, js_name = "leasePort")]
pub fn port(id: u32) -> napi::Result<u32> {
    Ok(get(id)?.lease().port.into())
}

#[napi(skip_typescript, js_name = "leaseUrl")]
pub fn url(id: u32) -> napi::Result<String> {
    Ok(get(id)?.lease().url())
}

#[napi(skip_typescript, js_name = "leaseHolder")]
pub fn holder(id: u32) -> napi::Result<JsHolder> {
    Ok(get(id)?.lease().holder.clone().into())
}

#[napi(skip_typescript, js_name = "leaseExisting")]
pub fn existing(id: u32) -> napi::Result<bool> {
    Ok(get(id)?.lease().existing)
}

#[napi(skip_typescript, js_name = "leaseReleased")]
pub fn released(id: u32) -> napi::Result<bool> {
    Ok(get(id)?.is_released())
}

/// Releases the lease (outside the table's lock: other threads' leases do
/// not wait for this one's files).
#[napi(skip_typescript, js_name = "leaseRelease")]
pub fn release(env: Env, id: u32) -> napi::Result<bool> {
    let lease = get(id)?;
    sync(&env, || lease.release())
}

#[napi(skip_typescript, js_name = "leaseInfo")]
pub fn info(id: u32) -> napi::Result<LeaseInfo> {
    let own = get(id)?;
    let l = own.lease();
    Ok(LeaseInfo {
        name: l.name.clone(),
        port: l.port.into(),
        url: l.url(),
        holder: l.holder.clone().into(),
        existing: l.existing,
    })
}

/// Forgets the number of a `Lease` object that was collected. The lease
/// itself stays as it is: held until released, or until the process exits.
#[napi(skip_typescript, js_name = "leaseDrop")]
pub fn drop_lease(id: u32) {
    if let Some(t) = table().as_mut() {
        t.leases.remove(&id);
    }
}
