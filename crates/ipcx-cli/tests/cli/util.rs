//! Shared helpers for the CLI tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// `ipcx` as built by cargo for these tests.
pub fn ipcx() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("ipcx").expect("ipcx binary")
}

/// `ipcx` as a std Command, for spawning in the background.
pub fn ipcx_std() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin("ipcx"))
}

/// A name unique to this test process and call, for kernel objects.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The seed's C sources (`IPCX_SEED_DIR`, or `../shared/seed/c` beside the repository).
pub fn seed_dir() -> PathBuf {
    match std::env::var_os("IPCX_SEED_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/seed/c"),
    }
}

/// Compiles one of the seed's C programs into `dir` and returns its path.
pub fn seed_c(dir: &Path, name: &str) -> PathBuf {
    let src = seed_dir().join(format!("{name}.c"));
    let out = dir.join(name);
    let status = Command::new("cc")
        .arg("-w")
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .status()
        .expect("running cc");
    assert!(status.success(), "compiling {}", src.display());
    out
}
