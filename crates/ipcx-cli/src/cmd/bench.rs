//! `ipcx bench`.

use crate::cli::BenchArgs;

/// Runs `ipcx bench`; returns the exit status.
pub fn run(_args: BenchArgs) -> anyhow::Result<i32> {
    Err(ipcx::Error::unsupported("ipcx bench", "not built yet").into())
}
