//! `ipcx ls`.

use crate::cli::LsArgs;

/// Runs `ipcx ls`; returns the exit status.
pub fn run(_args: LsArgs) -> anyhow::Result<i32> {
    Err(ipcx::Error::unsupported("ipcx ls", "not built yet").into())
}
