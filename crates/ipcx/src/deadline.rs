//! Deadlines for blocking calls, and waiting on a file descriptor.
//!
//! Every blocking call in ipcx takes an optional timeout, turns it into a
//! [`Deadline`] on the monotonic clock once, and retries `EINTR` against that
//! deadline, so a signal neither cuts a wait short nor extends it.
//!
//! # References
//! [poll(2)](https://man7.org/linux/man-pages/man2/poll.2.html),
//! [clock_gettime(2)](https://man7.org/linux/man-pages/man2/clock_gettime.2.html)

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};

/// When a blocking call must give up: never, or at a monotonic instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    at: Option<Instant>,
    timeout: Option<Duration>,
}

impl Deadline {
    /// No deadline: wait as long as it takes.
    pub const NEVER: Deadline = Deadline {
        at: None,
        timeout: None,
    };

    /// A deadline `timeout` from now, or [`Deadline::NEVER`] for `None`.
    pub fn after(timeout: Option<Duration>) -> Deadline {
        match timeout {
            None => Deadline::NEVER,
            Some(t) => Deadline {
                at: Instant::now().checked_add(t),
                timeout: Some(t),
            },
        }
    }

    /// A deadline that has already passed: the non-blocking form of a call.
    pub fn now() -> Deadline {
        Deadline::after(Some(Duration::ZERO))
    }

    /// Time left, `None` when there is no deadline, zero once it has passed.
    pub fn remaining(&self) -> Option<Duration> {
        self.at
            .map(|at| at.saturating_duration_since(Instant::now()))
    }

    /// Whether the deadline has passed.
    pub fn expired(&self) -> bool {
        self.remaining() == Some(Duration::ZERO)
    }

    /// The timeout this deadline was made from (for error messages).
    pub fn timeout(&self) -> Duration {
        self.timeout.unwrap_or(Duration::MAX)
    }
}

/// Waits until `fd` reports one of `events` (readable, writable, hang-up or
/// error are always reported) or the deadline passes; retries `EINTR`.
/// Returns the events that fired, or `None` when the deadline passed first.
///
/// # Errors
/// The `poll(2)` error, as an [`std::io::Error`], for anything but `EINTR`.
pub fn poll_fd(
    fd: impl AsFd,
    events: PollFlags,
    deadline: Deadline,
) -> std::io::Result<Option<PollFlags>> {
    let fd = fd.as_fd();
    loop {
        let mut fds = [PollFd::from_borrowed_fd(fd, events)];
        let timeout = deadline.remaining().map(|d| Timespec {
            tv_sec: d.as_secs().min(i64::MAX as u64) as i64,
            tv_nsec: i64::from(d.subsec_nanos()),
        });
        match rustix::event::poll(&mut fds, timeout.as_ref()) {
            Ok(0) => {
                if deadline.expired() {
                    return Ok(None);
                }
            }
            Ok(_) => return Ok(Some(fds[0].revents())),
            Err(rustix::io::Errno::INTR) => {
                if deadline.expired() {
                    return Ok(None);
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_has_no_remaining_time() {
        assert_eq!(Deadline::NEVER.remaining(), None);
        assert!(!Deadline::NEVER.expired());
        assert!(Deadline::now().expired());
        assert!(!Deadline::after(Some(Duration::from_secs(3600))).expired());
    }

    #[test]
    fn poll_reports_readable_and_times_out() {
        let (r, w) = rustix::pipe::pipe().unwrap();
        let got = poll_fd(
            &r,
            PollFlags::IN,
            Deadline::after(Some(Duration::from_millis(10))),
        )
        .unwrap();
        assert_eq!(got, None);
        rustix::io::write(&w, b"x").unwrap();
        let got = poll_fd(&r, PollFlags::IN, Deadline::NEVER).unwrap();
        assert!(got.unwrap().contains(PollFlags::IN));
    }
}
