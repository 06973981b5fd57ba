//! The names of every file in a registry directory, written and read back
//! here only: the two files and the lock, the temp files a write goes
//! through (`.TARGET.PID.N.tmp`), the spare file of `leases.json`, and
//! where a corrupt `registry.json` is moved aside.

/// The durable entries.
pub const REGISTRY_FILE: &str = "registry.json";
/// The live holders.
pub const LEASES_FILE: &str = "leases.json";
/// Taken shared to read, exclusive to change anything.
pub const LOCK_FILE: &str = "registry.lock";

/// The temp file `pid` writes `target` through, its `n`th:
/// `.TARGET.PID.N.tmp`.
pub(crate) fn temp_name(target: &str, pid: u32, n: u64) -> String {
    format!(".{target}.{pid}.{n}.tmp")
}

/// The pid in a name [`temp_name`] made; `None` for any other name.
pub(crate) fn temp_pid(name: &str) -> Option<u32> {
    let inner = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let mut parts = inner.rsplitn(3, '.');
    let _n = parts.next()?;
    let pid = parts.next()?;
    parts.next()?;
    pid.parse().ok()
}

/// The spare file that `target`'s next bytes are staged in (where names
/// can be exchanged: Linux with glibc).
pub(crate) fn spare_name(target: &str) -> String {
    format!(".{target}.spare")
}

/// Where a corrupt `registry.json` moved aside at `secs` (Unix time) goes:
/// `registry.json.corrupt-SECS`, then `.1`, `.2`... when that is taken.
pub(crate) fn corrupt_name(secs: u64, k: u32) -> String {
    if k == 0 {
        format!("{REGISTRY_FILE}.corrupt-{secs}")
    } else {
        format!("{REGISTRY_FILE}.corrupt-{secs}.{k}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_parse_back_to_their_pid() {
        for (target, pid, n) in [
            (REGISTRY_FILE, 1, 0),
            (LEASES_FILE, 4_194_304, u64::MAX),
            ("x", 77, 3),
        ] {
            let name = temp_name(target, pid, n);
            assert!(name.starts_with('.') && name.ends_with(".tmp"), "{name}");
            assert_eq!(temp_pid(&name), Some(pid), "{name}");
        }
        assert_eq!(temp_name(REGISTRY_FILE, 12, 3), ".registry.json.12.3.tmp");
        for other in [
            REGISTRY_FILE,
            LEASES_FILE,
            LOCK_FILE,
            ".leases.json.spare",
            ".registry.json.abc.1.tmp",
            "registry.json.12.3.tmp",
            ".12.3.tmp",
            ".x.tmp",
            "registry.json.corrupt-1700000000",
        ] {
            assert_eq!(temp_pid(other), None, "{other}");
        }
    }

    #[test]
    fn corrupt_names_never_repeat() {
        assert_eq!(
            corrupt_name(1_700_000_000, 0),
            "registry.json.corrupt-1700000000"
        );
        assert_eq!(
            corrupt_name(1_700_000_000, 2),
            "registry.json.corrupt-1700000000.2"
        );
        let names: std::collections::HashSet<String> = (0..5).map(|k| corrupt_name(1, k)).collect();
        assert_eq!(names.len(), 5);
        assert_eq!(spare_name(LEASES_FILE), ".leases.json.spare");
    }
}
