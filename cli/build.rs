//! Links the `portreg` binary's unwinder statically on Linux with glibc.
//!
//! Rust's standard library asks for `-lgcc_s` there, so every start of the
//! binary maps libgcc_s.so.1 and resolves its symbols: about 0.1 ms of a
//! `portreg get` that takes about 1 ms (measured with hyperfine; see
//! BENCHMARKS.md). GCC ships the same unwinder as a static archive,
//! libgcc_eh.a, which is what `gcc -static-libgcc` links. A copy of it named
//! libgcc_s.a, in a directory the linker searches before GCC's own, answers
//! `-lgcc_s` instead. Only the binary is linked this way (the Python and
//! Node modules and libportreg keep the shared unwinder of the process that
//! loads them), and only when building on the machine that runs the result:
//! where libgcc_eh.a cannot be found the build links as before.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=CC");
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let native = var("TARGET") == var("HOST");
    if !(native && var("CARGO_CFG_TARGET_OS") == "linux" && var("CARGO_CFG_TARGET_ENV") == "gnu") {
        return;
    }
    let Some(archive) = libgcc_eh() else {
        println!("cargo:warning=libgcc_eh.a not found: `portreg` loads libgcc_s.so.1 at start");
        return;
    };
    let dir = PathBuf::from(var("OUT_DIR")).join("static-unwinder");
    let copied = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::copy(&archive, dir.join("libgcc_s.a")));
    if copied.is_ok() {
        println!("cargo:rerun-if-changed={}", archive.display());
        println!("cargo:rustc-link-arg-bins=-L{}", dir.display());
    }
}

/// The C compiler's libgcc_eh.a: `cc -print-file-name` prints its path, or
/// the bare name when it has none.
fn libgcc_eh() -> Option<PathBuf> {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let mut words = cc.split_whitespace();
    let out = Command::new(words.next()?)
        .args(words)
        .arg("-print-file-name=libgcc_eh.a")
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    (out.status.success() && path.is_absolute() && path.is_file()).then_some(path)
}
