//! `ipcx lock`.

use crate::cli::LockArgs;

/// Runs `ipcx lock`; returns the exit status.
pub fn run(_args: LockArgs) -> anyhow::Result<i32> {
    Err(ipcx::Error::unsupported("ipcx lock", "not built yet").into())
}
