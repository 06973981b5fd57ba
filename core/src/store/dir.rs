//! The registry directory: created private (0700) and refused when another
//! user owns it or others can write it; the lock file; a corrupt
//! `registry.json` moved aside; temp files of dead writers swept away.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::names::{corrupt_name, temp_pid, LOCK_FILE, REGISTRY_FILE};
use super::read::open_failed;
use crate::error::{Error, Result};
use crate::liveness::{is_alive, user_name};

/// Moves a corrupt `registry.json` aside to `registry.json.corrupt-<unix-seconds>`
/// (never overwriting an earlier one) and returns the new path.
pub(crate) fn quarantine(dir: &Path) -> Result<PathBuf> {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let from = dir.join(REGISTRY_FILE);
    for k in 0.. {
        let to = dir.join(corrupt_name(secs, k));
        // link + unlink: fails instead of overwriting an existing file.
        match fs::hard_link(&from, &to) {
            Ok(()) => {
                fs::remove_file(&from)
                    .map_err(|e| Error::io(format!("cannot move {} aside", from.display()), e))?;
                let _ = File::open(dir).and_then(|d| d.sync_all());
                return Ok(to);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(Error::io(
                    format!("cannot move {} aside", from.display()),
                    e,
                ))
            }
        }
    }
    unreachable!()
}

/// Creates the registry directory (mode 0700) if needed and refuses one that
/// another user owns or others can write.
pub(crate) fn prepare_dir(dir: &Path) -> Result<()> {
    match fs::symlink_metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                if !parent.is_dir() {
                    return Err(Error::io(
                        format!(
                            "cannot create registry directory {}: its parent {} does not exist; create it first or choose another path",
                            dir.display(),
                            parent.display()
                        ),
                        io::Error::from(io::ErrorKind::NotFound),
                    ));
                }
            }
            match fs::DirBuilder::new().mode(0o700).create(dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return Err(Error::io(
                        format!("cannot create registry directory {}", dir.display()),
                        e,
                    ))
                }
            }
        }
        Err(e) => {
            return Err(Error::io(
                format!("cannot read registry directory {}", dir.display()),
                e,
            ))
        }
        Ok(_) => {}
    }
    let meta =
        fs::metadata(dir).map_err(|e| Error::io(format!("cannot read {}", dir.display()), e))?;
    if !meta.is_dir() {
        return Err(Error::io(
            format!("registry path {} is not a directory", dir.display()),
            io::Error::from(io::ErrorKind::AlreadyExists),
        ));
    }
    check_owned(dir, &meta, "directory")?;
    if meta.mode() & 0o022 != 0 {
        return Err(Error::Permission(format!(
            "registry directory {} is writable by other users (mode {:o}); a registry is private to one user. Fix it with: chmod 700 {}",
            dir.display(),
            meta.mode() & 0o777,
            dir.display()
        )));
    }
    Ok(())
}

pub(crate) fn check_owned(path: &Path, meta: &fs::Metadata, what: &str) -> Result<()> {
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        return Err(Error::Permission(format!(
            "registry {what} {} belongs to {} (uid {}), not to you ({}, uid {me}); a registry is never shared between users. Use your own (set PORTREG_HOME or --registry), or fix the owner: chown {} {}",
            path.display(),
            user_name(meta.uid()),
            meta.uid(),
            user_name(me),
            user_name(me),
            path.display()
        )));
    }
    Ok(())
}

/// Opens (creating, 0600) the lock file and checks it is ours.
pub(crate) fn open_lock(dir: &Path) -> Result<File> {
    let path = dir.join(LOCK_FILE);
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(&path)
        .map_err(|e| open_failed(&path, "open lock file", e))?;
    let meta = f
        .metadata()
        .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    check_owned(&path, &meta, "lock file")?;
    Ok(f)
}

/// Removes the temp files (see [`temp_pid`]) of writers that are no longer
/// running: what a write killed half-way leaves behind.
pub(crate) fn remove_stale_temps(dir: &Path) {
    let Ok(rd) = fs::read_dir(dir) else {
        return;
    };
    for ent in rd.flatten() {
        let name = ent.file_name();
        if let Some(pid) = temp_pid(&name.to_string_lossy()) {
            if matches!(is_alive(pid, None), Ok(false)) {
                let _ = fs::remove_file(ent.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::names::temp_name;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn quarantine_keeps_every_corrupt_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut moved = Vec::new();
        for i in 0..3 {
            fs::write(dir.path().join(REGISTRY_FILE), format!("bad {i}")).unwrap();
            moved.push(quarantine(dir.path()).unwrap());
        }
        assert!(!dir.path().join(REGISTRY_FILE).exists());
        for (i, p) in moved.iter().enumerate() {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            assert!(name.starts_with("registry.json.corrupt-"), "{name}");
            assert_eq!(fs::read_to_string(p).unwrap(), format!("bad {i}"));
        }
        let err = quarantine(dir.path()).unwrap_err();
        assert_eq!(err.code(), crate::ErrorCode::Io, "nothing to move: {err}");
    }

    #[test]
    fn directory_is_private_and_checked() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("reg");
        prepare_dir(&dir).unwrap();
        assert_eq!(fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
        prepare_dir(&dir).unwrap();
        let lock = open_lock(&dir).unwrap();
        assert_eq!(lock.metadata().unwrap().mode() & 0o777, 0o600);
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
        let e = prepare_dir(&dir).unwrap_err();
        assert_eq!(e.code(), crate::ErrorCode::Permission);
        assert!(e.to_string().contains("chmod 700"), "{e}");
        let e = prepare_dir(&parent.path().join("no/such")).unwrap_err();
        assert!(e.to_string().contains("does not exist"), "{e}");
    }

    #[test]
    fn stale_temps_of_dead_writers_only_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let names = [
            temp_name(REGISTRY_FILE, dead, 0),
            temp_name(REGISTRY_FILE, std::process::id(), 0),
            ".leases.json.spare".to_string(),
        ];
        for n in &names {
            fs::write(dir.path().join(n), b"x").unwrap();
        }
        remove_stale_temps(dir.path());
        let left: Vec<bool> = names.iter().map(|n| dir.path().join(n).exists()).collect();
        assert_eq!(left, [false, true, true]);
    }
}
