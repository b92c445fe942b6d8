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

/// Default number of messages of a new POSIX queue when `mq_open` gets no attributes.
pub const MQ_MSG_DEFAULT: ProcLimit = ProcLimit {
    name: "msg_default",
    path: "/proc/sys/fs/mqueue/msg_default",
};
/// Default message size of a new POSIX queue when `mq_open` gets no attributes, bytes.
pub const MQ_MSGSIZE_DEFAULT: ProcLimit = ProcLimit {
    name: "msgsize_default",
    path: "/proc/sys/fs/mqueue/msgsize_default",
};
/// Pages of pipe buffers one unprivileged user may hold before new pipes
/// are shrunk to one page (0 = no limit).
pub const PIPE_USER_PAGES_SOFT: ProcLimit = ProcLimit {
    name: "pipe-user-pages-soft",
    path: "/proc/sys/fs/pipe-user-pages-soft",
};
/// Pages of pipe buffers one unprivileged user may hold before `F_SETPIPE_SZ`
/// and new pipes fail (0 = no limit).
pub const PIPE_USER_PAGES_HARD: ProcLimit = ProcLimit {
    name: "pipe-user-pages-hard",
    path: "/proc/sys/fs/pipe-user-pages-hard",
};
/// Largest socket receive buffer `SO_RCVBUF` may set, bytes.
pub const RMEM_MAX: ProcLimit = ProcLimit {
    name: "rmem_max",
    path: "/proc/sys/net/core/rmem_max",
};
/// Largest socket send buffer `SO_SNDBUF` may set, bytes.
pub const WMEM_MAX: ProcLimit = ProcLimit {
    name: "wmem_max",
    path: "/proc/sys/net/core/wmem_max",
};
/// Default socket receive buffer, bytes.
pub const RMEM_DEFAULT: ProcLimit = ProcLimit {
    name: "rmem_default",
    path: "/proc/sys/net/core/rmem_default",
};
/// Default socket send buffer, bytes.
pub const WMEM_DEFAULT: ProcLimit = ProcLimit {
    name: "wmem_default",
    path: "/proc/sys/net/core/wmem_default",
};

/// `PIPE_BUF`: writes of at most this many bytes to a pipe or FIFO are atomic
/// (never interleaved with other writers' data), from `<limits.h>`.
pub const PIPE_BUF: usize = libc::PIPE_BUF;

/// `SEMVMX`: the largest value of a System V semaphore (a kernel constant,
/// `include/uapi/linux/sem.h`); larger values get `ERANGE`.
pub const SEMVMX: u64 = 32767;

/// `SEM_VALUE_MAX`—the largest value of a POSIX semaphore, from
/// `sysconf(_SC_SEM_VALUE_MAX)`; larger values get `EINVAL`/`EOVERFLOW`.
///
/// # References
/// [sem_post(3)](https://man7.org/linux/man-pages/man3/sem_post.3.html),
/// [sysconf(3)](https://man7.org/linux/man-pages/man3/sysconf.3.html)
#[doc(alias = "_SC_SEM_VALUE_MAX")]
pub fn sem_value_max() -> Option<u64> {
    crate::sys::inventory::sem_value_max()
}

/// `getrlimit(RLIMIT_MSGQUEUE)`—the bytes of POSIX message queues one user
/// may have allocated, as `(soft, hard)`; `None` means unlimited.
///
/// # References
/// [getrlimit(2)](https://man7.org/linux/man-pages/man2/getrlimit.2.html),
/// [mq_overview(7)](https://man7.org/linux/man-pages/man7/mq_overview.7.html)
#[doc(alias = "RLIMIT_MSGQUEUE")]
pub fn rlimit_msgqueue() -> (Option<u64>, Option<u64>) {
    let r = rustix::process::getrlimit(rustix::process::Resource::Msgqueue);
    (r.current, r.maximum)
}

/// One kernel limit that shapes IPC, as `ipcx limits` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LimitInfo {
    /// The limit's name as the kernel documentation spells it (`msgmax`,
    /// `RLIMIT_MSGQUEUE (soft)`, `PIPE_BUF`).
    pub name: &'static str,
    /// Its value on this machine; `None` when unlimited or unreadable (see
    /// [`LimitInfo::error`]).
    pub value: Option<u64>,
    /// The unit of [`LimitInfo::value`]: `bytes`, `messages`, `pages`,
    /// `objects`, `semaphores`, `operations`.
    pub unit: &'static str,
    /// Where the value comes from: a file (`/proc/sys/kernel/msgmax`) or a
    /// call (`getrlimit(RLIMIT_MSGQUEUE)`).
    pub source: &'static str,
    /// For files holding several numbers (`/proc/sys/kernel/sem`), the
    /// 0-based position of this one; `None` for a single value.
    pub field: Option<usize>,
    /// `true` when the limit is unlimited (`RLIM_INFINITY`) or 0 means "no limit".
    pub unlimited: bool,
    /// One line on what it limits.
    pub limits: &'static str,
    /// Why the value could not be read, if it could not.
    pub error: Option<String>,
}

/// Every kernel limit that shapes IPC, with its value here, its source and
/// what it limits: System V queues, segments and semaphores, POSIX queues
/// (including `RLIMIT_MSGQUEUE`), pipes (`pipe-max-size`, the per-user page
/// limits, `PIPE_BUF`), socket buffers (`net.core.*mem_*`) and semaphore
/// value maxima.
///
/// Never fails: a limit that cannot be read carries an `error` instead.
pub fn all() -> Vec<LimitInfo> {
    fn file(l: ProcLimit, unit: &'static str, limits: &'static str) -> LimitInfo {
        from_result(l.name, l.path, None, unit, limits, l.read(), false)
    }
    fn from_result(
        name: &'static str,
        source: &'static str,
        field: Option<usize>,
        unit: &'static str,
        limits: &'static str,
        value: Result<u64>,
        zero_is_unlimited: bool,
    ) -> LimitInfo {
        let (value, error) = match value {
            Ok(v) => (Some(v), None),
            Err(e) => (None, Some(e.to_string())),
        };
        LimitInfo {
            name,
            value,
            unit,
            source,
            field,
            unlimited: zero_is_unlimited && value == Some(0),
            limits,
            error,
        }
    }
    let mut out =
        vec![
        file(MSGMAX, "bytes", "largest System V message (msgsnd)"),
        file(
            MSGMNB,
            "bytes",
            "default capacity of a System V queue; unprivileged msgctl(IPC_SET) cannot go above it",
        ),
        file(MSGMNI, "objects", "System V message queues on the system"),
        file(SHMMAX, "bytes", "largest System V shared memory segment (shmget)"),
        file(SHMALL, "pages", "System V shared memory on the system, all segments together"),
        file(SHMMNI, "objects", "System V shared memory segments on the system"),
    ];
    let sem = read_sem();
    let sem_path = "/proc/sys/kernel/sem";
    let sem_rows: [(&'static str, &'static str, &'static str); 4] = [
        (
            "semmsl",
            "semaphores",
            "semaphores in one System V set (semget nsems)",
        ),
        (
            "semmns",
            "semaphores",
            "System V semaphores on the system, all sets together",
        ),
        ("semopm", "operations", "operations in one semop call"),
        ("semmni", "objects", "System V semaphore sets on the system"),
    ];
    for (i, (name, unit, limits)) in sem_rows.into_iter().enumerate() {
        let v = match &sem {
            Ok(v) => Ok(v[i]),
            Err(e) => Err(Error::Corrupted {
                object: format!("kernel limit {sem_path}"),
                detail: e.to_string(),
            }),
        };
        out.push(from_result(name, sem_path, Some(i), unit, limits, v, false));
    }
    out.push(LimitInfo {
        name: "SEMVMX",
        value: Some(SEMVMX),
        unit: "count",
        source: "constant SEMVMX (linux/sem.h)",
        field: None,
        unlimited: false,
        limits: "largest value of a System V semaphore (semop, SETVAL)",
        error: None,
    });
    let svm = sem_value_max();
    out.push(LimitInfo {
        name: "SEM_VALUE_MAX",
        value: svm,
        unit: "count",
        source: "sysconf(_SC_SEM_VALUE_MAX)",
        field: None,
        unlimited: false,
        limits: "largest value of a POSIX semaphore (sem_init, sem_open, sem_post)",
        error: svm.is_none().then(|| "sysconf gave no value".to_owned()),
    });
    out.extend([
        file(
            MQ_MSG_MAX,
            "messages",
            "capacity of a POSIX queue (mq_maxmsg) an unprivileged mq_open may ask for",
        ),
        file(
            MQ_MSGSIZE_MAX,
            "bytes",
            "message size of a POSIX queue (mq_msgsize) an unprivileged mq_open may ask for",
        ),
        file(
            MQ_QUEUES_MAX,
            "objects",
            "POSIX message queues on the system",
        ),
        file(
            MQ_MSG_DEFAULT,
            "messages",
            "capacity of a POSIX queue created without attributes",
        ),
        file(
            MQ_MSGSIZE_DEFAULT,
            "bytes",
            "message size of a POSIX queue created without attributes",
        ),
    ]);
    let (soft, hard) = rlimit_msgqueue();
    for (name, v, what) in [
        (
            "RLIMIT_MSGQUEUE (soft)",
            soft,
            "bytes of POSIX queues (capacity x message size plus overhead) one user may allocate",
        ),
        (
            "RLIMIT_MSGQUEUE (hard)",
            hard,
            "ceiling to which an unprivileged process may raise the soft RLIMIT_MSGQUEUE",
        ),
    ] {
        out.push(LimitInfo {
            name,
            value: v,
            unit: "bytes",
            source: "getrlimit(RLIMIT_MSGQUEUE)",
            field: None,
            unlimited: v.is_none(),
            limits: what,
            error: None,
        });
    }
    out.push(file(
        PIPE_MAX_SIZE,
        "bytes",
        "largest pipe capacity an unprivileged fcntl(F_SETPIPE_SZ) may set",
    ));
    for (l, what) in [
        (
            PIPE_USER_PAGES_SOFT,
            "pipe buffer pages one user may hold before new pipes get a single page (0: no limit)",
        ),
        (
            PIPE_USER_PAGES_HARD,
            "pipe buffer pages one user may hold before pipe creation and F_SETPIPE_SZ fail (0: no limit)",
        ),
    ] {
        out.push(from_result(l.name, l.path, None, "pages", what, l.read(), true));
    }
    out.push(LimitInfo {
        name: "PIPE_BUF",
        value: Some(PIPE_BUF as u64),
        unit: "bytes",
        source: "constant PIPE_BUF (limits.h)",
        field: None,
        unlimited: false,
        limits: "largest write to a pipe or FIFO that is atomic (never interleaved)",
        error: None,
    });
    out.extend([
        file(
            RMEM_MAX,
            "bytes",
            "largest socket receive buffer SO_RCVBUF may set",
        ),
        file(
            WMEM_MAX,
            "bytes",
            "largest socket send buffer SO_SNDBUF may set",
        ),
        file(RMEM_DEFAULT, "bytes", "receive buffer of a new socket"),
        file(WMEM_DEFAULT, "bytes", "send buffer of a new socket"),
    ]);
    out
}

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

    #[test]
    fn catalogue_reads_every_file_it_cites() {
        let all = all();
        assert!(all.len() >= 25, "{}", all.len());
        for l in &all {
            if l.source.starts_with('/') {
                let text = std::fs::read_to_string(l.source).unwrap();
                let field = l.field.unwrap_or(0);
                let want: u64 = text
                    .split_ascii_whitespace()
                    .nth(field)
                    .unwrap()
                    .parse()
                    .unwrap();
                assert_eq!(l.value, Some(want), "{}", l.name);
            }
        }
        assert!(all
            .iter()
            .any(|l| l.name == "PIPE_BUF" && l.value == Some(4096)));
    }
}
