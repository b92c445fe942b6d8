//! `ipcx send ENDPOINT`: stdin (or `--message`) to an endpoint.

use anyhow::Context;
use ipcx::Endpoint;

use crate::cli::SendArgs;
use crate::transport;

/// Runs `ipcx send`; returns the exit status.
pub fn run(args: SendArgs) -> anyhow::Result<i32> {
    let endpoint: Endpoint = args.endpoint.parse().context("send")?;
    match &endpoint {
        Endpoint::Fifo { .. } => transport::fifo::send(&endpoint, &args)?,
        Endpoint::PosixMq { .. } | Endpoint::SysvMq { .. } => transport::mq::send(&endpoint, &args)?,
        Endpoint::SysvShm { .. } => transport::sysvshm::send(&endpoint, &args)?,
        Endpoint::Shm { .. } => transport::ring::send(&endpoint, &args)?,
        Endpoint::Unix { .. } | Endpoint::Tcp { .. } | Endpoint::Udp { .. } => {
            transport::socket::send(&endpoint, &args)?
        }
        Endpoint::Pipe => anyhow::bail!(
            "send pipe: an anonymous pipe has no name another process could open; use it through `ipcx tour pipe` or `ipcx bench`, or use fifo:PATH"
        ),
        other => anyhow::bail!("send: endpoint {other} is not supported"),
    }
    Ok(0)
}
