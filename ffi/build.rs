//! libportreg.so carries the SONAME `libportreg.so.MAJOR` (MAJOR from this
//! crate's version), so a program linked with `-lportreg` records
//! `libportreg.so.MAJOR` and keeps loading every later library of the same
//! major version; the C tarball of `make dist` installs
//! `libportreg.so.MAJOR.MINOR.PATCH` with the two usual symlinks.
//!
//! Cargo itself only writes `libportreg.so`; so that programs linked against
//! a build in target/ (with `-Wl,-rpath` to it) still find the SONAME there,
//! this script also puts the symlink `libportreg.so.MAJOR -> libportreg.so`
//! next to cargo's outputs (the profile directory and its deps/).

use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux") {
        return;
    }
    let major =
        std::env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets CARGO_PKG_VERSION_MAJOR");
    let soname = format!("libportreg.so.{major}");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");

    // OUT_DIR is <profile dir>/build/portreg-ffi-HASH/out: the profile dir
    // (target/[TRIPLE/]PROFILE) is where cargo puts libportreg.so.
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let Some(profile_dir) = out.ancestors().nth(3) else {
        return;
    };
    if out
        .parent()
        .and_then(Path::parent)
        .and_then(Path::file_name)
        != Some("build".as_ref())
    {
        return; // not cargo's usual layout: leave the directory alone
    }
    // deps/ holds the copy the crate's own tests link against.
    for dir in [profile_dir.to_path_buf(), profile_dir.join("deps")] {
        let link = dir.join(&soname);
        if std::fs::read_link(&link).is_err() {
            // A dangling link until the library is linked, right after this.
            let _ = std::fs::remove_file(&link);
            if let Err(e) = std::os::unix::fs::symlink("libportreg.so", &link) {
                println!("cargo:warning=cannot create {}: {e}", link.display());
            }
        }
    }
}
