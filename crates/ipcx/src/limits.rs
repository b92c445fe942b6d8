//! Kernel limits that shape IPC, read where the kernel publishes them.
//!
//! Modules check a request against these before the system call, where the
//! kernel would answer with a bare `EINVAL`, so that the error can name the
//! limit, its value and its source.
//!
//! # References
//! [proc_sys_kernel(5)](https://man7.org/linux/man-pages/man5/proc_sys_kernel.5.html),
//! [proc_sys_fs(5)](https://man7.org/linux/man-pages/man5/proc_sys_fs.5.html),
//! [mq_overview(7)](https://man7.org/linux/man-pages/man7/mq_overview.7.html)

use std::path::Path;

use crate::error::{Error, Result};

/// A limit and where its value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcLimit {
    /// Short name, as the kernel documentation uses it (`msgmax`).
    pub name: &'static str,
    /// The file it is read from.
    pub path: &'static str,
}

/// Largest System V message, bytes.
pub const MSGMAX: ProcLimit = ProcLimit {
    name: "msgmax",
    path: "/proc/sys/kernel/msgmax",
};
/// Default and largest (for unprivileged callers) System V queue size, bytes.
pub const MSGMNB: ProcLimit = ProcLimit {
    name: "msgmnb",
    path: "/proc/sys/kernel/msgmnb",
};
/// Most System V message queues on the system.
pub const MSGMNI: ProcLimit = ProcLimit {
    name: "msgmni",
    path: "/proc/sys/kernel/msgmni",
};
/// Largest System V shared memory segment, bytes.
pub const SHMMAX: ProcLimit = ProcLimit {
    name: "shmmax",
    path: "/proc/sys/kernel/shmmax",
};
/// Total System V shared memory, pages.
pub const SHMALL: ProcLimit = ProcLimit {
    name: "shmall",
    path: "/proc/sys/kernel/shmall",
};
/// Most System V shared memory segments on the system.
pub const SHMMNI: ProcLimit = ProcLimit {
    name: "shmmni",
    path: "/proc/sys/kernel/shmmni",
};
/// Most messages in a POSIX queue (unprivileged callers).
pub const MQ_MSG_MAX: ProcLimit = ProcLimit {
    name: "msg_max",
    path: "/proc/sys/fs/mqueue/msg_max",
};
/// Largest POSIX queue message, bytes (unprivileged callers).
pub const MQ_MSGSIZE_MAX: ProcLimit = ProcLimit {
    name: "msgsize_max",
    path: "/proc/sys/fs/mqueue/msgsize_max",
};
/// Most POSIX queues on the system.
pub const MQ_QUEUES_MAX: ProcLimit = ProcLimit {
    name: "queues_max",
    path: "/proc/sys/fs/mqueue/queues_max",
};
/// Largest pipe capacity an unprivileged process may set, bytes.
pub const PIPE_MAX_SIZE: ProcLimit = ProcLimit {
    name: "pipe-max-size",
    path: "/proc/sys/fs/pipe-max-size",
};

impl ProcLimit {
    /// Reads the limit's current value.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the file is missing (no `/proc`), [`Error::Io`]
    /// for other read errors, [`Error::Corrupted`] when it does not hold a number.
    pub fn read(&self) -> Result<u64> {
        read_number(Path::new(self.path))
    }
}

/// Reads the first whitespace-separated number in a `/proc` file.
///
/// # Errors
/// As [`ProcLimit::read`].
pub fn read_number(path: &Path) -> Result<u64> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::os(format!("kernel limit {}", path.display()), "read", e))?;
    let first = text.split_ascii_whitespace().next().unwrap_or("");
    first.parse::<u64>().map_err(|_| Error::Corrupted {
        object: format!("kernel limit {}", path.display()),
        detail: format!("expected a number, found {first:?}"),
    })
}

/// Reads the four semaphore limits from `/proc/sys/kernel/sem`: SEMMSL (most
/// semaphores per set), SEMMNS (on the system), SEMOPM (operations per
/// `semop`), SEMMNI (sets on the system).
///
/// # Errors
/// As [`ProcLimit::read`].
pub fn read_sem() -> Result<[u64; 4]> {
    let path = "/proc/sys/kernel/sem";
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::os(format!("kernel limit {path}"), "read", e))?;
    let v: Vec<u64> = text
        .split_ascii_whitespace()
        .filter_map(|t| t.parse().ok())
        .collect();
    match v.as_slice() {
        [a, b, c, d] => Ok([*a, *b, *c, *d]),
        _ => Err(Error::Corrupted {
            object: format!("kernel limit {path}"),
            detail: format!("expected four numbers, found {text:?}"),
        }),
    }
}

/// Smallest reserve of memory a new segment must leave to everything else.
const MIN_RESERVE: u64 = 256 << 20;

/// What a new segment may take: `MemAvailable + SwapFree` minus a reserve of
/// one eighth of `MemTotal` (at least 256 MiB). Taking everything that is
/// available would itself start the out-of-memory killer on the other
/// processes of the machine.
fn left_for_segments(mem_available: u64, swap_free: u64, mem_total: u64) -> u64 {
    let reserve = (mem_total / 8).max(MIN_RESERVE);
    mem_available
        .saturating_add(swap_free)
        .saturating_sub(reserve)
}

/// Memory that shared memory pages can still take without pushing the machine
/// into the out-of-memory killer, in bytes: `MemAvailable + SwapFree` from
/// `/proc/meminfo`, minus a reserve of one eighth of `MemTotal` (at least
/// 256 MiB) left to every other process. Segments backed by tmpfs (POSIX shared memory, memfd) are
/// charged to it page by page; a memfd is bounded by nothing else.
///
/// # Errors
/// [`Error::NotFound`]/[`Error::Io`] when `/proc/meminfo` cannot be read,
/// [`Error::Corrupted`] when it lacks the fields.
pub fn shared_memory_available() -> Result<u64> {
    let path = "/proc/meminfo";
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::os(format!("kernel limit {path}"), "read", e))?;
    let field = |name: &str| -> Option<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map(|kb| kb * 1024)
    };
    match (field("MemAvailable:"), field("SwapFree:")) {
        (Some(mem), swap) => Ok(left_for_segments(
            mem,
            swap.unwrap_or(0),
            field("MemTotal:").unwrap_or(mem),
        )),
        (None, _) => Err(Error::Corrupted {
            object: format!("kernel limit {path}"),
            detail: "no MemAvailable field".into(),
        }),
    }
}

/// Refuses a shared memory segment of `size` bytes that the machine cannot
/// hold: reserving it (`fallocate`) would otherwise drive the whole machine
/// into the out-of-memory killer before the kernel said `ENOSPC`.
///
/// # Errors
/// [`Error::LimitExceeded`] naming `MemAvailable + SwapFree` and `/proc/meminfo`.
pub fn check_shared_memory_size(object: &str, size: u64) -> Result<()> {
    let available = shared_memory_available()?;
    if size > available {
        return Err(Error::LimitExceeded {
            object: object.to_owned(),
            what: "segment size".into(),
            requested: size,
            limit: "MemAvailable + SwapFree minus a reserve of MemTotal/8 (at least 256 MiB)"
                .into(),
            max: available,
            source_path: "/proc/meminfo".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_msgmax() {
        let v = MSGMAX.read().unwrap();
        let text = std::fs::read_to_string(MSGMAX.path).unwrap();
        assert_eq!(v, text.trim().parse::<u64>().unwrap());
        assert_eq!(read_sem().unwrap().len(), 4);
        assert!(shared_memory_available().unwrap() > 0);
    }

    #[test]
    fn a_segment_must_leave_a_reserve_of_memory_to_the_machine() {
        const GIB: u64 = 1 << 30;
        // 22 GiB available of 24: a segment may take 19 GiB, not all 22.
        assert_eq!(left_for_segments(22 * GIB, 0, 24 * GIB), 19 * GIB);
        assert_eq!(left_for_segments(2 * GIB, GIB, 24 * GIB), 0);
        // Small machines keep at least 256 MiB.
        assert_eq!(left_for_segments(GIB, 0, GIB), GIB - MIN_RESERVE);
        assert_eq!(
            left_for_segments(u64::MAX, u64::MAX, 8 * GIB),
            u64::MAX - GIB
        );
    }
}
