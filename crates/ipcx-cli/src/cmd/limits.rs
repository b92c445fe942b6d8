//! `ipcx limits`.

use crate::cli::LimitsArgs;

/// Runs `ipcx limits`; returns the exit status.
pub fn run(_args: LimitsArgs) -> anyhow::Result<i32> {
    Err(ipcx::Error::unsupported("ipcx limits", "not built yet").into())
}
