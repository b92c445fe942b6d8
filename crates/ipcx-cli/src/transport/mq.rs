//! `ipcx send` / `ipcx recv` for mq endpoints.

use ipcx::Endpoint;

use crate::cli::{RecvArgs, SendArgs};

/// Sends stdin or `--message` to the endpoint.
pub fn send(endpoint: &Endpoint, _args: &SendArgs) -> anyhow::Result<()> {
    Err(ipcx::Error::unsupported(format!("endpoint {endpoint}"), "not built yet").into())
}

/// Receives from the endpoint to stdout.
pub fn recv(endpoint: &Endpoint, _args: &RecvArgs) -> anyhow::Result<()> {
    Err(ipcx::Error::unsupported(format!("endpoint {endpoint}"), "not built yet").into())
}
