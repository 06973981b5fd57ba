//! How the `portreg` binary starts: it sets up by itself what Rust's start-up
//! would (see src/main.rs), so a process started in odd conditions still
//! behaves.

mod common;

use std::process::Command;

use common::*;

/// Started with stdout closed (`>&-`), `portreg lease` must not open
/// registry.lock (the first file it opens, kept open) as descriptor 1 and
/// print the port into it: a closed descriptor is reopened on /dev/null
/// first, the lease succeeds and every file stays as written.
#[test]
fn closed_standard_descriptors_never_receive_the_registrys_files() {
    let reg = Reg::new();
    let status = Command::new("sh")
        .arg("-c")
        .arg(r#"exec "$0" --registry "$1" lease web --pid "$2" >&-"#)
        .arg(bin())
        .arg(&reg.path)
        .arg(std::process::id().to_string())
        .env_remove("PORTREG_HOME")
        .env_remove("PORTREG_RANGE")
        .status()
        .unwrap();
    assert!(status.success(), "lease with closed descriptors: {status}");
    assert_eq!(
        std::fs::metadata(reg.path.join("registry.lock"))
            .unwrap()
            .len(),
        0,
        "registry.lock received output"
    );
    for file in ["registry.json", "leases.json"] {
        let text = std::fs::read_to_string(reg.path.join(file)).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{file} is not JSON ({e}): {text:?}"));
        assert_eq!(parsed["version"], 1, "{file}: {text}");
    }
    let entry = reg.json(&["get", "web", "--json"]);
    assert_eq!(entry["state"], "active", "{entry}");
    assert_eq!(entry["holder"]["pid"], std::process::id(), "{entry}");
    let port = reg.run(&["get", "web"]);
    assert_eq!(stdout(&port).trim(), entry["port"].to_string());
}
