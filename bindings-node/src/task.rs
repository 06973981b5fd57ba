//! Maps one core call to a Promise: the call runs on libuv's thread pool and
//! the promise settles on the JS thread with the value or a coded error.

use napi::bindgen_prelude::{AsyncTask, ToNapiValue, TypeName};
use napi::{Env, Task};

type Work<T> = Box<dyn FnOnce() -> portreg_core::Result<T> + Send>;

pub struct Job<T> {
    work: Option<Work<T>>,
}

impl<T: ToNapiValue + TypeName + Send + 'static> Job<T> {
    pub fn spawn(
        f: impl FnOnce() -> portreg_core::Result<T> + Send + 'static,
    ) -> AsyncTask<Job<T>> {
        AsyncTask::new(Job {
            work: Some(Box::new(f)),
        })
    }
}

impl<T: ToNapiValue + TypeName + Send + 'static> Task for Job<T> {
    type Output = portreg_core::Result<T>;
    type JsValue = T;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let work = self
            .work
            .take()
            .ok_or_else(|| napi::Error::from_reason("portreg: a job ran twice"))?;
        Ok(work())
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<T> {
        output.map_err(|e| crate::error::to_js(&env, e))
    }
}
