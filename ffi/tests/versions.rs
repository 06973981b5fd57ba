//! One version for every package: the workspace's `version` in Cargo.toml.
//! The wheel takes it from Cargo (pyproject.toml's version is dynamic), and
//! the C header's macros come from it (`make header`); npm's package.json
//! files and the generated loader carry it as text, so this test fails when
//! one of them was not bumped with it.

use std::path::{Path, PathBuf};

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn json_version(path: &Path) -> String {
    let value: serde_json::Value = serde_json::from_str(&read(path))
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    value["version"]
        .as_str()
        .unwrap_or_else(|| panic!("{} has no \"version\"", path.display()))
        .to_owned()
}

#[test]
fn every_crate_takes_the_workspace_version() {
    let workspace = read(&root().join("Cargo.toml"));
    assert!(
        workspace.contains(&format!("[workspace.package]\nversion = \"{VERSION}\"")),
        "Cargo.toml's [workspace.package] version is not {VERSION}"
    );
    for krate in [
        "core",
        "cli",
        "dashboard",
        "supervisor",
        "ffi",
        "bindings-python",
        "bindings-node",
    ] {
        let manifest = read(&root().join(krate).join("Cargo.toml"));
        assert!(
            manifest.contains("\nversion.workspace = true\n"),
            "{krate}/Cargo.toml does not take version.workspace"
        );
    }
}

#[test]
fn the_wheel_takes_its_version_from_cargo() {
    let pyproject = read(&root().join("bindings-python/pyproject.toml"));
    assert!(
        pyproject.contains("dynamic = [\"version\"]"),
        "bindings-python/pyproject.toml must leave the version to maturin (dynamic = [\"version\"])"
    );
    assert!(
        !pyproject
            .lines()
            .any(|l| l.trim_start().starts_with("version =")),
        "bindings-python/pyproject.toml sets a version of its own"
    );
}

#[test]
fn npm_packages_and_the_loader_carry_the_workspace_version() {
    let node = root().join("bindings-node");
    let mut manifests = vec![node.join("package.json")];
    for dir in std::fs::read_dir(node.join("npm")).expect("bindings-node/npm") {
        manifests.push(
            dir.expect("bindings-node/npm entry")
                .path()
                .join("package.json"),
        );
    }
    assert!(
        manifests.len() >= 4,
        "bindings-node/npm has fewer than 3 platform packages"
    );
    manifests.push(node.join("package-lock.json"));
    for manifest in &manifests {
        assert_eq!(json_version(manifest), VERSION, "{}", manifest.display());
    }
    // The generated loader checks the platform package's version against it.
    let loader = read(&node.join("index.js"));
    let expected: Vec<&str> = loader
        .split("expected ")
        .skip(1)
        .map(|s| s.split(' ').next().unwrap_or_default())
        .collect();
    assert!(
        !expected.is_empty(),
        "bindings-node/index.js checks no platform package version"
    );
    assert!(
        expected.iter().all(|v| *v == VERSION),
        "bindings-node/index.js expects versions {expected:?}, not {VERSION}: run npm run build:debug"
    );
}

#[test]
fn the_header_declares_the_workspace_version() {
    let header = read(&root().join("include/portreg.h"));
    let mut parts = VERSION.split('.');
    for (macro_name, value) in [
        ("PORTREG_VERSION", format!("\"{VERSION}\"")),
        (
            "PORTREG_VERSION_MAJOR",
            parts.next().unwrap_or_default().to_owned(),
        ),
        (
            "PORTREG_VERSION_MINOR",
            parts.next().unwrap_or_default().to_owned(),
        ),
        (
            "PORTREG_VERSION_PATCH",
            parts.next().unwrap_or_default().to_owned(),
        ),
    ] {
        let line = format!("#define {macro_name} {value}\n");
        assert!(
            header.contains(&line),
            "include/portreg.h lacks `{}`: run make header",
            line.trim()
        );
    }
}
