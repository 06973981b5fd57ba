//! The private native module `portreg._native`: portreg-core and the portreg
//! CLI mapped to Python. The public API is the pure-Python `portreg` package.

use std::ffi::OsString;
use std::io::Write;

use pyo3::prelude::*;

mod convert;
mod errors;
mod lease;
mod project;
mod registry;
mod types;

/// Runs the `portreg` command line on `argv` (program name first) with the
/// GIL released and returns its exit status. Output goes straight to file
/// descriptors 1 and 2: flush Python's streams before calling.
#[pyfunction]
fn run_cli(py: Python<'_>, argv: Vec<OsString>) -> i32 {
    py.detach(|| {
        let code = portreg_cli::run(argv);
        let _ = std::io::stdout().flush();
        let _ = std::io::stderr().flush();
        code
    })
}

#[pymodule(name = "_native")]
fn native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<registry::PyRegistry>()?;
    m.add_class::<lease::PyLease>()?;
    m.add_class::<types::PyEntry>()?;
    m.add_class::<types::PyHolder>()?;
    m.add_class::<types::PyCleaned>()?;
    m.add_class::<types::PyWho>()?;
    m.add_class::<types::PyListenerInfo>()?;
    m.add_class::<types::PyConflict>()?;
    m.add_class::<types::PyHostClaim>()?;
    m.add_class::<types::PyKillReport>()?;
    m.add_class::<project::PyProject>()?;
    m.add_class::<project::PyProjectService>()?;
    m.add_function(wrap_pyfunction!(project::project, m)?)?;
    m.add_function(wrap_pyfunction!(run_cli, m)?)?;
    m.add_function(wrap_pyfunction!(lease::release_at_exit, m)?)?;
    m.add_function(wrap_pyfunction!(registry::lease_default, m)?)?;
    Ok(())
}
