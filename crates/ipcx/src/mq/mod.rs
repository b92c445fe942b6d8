//! Message queues: System V ([`sysv`]) and POSIX ([`posix`]).
//!
//! Both carry whole messages with boundaries kept, and both are kernel objects
//! that outlive the processes using them, so ipcx gives them an owner: the
//! handle that created a queue removes it on drop unless told to
//! [keep](sysv::MessageQueue::keep) it; handles that opened an existing queue
//! never remove it.
//!
//! | | System V ([`sysv::MessageQueue`]) | POSIX ([`posix::MessageQueue`]) |
//! |---|---|---|
//! | named by | a [`Key`](crate::key::Key) (`ftok`, a number, or private) | a name `/NAME` |
//! | ordering | FIFO, selectable by message *type* | highest *priority* first, FIFO within one |
//! | sizes | each message ≤ `msgmax`, queue ≤ `msg_qbytes` bytes | `mq_maxmsg` messages of ≤ `mq_msgsize` bytes |
//! | waiting | blocking or `IPC_NOWAIT`; timed form polls with backoff | `mq_timedsend`/`mq_timedreceive`; pollable fd |
//!
//! # Limits
//! Requests are checked against the kernel's limits before the system call
//! (where the kernel would answer a bare `EINVAL` or a misleading `EMFILE`), and
//! the error names the limit, its value and where it comes from:
//! [`Error::MessageTooLarge`](crate::Error::MessageTooLarge) for a message over
//! `/proc/sys/kernel/msgmax` or a queue's `mq_msgsize`,
//! [`Error::LimitExceeded`](crate::Error::LimitExceeded) for a queue over
//! `msgmnb`, `msg_max`, `msgsize_max` or `RLIMIT_MSGQUEUE`.
//!
//! # References
//! - [sysvipc(7)](https://man7.org/linux/man-pages/man7/sysvipc.7.html),
//!   [msgget(2)](https://man7.org/linux/man-pages/man2/msgget.2.html),
//!   [msgop(2)](https://man7.org/linux/man-pages/man2/msgop.2.html),
//!   [msgctl(2)](https://man7.org/linux/man-pages/man2/msgctl.2.html)
//! - [mq_overview(7)](https://man7.org/linux/man-pages/man7/mq_overview.7.html)

pub mod posix;
pub mod sysv;

/// Whether a builder creates a new queue, opens an existing one, or either.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CreationMode {
    /// Create a new queue; fail with
    /// [`Error::AlreadyExists`](crate::Error::AlreadyExists) if it exists
    /// (`IPC_CREAT | IPC_EXCL`, `O_CREAT | O_EXCL`). The handle owns the queue.
    #[default]
    CreateExclusive,
    /// Open an existing queue; fail with
    /// [`Error::NotFound`](crate::Error::NotFound) if there is none. The
    /// handle never removes the queue.
    Open,
    /// Open the queue if it exists, else create it. The handle owns the queue
    /// only if it created it ([`is_owner`](sysv::MessageQueue::is_owner)).
    OpenOrCreate,
}

/// `CAP_SYS_RESOURCE`, bit 24 of the capability sets.
const CAP_SYS_RESOURCE: u32 = 24;

/// Whether the calling thread has `CAP_SYS_RESOURCE` in its effective set
/// (read from `/proc/thread-self/status`), which lets it exceed `msgmnb` and
/// the POSIX queue limits `msg_max` / `msgsize_max` (up to the kernel's hard
/// limits). Being root is not enough: containers often drop the capability.
pub fn has_cap_sys_resource() -> bool {
    let text = std::fs::read_to_string("/proc/thread-self/status")
        .or_else(|_| std::fs::read_to_string("/proc/self/status"))
        .unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << CAP_SYS_RESOURCE) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_probe_matches_proc() {
        let text = std::fs::read_to_string("/proc/self/status").unwrap();
        let caps = text
            .lines()
            .find_map(|l| l.strip_prefix("CapEff:"))
            .map(|h| u64::from_str_radix(h.trim(), 16).unwrap())
            .unwrap();
        assert_eq!(has_cap_sys_resource(), caps & (1 << 24) != 0);
    }
}
