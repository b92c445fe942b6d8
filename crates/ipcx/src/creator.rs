//! Who made an object: a process identity that survives pid reuse.
//!
//! ipcx records the creator of the objects it makes as a [`ProcessId`] — the
//! pid plus the process start time (field 22 of `/proc/PID/stat`, in clock
//! ticks since boot) — so that `ipcx ls --stale` and a ring's peer-death check
//! can tell a live creator from a dead one whose pid was reused.
//!
//! # References
//! [proc_pid_stat(5)](https://man7.org/linux/man-pages/man5/proc_pid_stat.5.html)

use std::fmt;

/// A process, identified by its pid and its start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ProcessId {
    /// The process id.
    pub pid: u32,
    /// Start time in clock ticks after boot (`/proc/PID/stat` field 22).
    pub start_time: u64,
}

impl ProcessId {
    /// The calling process.
    ///
    /// Falls back to a start time of 0 when `/proc` is not mounted; such an
    /// identity matches any process with that pid.
    pub fn current() -> ProcessId {
        let pid = std::process::id();
        ProcessId {
            pid,
            start_time: start_time(pid).unwrap_or(0),
        }
    }

    /// The identity of a running process, or `None` if no process has `pid`.
    pub fn of(pid: u32) -> Option<ProcessId> {
        start_time(pid).map(|start_time| ProcessId { pid, start_time })
    }

    /// Whether this process is still running: a process with this pid exists,
    /// is not a zombie, and started at the recorded time.
    pub fn is_alive(&self) -> bool {
        if self.pid == 0 {
            return false;
        }
        match read_stat(self.pid) {
            Some((state, start)) => {
                state != 'Z' && state != 'X' && (self.start_time == 0 || start == self.start_time)
            }
            None => false,
        }
    }
}

impl fmt::Display for ProcessId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.pid)
    }
}

/// Start time of `pid` in clock ticks after boot, from `/proc/PID/stat`.
pub fn start_time(pid: u32) -> Option<u64> {
    read_stat(pid).map(|(_, start)| start)
}

/// (state, start time) of a process from `/proc/PID/stat`.
fn read_stat(pid: u32) -> Option<(char, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may itself contain ") ".
    let after = &text[text.rfind(')')? + 1..];
    let mut fields = after.split_ascii_whitespace();
    let state = fields.next()?.chars().next()?;
    // After ')' the fields start at field 3 (state); start time is field 22.
    let start = fields.nth(22 - 4)?.parse().ok()?;
    Some((state, start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_process_is_alive() {
        let me = ProcessId::current();
        assert_eq!(me.pid, std::process::id());
        assert!(me.start_time > 0);
        assert!(me.is_alive());
        let reused = ProcessId {
            start_time: me.start_time + 1,
            ..me
        };
        assert!(
            !reused.is_alive(),
            "a different start time is a different process"
        );
    }

    #[test]
    fn dead_child_is_not_alive() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let id = ProcessId::of(child.id());
        child.wait().unwrap();
        if let Some(id) = id {
            assert!(!id.is_alive());
        }
    }
}

/// Name of the extended attribute in which ipcx records the creator of a file
/// it makes (POSIX shared memory objects under `/dev/shm`): the text
/// `PID:START_TIME`.
pub const CREATOR_XATTR: &str = "user.ipcx.creator";

/// Records the calling process as the creator of the open file `fd`, in the
/// [`CREATOR_XATTR`] attribute. Best effort: file systems without user
/// extended attributes are silently skipped (liveness then falls back to
/// `/proc/*/fd` and `/proc/*/maps`).
pub fn record_creator(fd: impl std::os::fd::AsFd) {
    let me = ProcessId::current();
    let value = format!("{}:{}", me.pid, me.start_time);
    let _ = rustix::fs::fsetxattr(
        fd,
        CREATOR_XATTR,
        value.as_bytes(),
        rustix::fs::XattrFlags::empty(),
    );
}

/// Reads the creator recorded by [`record_creator`] on the file at `path`, if any.
pub fn read_creator(path: impl AsRef<std::path::Path>) -> Option<ProcessId> {
    let mut buf = [0u8; 64];
    let n = rustix::fs::getxattr(path.as_ref(), CREATOR_XATTR, &mut buf[..]).ok()?;
    let text = std::str::from_utf8(&buf[..n]).ok()?;
    let (pid, start) = text.split_once(':')?;
    Some(ProcessId {
        pid: pid.parse().ok()?,
        start_time: start.parse().ok()?,
    })
}

#[cfg(test)]
mod xattr_tests {
    use super::*;

    #[test]
    fn creator_round_trips_on_tmpfs() {
        let path = format!("/dev/shm/ipcx-creator-test-{}", std::process::id());
        let file = std::fs::File::create(&path).unwrap();
        record_creator(&file);
        let got = read_creator(&path);
        std::fs::remove_file(&path).unwrap();
        // tmpfs has user extended attributes since Linux 6.6.
        assert_eq!(got, Some(ProcessId::current()));
    }
}
