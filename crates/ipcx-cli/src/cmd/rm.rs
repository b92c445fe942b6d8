//! `ipcx rm`.

use crate::cli::RmArgs;

/// Runs `ipcx rm`; returns the exit status.
pub fn run(_args: RmArgs) -> anyhow::Result<i32> {
    Err(ipcx::Error::unsupported("ipcx rm", "not built yet").into())
}
