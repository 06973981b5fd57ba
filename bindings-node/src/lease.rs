//! Maps core's `OwnLease` to the JS `Lease` class; core remembers the leases
//! this process took so `releaseAll` can hand them back at exit.

use napi::Env;
use napi_derive::napi;
use portreg_core::OwnLease;

use crate::error::sync;
use crate::types::JsHolder;

/// A port leased to a name for this process. It stays leased until
/// `release()`, or until the process exits or dies.
#[napi]
pub struct Lease(pub(crate) OwnLease);

/// A lease as plain data (what `JSON.stringify(lease)` shows).
#[napi(object)]
pub struct LeaseInfo {
    pub name: String,
    pub port: u32,
    pub url: String,
    pub holder: JsHolder,
    pub existing: bool,
}

#[napi]
impl Lease {
    /// The name, spelled as the registry first saw it.
    #[napi(getter)]
    pub fn name(&self) -> String {
        self.0.lease().name.clone()
    }

    #[napi(getter)]
    pub fn port(&self) -> u32 {
        self.0.lease().port.into()
    }

    /// `http://127.0.0.1:PORT`
    #[napi(getter)]
    pub fn url(&self) -> String {
        self.0.lease().url()
    }

    /// This process, as the registry records it.
    #[napi(getter)]
    pub fn holder(&self) -> JsHolder {
        self.0.lease().holder.clone().into()
    }

    /// True when this process already held the name and got the same lease back.
    #[napi(getter)]
    pub fn existing(&self) -> bool {
        self.0.lease().existing
    }

    /// True once `release()` has released it.
    #[napi(getter)]
    pub fn released(&self) -> bool {
        self.0.is_released()
    }

    /// Releases the lease: the name turns idle and remembers its port.
    /// Returns true if this call released it, false if it was no longer held
    /// (released before, forgotten, or its holder record dropped).
    #[napi]
    pub fn release(&self, env: Env) -> napi::Result<bool> {
        sync(&env, || self.0.release())
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
