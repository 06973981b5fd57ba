//! Maps each JS operation to its one core call: arguments in, records out.
//! The module-level functions, the `Registry` methods and their Promise forms
//! all go through these.

use std::sync::Arc;

use napi::bindgen_prelude::Either;
use portreg_core::{Actor, KillTarget, LeaseRequest, Registry, Result};

use crate::lease::{self, JsLease};
use crate::types::{
    self, EnvVars, FindOptions, ForceOptions, JsCleaned, JsConflict, JsEntry, JsKillReport, JsWho,
    KillOptions, LeaseOptions, ReserveOptions,
};

/// The default registry (`$PORTREG_HOME`, else `~/.portreg`), opened afresh
/// on each call so a changed PORTREG_HOME is honoured.
pub fn default() -> Result<Arc<Registry>> {
    Registry::open_default().map(Arc::new)
}

pub fn lease(reg: &Arc<Registry>, name: String, o: Option<LeaseOptions>) -> Result<JsLease> {
    let o = o.unwrap_or(LeaseOptions {
        port: None,
        exact: None,
        range: None,
        description: None,
        meta: None,
    });
    let mut req = LeaseRequest::new(name);
    req.port = o.port.map(types::port).transpose()?;
    req.exact = o.exact.unwrap_or(false);
    req.range = types::range(o.range)?;
    req.description = o.description;
    req.meta = o.meta;
    Ok(JsLease::new(reg.clone(), reg.lease(&req)?))
}

pub fn get(reg: &Arc<Registry>, name: String) -> Result<Option<JsEntry>> {
    Ok(reg.get(&name)?.map(Into::into))
}

pub fn list(reg: &Arc<Registry>) -> Result<Vec<JsEntry>> {
    Ok(reg.list()?.into_iter().map(Into::into).collect())
}

fn forced(o: Option<ForceOptions>) -> bool {
    o.and_then(|o| o.force).unwrap_or(false)
}

pub fn release(reg: &Arc<Registry>, name: String, o: Option<ForceOptions>) -> Result<bool> {
    let actor = if forced(o) { Actor::Force } else { Actor::me() };
    lease::release(reg, &name, actor)
}

pub fn reserve(
    reg: &Arc<Registry>,
    name: String,
    port: f64,
    o: Option<ReserveOptions>,
) -> Result<JsEntry> {
    let description = o.and_then(|o| o.description);
    Ok(reg
        .reserve(&name, types::port(port)?, description.as_deref())?
        .into())
}

pub fn forget(reg: &Arc<Registry>, name: String, o: Option<ForceOptions>) -> Result<JsEntry> {
    let e = reg.forget(&name, forced(o))?;
    lease::untrack(reg, &name);
    Ok(e.into())
}

pub fn find_free(reg: &Arc<Registry>, o: Option<FindOptions>) -> Result<u32> {
    let range = types::range(o.and_then(|o| o.range))?;
    Ok(reg.find_free(range)?.into())
}

pub fn clean(reg: &Arc<Registry>) -> Result<Vec<JsCleaned>> {
    Ok(reg.clean()?.into_iter().map(Into::into).collect())
}

pub fn who(reg: &Arc<Registry>, target: Either<f64, String>) -> Result<JsWho> {
    Ok(match target {
        Either::A(port) => reg.who(types::port(port)?)?,
        Either::B(name) => reg.who_name(&name)?,
    }
    .into())
}

pub fn conflicts(reg: &Arc<Registry>) -> Result<Vec<JsConflict>> {
    Ok(reg.conflicts()?.into_iter().map(Into::into).collect())
}

pub fn kill(
    reg: &Arc<Registry>,
    target: Either<f64, String>,
    o: Option<KillOptions>,
) -> Result<Vec<JsKillReport>> {
    let target = match target {
        Either::A(port) => KillTarget::Port(types::port(port)?),
        Either::B(s) => s.parse()?,
    };
    let secs = o.and_then(|o| o.timeout).unwrap_or(10.0);
    let timeout = portreg_core::process::seconds(secs, "timeout")?;
    Ok(reg
        .kill(&target, timeout)?
        .into_iter()
        .map(Into::into)
        .collect())
}

pub fn env(reg: &Arc<Registry>, names: Option<Vec<String>>) -> Result<EnvVars> {
    Ok(EnvVars(reg.env(&names.unwrap_or_default())?))
}
