//! One `Registry` per directory for the whole process, behind the
//! module-level functions of every language (`portreg_core::lease`, C's
//! one-call functions, Python's and Node's module functions), so that
//! repeated calls keep the registry's cache instead of opening it anew.
//!
//! What a Registry decides once when it opens (the directory is ours and
//! private, the range from PORTREG_RANGE or config.toml) is checked again on
//! every call by a cheap fingerprint: two `stat`s and one variable. When any
//! of it changed, the registry is opened afresh.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::config::{default_dir, CONFIG_FILE, RANGE_VAR};
use crate::error::Result;
use crate::pid::PerProcess;
use crate::registry::Registry;

/// What opening a registry depended on.
#[derive(PartialEq, Eq)]
struct Fingerprint {
    dir: Option<(u64, u64, u32, u32)>,
    config: Option<(u64, u64, i64, i64, i64, i64)>,
    range_var: Option<std::ffi::OsString>,
}

impl Fingerprint {
    /// Of `dir`, whose config.toml is `config`.
    fn of(dir: &Path, config: &Path) -> Fingerprint {
        let dir_meta = fs::metadata(dir).ok();
        let config = fs::metadata(config).ok();
        Fingerprint {
            dir: dir_meta.map(|m| (m.dev(), m.ino(), m.uid(), m.mode())),
            config: config.map(|m| {
                (
                    m.ino(),
                    m.size(),
                    m.mtime(),
                    m.mtime_nsec(),
                    m.ctime(),
                    m.ctime_nsec(),
                )
            }),
            range_var: std::env::var_os(RANGE_VAR),
        }
    }
}

struct Open {
    dir: PathBuf,
    config: PathBuf,
    seen: Fingerprint,
    reg: Arc<Registry>,
}

/// This process's own: a forked child opens its registries afresh rather
/// than share objects a thread of its parent may have been using at the fork.
static OPEN: PerProcess<Mutex<Vec<Open>>> = PerProcess::new();

impl Registry {
    /// The process-wide registry for `dir`: opened on first use, then the
    /// same one for every call, as long as the directory, its config.toml and
    /// PORTREG_RANGE stay as they were.
    pub fn shared(dir: impl AsRef<Path>) -> Result<Arc<Registry>> {
        let dir = dir.as_ref();
        let mut open = OPEN
            .get_or_init(|| Mutex::new(Vec::new()))
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        // The same bytes first: comparing paths component by component is
        // dearer, and the module functions pass the same path every call.
        let same = |o: &&Open| o.dir.as_os_str() == dir.as_os_str() || o.dir == dir;
        if let Some(o) = open.iter().find(same) {
            let seen = Fingerprint::of(dir, &o.config);
            if o.seen == seen && seen.dir.is_some() {
                return Ok(o.reg.clone());
            }
        }
        let reg = Arc::new(Registry::open(dir)?);
        // Opening may have created the directory: fingerprint what it found.
        let config = dir.join(CONFIG_FILE);
        let seen = Fingerprint::of(dir, &config);
        open.retain(|o| o.dir != dir);
        open.push(Open {
            dir: dir.to_path_buf(),
            config,
            seen,
            reg: reg.clone(),
        });
        Ok(reg)
    }

    /// [`Registry::shared`] for the default directory (`$PORTREG_HOME`, else
    /// `~/.portreg`, looked up on every call).
    pub fn shared_default() -> Result<Arc<Registry>> {
        Registry::shared(default_dir()?)
    }
}
