//! Maps each JS operation to its one core call: arguments in, records out.
//! The module-level functions, the `Registry` methods and their Promise forms
//! all go through these.

use std::sync::Arc;

use napi::bindgen_prelude::Either;
use portreg_core::{tracking, LeaseRequest, OwnLease, Registry, Result, Target};

use crate::types::{
    self, EnvVars, FindOptions, ForceOptions, JsCleaned, JsConflict, JsEntry, JsKillReport, JsWho,
    KillOptions, LeaseOptions, ReserveOptions,
};

/// The default registry (`$PORTREG_HOME`, else `~/.portreg`, looked up on
/// each call), one per directory for the whole process.
pub fn default() -> Result<Arc<Registry>> {
    Registry::shared_default()
}

/// The lease's number for portreg.js's `Lease` (see lease.rs).
pub fn lease(reg: &Arc<Registry>, name: String, o: Option<LeaseOptions>) -> Result<u32> {
    let o = o.unwrap_or(LeaseOptions {
        port: None,
        exact: None,
        range: None,
        description: None,
        meta: None,
        temporary: None,
    });
    let mut req = LeaseRequest::new(name);
    req.port = o.port.map(types::port).transpose()?;
    req.exact = o.exact.unwrap_or(false);
    req.range = types::range(o.range)?;
    req.description = o.description;
    req.meta = o.meta;
    req.temporary = o.temporary.unwrap_or(false);
    Ok(crate::lease::keep(OwnLease::take(reg, &req)?))
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
    tracking::release_name(reg, &name, forced(o))
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
    Ok(tracking::forget_name(reg, &name, forced(o))?.into())
}

pub fn rename(
    reg: &Arc<Registry>,
    old_name: String,
    new_name: String,
    o: Option<ForceOptions>,
) -> Result<JsEntry> {
    Ok(tracking::rename_name(reg, &old_name, &new_name, forced(o))?.into())
}

pub fn find_free(reg: &Arc<Registry>, o: Option<FindOptions>) -> Result<u32> {
    let range = types::range(o.and_then(|o| o.range))?;
    Ok(reg.find_free(range)?.into())
}

pub fn clean(reg: &Arc<Registry>) -> Result<Vec<JsCleaned>> {
    Ok(reg.clean()?.into_iter().map(Into::into).collect())
}

pub fn who(reg: &Arc<Registry>, target: Either<f64, String>) -> Result<JsWho> {
    Ok(reg.who(&target_of(target)?)?.into())
}

pub fn conflicts(reg: &Arc<Registry>) -> Result<Vec<JsConflict>> {
    Ok(reg.conflicts()?.into_iter().map(Into::into).collect())
}

pub fn kill(
    reg: &Arc<Registry>,
    target: Either<f64, String>,
    o: Option<KillOptions>,
) -> Result<Vec<JsKillReport>> {
    let target = target_of(target)?;
    let any_user = o.as_ref().and_then(|o| o.any_user).unwrap_or(false);
    let timeout = portreg_core::target::kill_timeout(o.and_then(|o| o.timeout))?;
    Ok(reg
        .kill_with(&target, timeout, any_user)?
        .into_iter()
        .map(Into::into)
        .collect())
}

pub fn env(reg: &Arc<Registry>, names: Option<Vec<String>>) -> Result<EnvVars> {
    Ok(EnvVars(reg.env(&names.unwrap_or_default())?))
}

/// A who/kill target: a number is a port, a string follows core's grammar
/// (`':8000'` and `'8000'` are ports, anything else a name).
fn target_of(target: Either<f64, String>) -> Result<Target> {
    match target {
        Either::A(port) => Ok(Target::Port(types::port(port)?)),
        Either::B(s) => Target::parse(&s),
    }
}
