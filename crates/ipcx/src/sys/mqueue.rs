//! POSIX message queues: `mq_open(3)`, `mq_timedsend(3)`, `mq_timedreceive(3)`,
//! `mq_getattr(3)`, `mq_unlink(3)`.
//!
//! On Linux a `mqd_t` is a file descriptor of the mqueue file system, so it is
//! wrapped in an [`OwnedFd`] the moment `mq_open` returns it (closing it is
//! exactly `mq_close`). rustix does not cover these calls; they go through libc.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

fn last_error() -> io::Error {
    io::Error::last_os_error()
}

/// The attributes of a queue (`struct mq_attr`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct MqAttr {
    pub(crate) flags: i64,
    pub(crate) maxmsg: i64,
    pub(crate) msgsize: i64,
    pub(crate) curmsgs: i64,
}

/// `mq_open(name, oflag, mode, attr)`. `attr` (maxmsg, msgsize) is used only
/// with `O_CREAT`; `None` takes the system defaults.
pub(crate) fn mq_open(
    name: &CStr,
    oflag: i32,
    mode: u32,
    attr: Option<(i64, i64)>,
) -> io::Result<OwnedFd> {
    // SAFETY: mq_attr is plain old data; all-zero bytes are a valid value.
    let mut a: libc::mq_attr = unsafe { std::mem::zeroed() };
    let attr_ptr: *mut libc::mq_attr = match attr {
        Some((maxmsg, msgsize)) => {
            a.mq_maxmsg = maxmsg as _;
            a.mq_msgsize = msgsize as _;
            &mut a
        }
        None => std::ptr::null_mut(),
    };
    // SAFETY: name is NUL-terminated and outlives the call; the variadic
    // arguments are the mode_t and `struct mq_attr *` (null or pointing to `a`,
    // alive for the call) that mq_open reads when O_CREAT is set.
    let fd = unsafe { libc::mq_open(name.as_ptr(), oflag, mode as libc::mode_t, attr_ptr) };
    if fd < 0 {
        return Err(last_error());
    }
    // SAFETY: on Linux a mqd_t is a file descriptor that this call just
    // created and nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `mq_timedsend(fd, data, prio, abs_timeout)`; `None` blocks without limit
/// (as `mq_send`). One attempt; `EINTR` is returned.
pub(crate) fn mq_timedsend(
    fd: BorrowedFd<'_>,
    data: &[u8],
    prio: u32,
    abs_timeout: Option<&libc::timespec>,
) -> io::Result<()> {
    let ts = abs_timeout.map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: fd is a live mqueue descriptor borrowed for the call; data is
    // a live slice of data.len() bytes; ts is null or points to a live timespec.
    let r =
        unsafe { libc::mq_timedsend(fd.as_raw_fd(), data.as_ptr().cast(), data.len(), prio, ts) };
    if r < 0 {
        Err(last_error())
    } else {
        Ok(())
    }
}

/// `mq_timedreceive(fd, buf, abs_timeout)`: the message length and priority.
/// One attempt; `EINTR` is returned.
pub(crate) fn mq_timedreceive(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    abs_timeout: Option<&libc::timespec>,
) -> io::Result<(usize, u32)> {
    let ts = abs_timeout.map_or(std::ptr::null(), |t| t as *const libc::timespec);
    let mut prio: libc::c_uint = 0;
    // SAFETY: fd is a live mqueue descriptor; buf is a live, writable slice of
    // buf.len() bytes, the kernel writes at most that many; prio and ts are
    // valid for the call.
    let n = unsafe {
        libc::mq_timedreceive(
            fd.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut prio,
            ts,
        )
    };
    if n < 0 {
        Err(last_error())
    } else {
        Ok((n as usize, prio))
    }
}

/// `mq_getattr(fd)`.
pub(crate) fn mq_getattr(fd: BorrowedFd<'_>) -> io::Result<MqAttr> {
    // SAFETY: mq_attr is plain old data; all-zero bytes are a valid value.
    let mut a: libc::mq_attr = unsafe { std::mem::zeroed() };
    // SAFETY: fd is a live mqueue descriptor; a is a live mq_attr to fill.
    let r = unsafe { libc::mq_getattr(fd.as_raw_fd(), &mut a) };
    if r < 0 {
        return Err(last_error());
    }
    Ok(MqAttr {
        flags: a.mq_flags as i64,
        maxmsg: a.mq_maxmsg as i64,
        msgsize: a.mq_msgsize as i64,
        curmsgs: a.mq_curmsgs as i64,
    })
}

/// `mq_unlink(name)`.
pub(crate) fn mq_unlink(name: &CStr) -> io::Result<()> {
    // SAFETY: name is NUL-terminated and outlives the call.
    let r = unsafe { libc::mq_unlink(name.as_ptr()) };
    if r < 0 {
        Err(last_error())
    } else {
        Ok(())
    }
}
