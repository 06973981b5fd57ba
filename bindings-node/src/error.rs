//! Maps `portreg_core::Error` to a JavaScript `Error` whose `code` is the
//! docs/design.md spelling (`LEASE_HELD`...), with the holder's `pid`, `port`,
//! `since`, `url` and `cwd` on `LEASE_HELD`.

use napi::bindgen_prelude::{JsValue, Object};
use napi::{Env, JsError};

/// The status napi writes to the thrown object's `code` property.
struct Code(&'static str);

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        self.0
    }
}

/// The JavaScript error for a core error. It is built on the JS thread so it
/// can carry the holder's details, then thrown or rejected as it is.
pub fn to_js(env: &Env, e: portreg_core::Error) -> napi::Error {
    let plain = napi::Error::new(Code(e.code().as_str()), e.to_string());
    let value = JsError::from(plain).into_unknown(*env);
    if let Some(held) = e.held_by() {
        let mut obj = Object::from_raw(env.raw(), value.raw());
        // Setting a property on a fresh Error cannot fail short of the
        // environment shutting down, when nobody is left to read it.
        let _ = obj.set("pid", held.pid);
        let _ = obj.set("port", u32::from(held.port));
        let _ = obj.set("since", held.since.as_str());
        let _ = obj.set("url", held.url());
        let _ = obj.set("cwd", held.cwd.as_str());
    }
    napi::Error::from(value)
}

/// Runs one core call on the JS thread, turning its error into a JS error.
pub fn sync<T>(env: &Env, f: impl FnOnce() -> portreg_core::Result<T>) -> napi::Result<T> {
    f().map_err(|e| to_js(env, e))
}
