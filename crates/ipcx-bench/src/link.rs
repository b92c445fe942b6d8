//! What every measured mechanism provides: a two-way message link between the
//! two processes, and how each side sets it up.

use std::os::fd::OwnedFd;

/// One process's end of a two-way link carrying whole messages.
pub(crate) trait Link {
    /// Sends one message of exactly `msg.len()` bytes.
    fn send(&mut self, msg: &[u8]) -> anyhow::Result<()>;
    /// Receives one message of exactly `buf.len()` bytes into `buf`; a
    /// message of another length is an error.
    fn recv(&mut self, buf: &mut [u8]) -> anyhow::Result<()>;
}

/// What the parent hands its peer, and how it finishes its own side.
pub(crate) struct Setup {
    /// Names, keys or ports the child needs, as JSON.
    pub params: serde_json::Value,
    /// Descriptors passed to the child (pipe ends, a memfd, a socket).
    pub fds: Vec<OwnedFd>,
    /// Finishes the parent's side once the child has its parameters (may
    /// block until the child has joined, e.g. `accept` or a FIFO `open`).
    pub finish: Box<dyn FnOnce() -> anyhow::Result<Box<dyn Link>>>,
}

/// How a mechanism is set up on each side.
pub(crate) trait Driver: Sync {
    /// `Err(reason)` when the mechanism cannot carry a message of `size`
    /// bytes, naming the limit, e.g. `"limit msgmax = 8192 B (/proc/sys/kernel/msgmax)"`.
    fn check_size(&self, size: usize) -> Result<(), String>;
    /// The parent's side: creates the objects, sized for messages of up to
    /// `max_size` bytes.
    fn create(&self, max_size: usize) -> anyhow::Result<Setup>;
    /// The child's side: opens what the parent created.
    fn join(
        &self,
        params: &serde_json::Value,
        fds: Vec<OwnedFd>,
        max_size: usize,
    ) -> anyhow::Result<Box<dyn Link>>;
    /// For lossy transports (UDP): how many messages may be in flight in the
    /// throughput scenario before the sender waits for a 1-byte credit.
    fn window(&self, _size: usize) -> Option<u64> {
        None
    }
}

/// Finishes immediately with an already built link.
pub(crate) fn ready(
    link: impl Link + 'static,
) -> Box<dyn FnOnce() -> anyhow::Result<Box<dyn Link>>> {
    Box::new(move || Ok(Box::new(link) as Box<dyn Link>))
}

/// Takes the next descriptor handed over by the parent.
pub(crate) fn take_fd(
    fds: &mut std::vec::IntoIter<OwnedFd>,
    what: &str,
) -> anyhow::Result<OwnedFd> {
    fds.next()
        .ok_or_else(|| anyhow::anyhow!("bench peer: missing descriptor for {what}"))
}

/// Reads a string parameter.
pub(crate) fn param_str<'a>(params: &'a serde_json::Value, key: &str) -> anyhow::Result<&'a str> {
    params
        .get(key)
        .and_then(|v| v.as_str())
        .ok_or_else(|| anyhow::anyhow!("bench peer: missing parameter {key:?}"))
}

/// Reads an integer parameter.
pub(crate) fn param_i64(params: &serde_json::Value, key: &str) -> anyhow::Result<i64> {
    params
        .get(key)
        .and_then(|v| v.as_i64())
        .ok_or_else(|| anyhow::anyhow!("bench peer: missing parameter {key:?}"))
}

/// A name unique to this process and call, for named kernel objects.
pub(crate) fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Checks that a received message has the expected length.
pub(crate) fn expect_len(what: &str, got: usize, want: usize) -> anyhow::Result<()> {
    if got != want {
        anyhow::bail!("{what}: received {got} bytes, expected a {want}-byte message");
    }
    Ok(())
}
