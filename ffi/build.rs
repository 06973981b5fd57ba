//! Generates the C header from src/ with cbindgen: always into $OUT_DIR, and
//! into ../include/portreg.h when that directory exists (in the workspace, not
//! in a packaged crate, whose build must not write outside its own tree).

use std::path::{Path, PathBuf};

fn main() {
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=build.rs");

    let mut config = cbindgen::Config::from_file(dir.join("cbindgen.toml"))
        .unwrap_or_else(|e| panic!("cannot read ffi/cbindgen.toml: {e}"));
    let var = |k: &str| std::env::var(k).expect("set by cargo");
    config.after_includes = Some(format!(
        "\n/** The version of this header; `portreg_version()` gives the library's. */\n\
         #define PORTREG_VERSION \"{}\"\n\
         #define PORTREG_VERSION_MAJOR {}\n\
         #define PORTREG_VERSION_MINOR {}\n\
         #define PORTREG_VERSION_PATCH {}",
        var("CARGO_PKG_VERSION"),
        var("CARGO_PKG_VERSION_MAJOR"),
        var("CARGO_PKG_VERSION_MINOR"),
        var("CARGO_PKG_VERSION_PATCH"),
    ));
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(dir.join("src/lib.rs"))
        .generate()
        .unwrap_or_else(|e| panic!("cbindgen cannot generate portreg.h: {e}"));
    let mut header = Vec::new();
    bindings.write(&mut header);

    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    write_if_changed(&out.join("portreg.h"), &header);
    let include = dir.join("../include");
    if include.is_dir() {
        write_if_changed(&include.join("portreg.h"), &header);
    }
}

/// Writes atomically (temp file, then rename), and only when the content
/// differs: several builds (other targets, clippy) may run this at once.
fn write_if_changed(path: &Path, bytes: &[u8]) {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return;
    }
    let tmp = path.with_extension(format!("h.{}.tmp", std::process::id()));
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}
