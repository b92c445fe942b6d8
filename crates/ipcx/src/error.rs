//! The one error type of the library.
//!
//! Every variant names its cause and carries the object it concerns (a path, a
//! POSIX name or a System V key, already formatted for people, such as
//! `fifo /tmp/myfifo` or `System V message queue 0x4100c04d`) and, where a
//! system call failed, the call's name. Limits carry their value and where the
//! value comes from (for example `/proc/sys/kernel/msgmax`).
//!
//! [`Error`] converts into [`std::io::Error`] keeping the kind, so types that
//! implement [`std::io::Read`] and [`std::io::Write`] stay std-shaped.

use std::io;
use std::time::Duration;

/// A specialised `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in ipcx.
///
/// `object` fields name the IPC object as a person would write it (kind and
/// path, name, key or id); `syscall` fields name the system call that failed.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The object does not exist (`ENOENT`), or a file a System V key is made
    /// from is missing.
    #[error("{object}: not found ({syscall})")]
    NotFound {
        /// The object looked for.
        object: String,
        /// The call that looked.
        syscall: &'static str,
    },

    /// An object with this name or key exists already (`EEXIST`) and exclusive
    /// creation was asked for.
    #[error("{object}: already exists ({syscall})")]
    AlreadyExists {
        /// The object.
        object: String,
        /// The call that found it.
        syscall: &'static str,
    },

    /// The caller may not access the object (`EACCES`, `EPERM`).
    #[error("{object}: permission denied ({syscall})")]
    PermissionDenied {
        /// The object.
        object: String,
        /// The call that was refused.
        syscall: &'static str,
    },

    /// A name does not follow the rules of its namespace (POSIX IPC names,
    /// Unix socket names, file paths); checked before any system call.
    #[error("invalid name {name:?}: {reason}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// Which rule it breaks.
        reason: String,
    },

    /// An argument is out of its valid range (a zero size, a message type of
    /// 0, a malformed endpoint), checked before any system call.
    #[error("{object}: {reason}")]
    InvalidArgument {
        /// The object or the text the argument belongs to.
        object: String,
        /// What is wrong and what was expected.
        reason: String,
    },

    /// A path is longer than the kernel accepts (`sun_path` of 108 bytes,
    /// `PATH_MAX` of 4096 bytes); never truncated.
    #[error("path {path:?} is {len} bytes, over the limit of {max} bytes ({limit})")]
    PathTooLong {
        /// The path as given (lossily converted for display).
        path: String,
        /// Its length in bytes.
        len: usize,
        /// The largest length accepted, in bytes.
        max: usize,
        /// The name of the limit (`sun_path`, `PATH_MAX`).
        limit: &'static str,
    },

    /// A message is larger than the mechanism can carry in one piece.
    #[error("{object}: message of {len} bytes is over the limit of {max} bytes ({limit_source})")]
    MessageTooLarge {
        /// The channel, queue or socket.
        object: String,
        /// The message length in bytes.
        len: usize,
        /// The largest message in bytes.
        max: usize,
        /// Where the limit comes from (`PIPE_BUF`, `/proc/sys/kernel/msgmax`,
        /// the queue's `mq_msgsize`, …).
        limit_source: String,
    },

    /// The receive buffer is smaller than the next message; the message stays
    /// queued, nothing is truncated.
    #[error("{object}: next message is {needed} bytes but the buffer holds {capacity} bytes")]
    BufferTooSmall {
        /// The queue or socket.
        object: String,
        /// Bytes the message needs (or at least needs, when the kernel does not say).
        needed: usize,
        /// Bytes the buffer offered.
        capacity: usize,
    },

    /// A kernel or resource limit refuses the request; the error names the
    /// limit, its value and where it comes from.
    #[error("{object}: {what} of {requested} exceeds {limit} = {max} ({source_path})")]
    LimitExceeded {
        /// The object being created or changed.
        object: String,
        /// What was asked for (`queue capacity`, `segment size`, …).
        what: String,
        /// The value asked for.
        requested: u64,
        /// The limit's name (`msg_max`, `shmmax`, `RLIMIT_MSGQUEUE`, …).
        limit: String,
        /// The limit's value on this machine.
        max: u64,
        /// Where the value was read (`/proc/sys/fs/mqueue/msg_max`, `getrlimit(2)`).
        source_path: String,
    },

    /// An object has a size other than the one expected, or a size of zero;
    /// checked before mapping so that it is never a `SIGBUS`.
    #[error("{object}: size is {actual} bytes, expected {expected}")]
    InvalidSize {
        /// The segment or ring.
        object: String,
        /// What was expected, in words (`4096 bytes`, `at least 64 bytes`).
        expected: String,
        /// The real size in bytes.
        actual: u64,
    },

    /// The file system or the kernel has no room for the object (`ENOSPC`).
    #[error("{object}: no space left ({syscall})")]
    NoSpace {
        /// The object.
        object: String,
        /// The call that failed.
        syscall: &'static str,
    },

    /// A non-blocking send found the object full; nothing was sent.
    #[error("{object}: full")]
    Full {
        /// The queue, pipe, ring or channel.
        object: String,
    },

    /// A non-blocking receive found the object empty.
    #[error("{object}: empty")]
    Empty {
        /// The queue, pipe, ring or channel.
        object: String,
    },

    /// A timed operation ran out of time; `waiting_for` says what did not
    /// happen (for example `a reader to open the FIFO`).
    #[error("{object}: timed out after {timeout:?} waiting for {waiting_for}")]
    TimedOut {
        /// The object.
        object: String,
        /// What the call waited for.
        waiting_for: String,
        /// The timeout that expired.
        timeout: Duration,
    },

    /// The other end is gone: all readers or writers closed, the peer process
    /// died, the connection was reset.
    #[error("{object}: disconnected: {reason}")]
    Disconnected {
        /// The object.
        object: String,
        /// Which end is gone, and how it was noticed.
        reason: String,
    },

    /// The object was removed while in use (`EIDRM`).
    #[error("{object}: removed while in use ({syscall})")]
    Removed {
        /// The object.
        object: String,
        /// The call that noticed.
        syscall: &'static str,
    },

    /// Data read from shared memory or the wire is inconsistent; the peer is
    /// broken or hostile. Nothing out of bounds was touched.
    #[error("{object}: corrupted: {detail}")]
    Corrupted {
        /// The ring, segment or stream.
        object: String,
        /// What was found and what was allowed.
        detail: String,
    },

    /// A shared structure was made by an incompatible version of ipcx.
    #[error("{object}: layout version {found}, this library speaks {expected}")]
    VersionMismatch {
        /// The ring or segment.
        object: String,
        /// The version this library understands.
        expected: u32,
        /// The version found in the header.
        found: u32,
    },

    /// An address or path is in use by a live object (`EADDRINUSE`).
    #[error("{object}: address in use")]
    AddrInUse {
        /// The socket path, abstract name or internet address.
        object: String,
    },

    /// The mechanism or option is not available (not built yet, or not
    /// supported by this kernel).
    #[error("{what}: not supported{detail}")]
    Unsupported {
        /// The mechanism or option.
        what: String,
        /// Further detail, starting with `: ` when present.
        detail: String,
    },

    /// Any other operating-system error, with the object and the call.
    #[error("{object}: {syscall}: {source}")]
    Io {
        /// The object.
        object: String,
        /// The call that failed.
        syscall: &'static str,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// Ancillary data (a control message such as `SCM_RIGHTS`) arrived
    /// truncated (`MSG_CTRUNC`): the receiver was at its `RLIMIT_NOFILE` or
    /// its control buffer was too small. Every descriptor that did arrive has
    /// been closed or handed back; none leaks.
    #[error("{object}: control message truncated (MSG_CTRUNC): {detail}")]
    ControlTruncated {
        /// The socket.
        object: String,
        /// How many descriptors arrived, what became of them, and the likely
        /// limit (with its value and source).
        detail: String,
    },
}

impl Error {
    /// Maps an OS error of `syscall` on `object` to the variant naming its
    /// cause: `ENOENT` → [`Error::NotFound`], `EEXIST` → [`Error::AlreadyExists`],
    /// `EACCES`/`EPERM` → [`Error::PermissionDenied`], `EIDRM` →
    /// [`Error::Removed`], `ENOSPC` → [`Error::NoSpace`], `EADDRINUSE` →
    /// [`Error::AddrInUse`], `ENAMETOOLONG` → [`Error::InvalidName`]; anything
    /// else is [`Error::Io`]. Context-specific errnos (`EAGAIN`, `EPIPE`,
    /// `ETIMEDOUT`) are mapped by the caller, which knows what they mean there.
    pub fn os(object: impl Into<String>, syscall: &'static str, err: impl Into<io::Error>) -> Self {
        let object = object.into();
        let err: io::Error = err.into();
        match err.raw_os_error() {
            Some(libc::ENOENT) => Error::NotFound { object, syscall },
            Some(libc::EEXIST) => Error::AlreadyExists { object, syscall },
            Some(libc::EACCES) | Some(libc::EPERM) => Error::PermissionDenied { object, syscall },
            Some(libc::EIDRM) => Error::Removed { object, syscall },
            Some(libc::ENOSPC) => Error::NoSpace { object, syscall },
            Some(libc::EADDRINUSE) => Error::AddrInUse { object },
            Some(libc::ENAMETOOLONG) => Error::InvalidName {
                name: object,
                reason: format!("too long for the kernel ({syscall}: ENAMETOOLONG)"),
            },
            _ => Error::Io {
                object,
                syscall,
                source: err,
            },
        }
    }

    /// Builds an [`Error::Unsupported`] for a mechanism or option that this
    /// build does not provide yet.
    pub fn unsupported(what: impl Into<String>, detail: impl AsRef<str>) -> Self {
        let detail = detail.as_ref();
        Error::Unsupported {
            what: what.into(),
            detail: if detail.is_empty() {
                String::new()
            } else {
                format!(": {detail}")
            },
        }
    }

    /// The [`io::ErrorKind`] this error keeps when converted to [`io::Error`].
    pub fn kind(&self) -> io::ErrorKind {
        use io::ErrorKind as K;
        match self {
            Error::NotFound { .. } => K::NotFound,
            Error::AlreadyExists { .. } => K::AlreadyExists,
            Error::PermissionDenied { .. } => K::PermissionDenied,
            Error::InvalidName { .. }
            | Error::InvalidArgument { .. }
            | Error::PathTooLong { .. }
            | Error::MessageTooLarge { .. }
            | Error::BufferTooSmall { .. }
            | Error::LimitExceeded { .. } => K::InvalidInput,
            Error::InvalidSize { .. } | Error::Corrupted { .. } | Error::VersionMismatch { .. } => {
                K::InvalidData
            }
            Error::NoSpace { .. } => K::StorageFull,
            Error::Full { .. } | Error::Empty { .. } => K::WouldBlock,
            Error::TimedOut { .. } => K::TimedOut,
            Error::Disconnected { .. } => K::BrokenPipe,
            Error::Removed { .. } => K::NotFound,
            Error::AddrInUse { .. } => K::AddrInUse,
            Error::Unsupported { .. } => K::Unsupported,
            Error::Io { source, .. } => source.kind(),
            Error::ControlTruncated { .. } => K::Other,
        }
    }
}

impl From<Error> for io::Error {
    /// Wraps the error in an [`io::Error`] of the same [`kind`](Error::kind);
    /// the ipcx error stays reachable through [`io::Error::get_ref`] and
    /// [`io::Error::into_inner`].
    fn from(err: Error) -> Self {
        io::Error::new(err.kind(), err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_errors_map_to_named_causes() {
        let e = Error::os(
            "fifo /x",
            "open",
            io::Error::from_raw_os_error(libc::ENOENT),
        );
        assert!(matches!(e, Error::NotFound { .. }));
        let e = Error::os(
            "fifo /x",
            "open",
            io::Error::from_raw_os_error(libc::EACCES),
        );
        assert!(matches!(e, Error::PermissionDenied { .. }));
        let e = Error::os("q", "msgrcv", io::Error::from_raw_os_error(libc::EIDRM));
        assert!(matches!(e, Error::Removed { .. }));
        let e = Error::os("q", "x", io::Error::from_raw_os_error(libc::EBADF));
        assert!(matches!(e, Error::Io { .. }));
    }

    #[test]
    fn io_conversion_keeps_the_kind() {
        let e: io::Error = Error::Disconnected {
            object: "pipe".into(),
            reason: "no reader".into(),
        }
        .into();
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
        let e: io::Error = Error::TimedOut {
            object: "fifo /x".into(),
            waiting_for: "a writer".into(),
            timeout: Duration::from_millis(5),
        }
        .into();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(e.to_string().contains("fifo /x"));
    }
}
