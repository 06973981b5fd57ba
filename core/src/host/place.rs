//! Where the host-wide claims live (`PORTREG_CLAIMS_DIR`, else `claims_dir`
//! in the registry's config.toml, else /tmp/portreg-claims) and whether that
//! directory is safe to share: a directory that one user could use to delete
//! or forge another's claims is refused, with what to fix.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sys::stat::{fchmod, fstat, Mode, SFlag};
use nix::unistd::mkdir;
use nix::unistd::{access, AccessFlags};

use crate::config::ConfigFile;

/// The shared directory any user can create: sticky and world-writable like /tmp.
pub const DEFAULT_CLAIMS_DIR: &str = "/tmp/portreg-claims";
/// Overrides where claims live; `off` keeps leases private to the registry.
pub const CLAIMS_DIR_VAR: &str = "PORTREG_CLAIMS_DIR";
/// Overrides the per-user cap.
pub const CLAIMS_CAP_VAR: &str = "PORTREG_CLAIMS_CAP";
/// How many live claims of one user others honour, and the most a user's
/// own leases may hold at once.
pub const DEFAULT_CLAIMS_CAP: usize = 512;

/// Where claims live, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Place {
    /// Sharing turned off (`off`): leases are private to the registry.
    Off,
    /// The default directory: refusing it warns and leases go on privately
    /// (anyone could have created it; that must not stop anyone's work).
    Default(PathBuf),
    /// Set by an administrator or the user (the source is named in errors):
    /// refusing it is an error, never a silent fallback.
    Explicit(PathBuf, String),
}

/// The claims settings of a registry, from the environment and its
/// `config`, with a warning for a setting that could not be read (it is
/// then left at its default).
pub(crate) fn settings(config_file: &ConfigFile) -> (Place, usize, Option<String>) {
    let config = &config_file.path;
    let from_file = |key: &str| config_file.table().and_then(|t| t.get(key)).cloned();
    let mut warning = None;
    let place = match std::env::var_os(CLAIMS_DIR_VAR).filter(|v| !v.is_empty()) {
        Some(v) => place_of(PathBuf::from(v), CLAIMS_DIR_VAR.to_string()),
        None => match from_file("claims_dir") {
            Some(toml::Value::String(s)) if !s.is_empty() => place_of(
                PathBuf::from(s),
                format!("claims_dir in {}", config.display()),
            ),
            None => Place::Default(PathBuf::from(DEFAULT_CLAIMS_DIR)),
            Some(_) => {
                warning = Some(format!(
                    "claims_dir in {} must be a path string (or \"off\"); using {DEFAULT_CLAIMS_DIR}",
                    config.display()
                ));
                Place::Default(PathBuf::from(DEFAULT_CLAIMS_DIR))
            }
        },
    };
    let cap = match std::env::var(CLAIMS_CAP_VAR).ok().filter(|v| !v.is_empty()) {
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or(CLAIMS_CAP_VAR.to_string()),
        None => match from_file("claims_cap") {
            None => Ok(DEFAULT_CLAIMS_CAP),
            Some(toml::Value::Integer(n)) if n > 0 => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
            Some(_) => Err(format!("claims_cap in {}", config.display())),
        },
    };
    let cap = cap.unwrap_or_else(|source| {
        warning = Some(format!(
            "{source} must be a whole number above 0; using {DEFAULT_CLAIMS_CAP}"
        ));
        DEFAULT_CLAIMS_CAP
    });
    (place, cap, warning)
}

fn place_of(path: PathBuf, source: String) -> Place {
    if path.as_os_str() == "off" {
        Place::Off
    } else {
        Place::Explicit(path, source)
    }
}

/// Opens (creating if missing, mode 1777) the claims directory and checks
/// that it is safe to share. The error is one line: what is wrong, what to do.
pub(crate) fn open_dir(path: &Path, me: u32) -> Result<OwnedFd, String> {
    let shown = path.display();
    let created = create(path).map_err(|e| {
        format!(
            "cannot create the shared claims directory {shown}: {e}; create it (mode 1777) or set {CLAIMS_DIR_VAR} to one that exists"
        )
    })?;
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = open(path, flags, Mode::empty()).map_err(|e| match e {
        Errno::ELOOP => format!(
            "the shared claims directory {shown} is a symbolic link, which anyone could point elsewhere; remove it (or ask root to) so portreg can create the real one"
        ),
        Errno::ENOTDIR if path.is_symlink() => format!(
            "the shared claims directory {shown} is a symbolic link, which anyone could point elsewhere; remove it (or ask root to) so portreg can create the real one"
        ),
        Errno::ENOTDIR => format!(
            "{shown} is not a directory; remove it (or ask root to) so portreg can create the shared claims directory there"
        ),
        e => format!("cannot open the shared claims directory {shown}: {e}"),
    })?;
    let st = fstat(fd.as_fd()).map_err(|e| format!("cannot inspect {shown}: {e}"))?;
    let mut mode = st.st_mode & 0o7777;
    if created && st.st_uid == me && mode != 0o1777 {
        // mkdir's mode went through the umask: make it what a shared area needs.
        fchmod(fd.as_fd(), Mode::from_bits_truncate(0o1777))
            .map_err(|e| format!("cannot make {shown} shared (chmod 1777): {e}"))?;
        mode = 0o1777;
    }
    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFDIR {
        return Err(format!("{shown} is not a directory; remove it"));
    }
    let sticky = mode & 0o1000 != 0;
    let owner = crate::liveness::user_name(st.st_uid);
    if mode & 0o022 != 0 && !sticky {
        return Err(format!(
            "the shared claims directory {shown} (owner {owner}, mode {mode:o}) is writable by others without the sticky bit, so any user could delete or replace another's claims; run `chmod 1777 {shown}` as {owner} or root, or remove it"
        ));
    }
    if st.st_uid != me && st.st_uid != 0 && !sticky {
        return Err(format!(
            "the shared claims directory {shown} belongs to {owner} and is not sticky, so {owner} could delete or replace your claims; ask {owner} or root to remove it or `chmod 1777` it"
        ));
    }
    if access(path, AccessFlags::W_OK | AccessFlags::X_OK).is_err() {
        return Err(format!(
            "you cannot create claims in the shared claims directory {shown} (owner {owner}, mode {mode:o}); ask {owner} or root to `chmod 1777 {shown}` or remove it"
        ));
    }
    Ok(fd)
}

/// Creates `path` as a shared directory (mode 1777) unless something is
/// there already; true when it made it. The directory appears with its final
/// mode: it is made under a private temp name, opened up, then renamed into
/// place without replacing anything (another user's first look must never
/// see it half made).
#[cfg(target_os = "linux")]
fn create(path: &Path) -> nix::Result<bool> {
    use nix::fcntl::AT_FDCWD;
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    if std::fs::symlink_metadata(path).is_ok() {
        return Ok(false);
    }
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(Errno::EINVAL);
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let tmp = parent.join(format!(
        ".{}.{}.{nanos}.tmp",
        name.to_string_lossy(),
        crate::pid::my_pid()
    ));
    mkdir(&tmp, Mode::from_bits_truncate(0o700))?;
    let made = nix::sys::stat::fchmodat(
        AT_FDCWD,
        &tmp,
        Mode::from_bits_truncate(0o1777),
        nix::sys::stat::FchmodatFlags::NoFollowSymlink,
    )
    .and_then(|()| {
        // rustix's system call: nix offers renameat2 for glibc alone.
        renameat_with(CWD, &tmp, CWD, path, RenameFlags::NOREPLACE)
            .map_err(|e| Errno::from_raw(e.raw_os_error()))
    });
    match made {
        Ok(()) => Ok(true),
        Err(e) => {
            let _ = std::fs::remove_dir(&tmp);
            if e == Errno::EEXIST {
                Ok(false)
            } else {
                Err(e)
            }
        }
    }
}

/// Elsewhere: mkdir, then open it up (a look in between may refuse it).
#[cfg(not(target_os = "linux"))]
fn create(path: &Path) -> nix::Result<bool> {
    match mkdir(path, Mode::from_bits_truncate(0o1777)) {
        Ok(()) => Ok(true),
        Err(Errno::EEXIST) => Ok(false),
        Err(e) => Err(e),
    }
}
