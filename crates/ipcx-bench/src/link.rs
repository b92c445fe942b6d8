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

/// The kind of a System V object, for [`SysvTrack`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SysvKind {
    /// A message queue (`msgget`).
    Msg,
    /// A shared-memory segment (`shmget`).
    Shm,
    /// A semaphore set (`semget`).
    Sem,
}

/// The System V objects this process made and has not removed yet.
static LIVE_SYSV: std::sync::Mutex<Vec<(SysvKind, i32)>> = std::sync::Mutex::new(Vec::new());

fn live_sysv() -> std::sync::MutexGuard<'static, Vec<(SysvKind, i32)>> {
    LIVE_SYSV
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Lists a System V object this process made for [`remove_leftovers`] while
/// it lives; keep it next to the owner that removes the object on drop.
#[derive(Debug)]
pub(crate) struct SysvTrack(SysvKind, i32);

impl SysvTrack {
    pub(crate) fn new(kind: SysvKind, id: i32) -> SysvTrack {
        live_sysv().push((kind, id));
        SysvTrack(kind, id)
    }
}

impl Drop for SysvTrack {
    fn drop(&mut self) {
        live_sysv().retain(|&e| e != (self.0, self.1));
    }
}

/// Whether `name` is one that [`unique`] made in process `pid`: it starts with
/// `ipcx-bench-` and its first all-digit `-`-separated word is `pid`.
fn made_by(name: &str, pid: u32) -> bool {
    let Some(rest) = name.strip_prefix("ipcx-bench-") else {
        return false;
    };
    rest.split('-')
        .find(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit()))
        .is_some_and(|w| w == pid.to_string())
}

/// Removes the named objects this process made for a measurement and has not
/// removed yet: FIFO directories in the temporary directory, POSIX message
/// queues (`/dev/mqueue`) and POSIX shared-memory segments (`/dev/shm`).
///
/// Meant for a signal handler that ends the process without running the
/// owners' destructors. Errors are ignored (the process is exiting). The
/// System V objects (made with `IPC_PRIVATE`, so they have no name) are
/// removed by id while the measurement that made them lists them.
pub fn remove_leftovers() {
    let live = std::mem::take(&mut *live_sysv());
    for (kind, id) in live {
        crate::raw::remove_sysv(kind, id);
    }
    let pid = std::process::id();
    let dirs = [
        std::env::temp_dir(),
        "/dev/mqueue".into(),
        "/dev/shm".into(),
    ];
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            if !name.to_str().is_some_and(|n| made_by(n, pid)) {
                continue;
            }
            let path = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => {
                    let _ = std::fs::remove_dir_all(&path);
                }
                Ok(_) => {
                    let _ = std::fs::remove_file(&path);
                }
                Err(_) => {}
            }
        }
    }
}

/// Checks that a received message has the expected length.
pub(crate) fn expect_len(what: &str, got: usize, want: usize) -> anyhow::Result<()> {
    if got != want {
        anyhow::bail!("{what}: received {got} bytes, expected a {want}-byte message");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_by_matches_only_this_pid() {
        assert!(made_by("ipcx-bench-rawmq-6034-3-a", 6034));
        assert!(made_by("ipcx-bench-fifo-6034-0", 6034));
        assert!(made_by("ipcx-bench-dgram-peer-6034-12", 6034));
        assert!(!made_by("ipcx-bench-rawmq-6035-6034-a", 6034));
        assert!(!made_by("ipcx-bench-rawmq-60341-3", 6034));
        assert!(!made_by("other-6034-3", 6034));
        let own = unique("ipcx-bench-x");
        assert!(made_by(&own, std::process::id()));
    }
}
