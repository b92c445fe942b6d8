//! `ipcx serve`.

use crate::cli::ServeArgs;

/// Runs `ipcx serve`; returns the exit status.
pub fn run(_args: ServeArgs) -> anyhow::Result<i32> {
    Err(ipcx::Error::unsupported("ipcx serve", "not built yet").into())
}
