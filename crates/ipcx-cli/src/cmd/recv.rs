//! `ipcx recv ENDPOINT`: an endpoint to stdout.

use anyhow::Context;
use ipcx::Endpoint;

use crate::cli::RecvArgs;
use crate::transport;

/// Runs `ipcx recv`; returns the exit status.
pub fn run(args: RecvArgs) -> anyhow::Result<i32> {
    let endpoint: Endpoint = args.endpoint.parse().context("recv")?;
    match &endpoint {
        Endpoint::Fifo { .. } => transport::fifo::recv(&endpoint, &args)?,
        Endpoint::PosixMq { .. } | Endpoint::SysvMq { .. } => transport::mq::recv(&endpoint, &args)?,
        Endpoint::SysvShm { .. } => transport::sysvshm::recv(&endpoint, &args)?,
        Endpoint::Shm { .. } => transport::ring::recv(&endpoint, &args)?,
        Endpoint::Unix { .. } | Endpoint::Tcp { .. } | Endpoint::Udp { .. } => {
            transport::socket::recv(&endpoint, &args)?
        }
        Endpoint::Pipe => anyhow::bail!(
            "recv pipe: an anonymous pipe has no name another process could open; use it through `ipcx tour pipe` or `ipcx bench`, or use fifo:PATH"
        ),
        other => anyhow::bail!("recv: endpoint {other} is not supported"),
    }
    Ok(0)
}
