//! Socket calls rustix does not cover in the shape ipcx needs.
//!
//! `SO_PEERCRED` is read with libc here because the kernel reports a pid of
//! 0 for a peer outside the caller's pid namespace, which rustix's non-zero
//! `Pid` cannot hold.

use std::io;
use std::os::fd::{AsFd, AsRawFd};

/// `getsockopt(SOL_SOCKET, SO_PEERCRED)`: pid, uid and gid of the peer as the
/// kernel recorded them at `connect(2)`/`socketpair(2)` time.
pub(crate) fn peer_cred(fd: impl AsFd) -> io::Result<(i32, u32, u32)> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` is a valid, writable `ucred` and `len` holds its exact
    // size, so the kernel writes at most `len` bytes into it; the fd is
    // borrowed and stays open for the duration of the call.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_fd().as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((cred.pid, cred.uid, cred.gid))
}
