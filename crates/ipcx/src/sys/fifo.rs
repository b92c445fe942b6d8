//! Raw calls behind [`crate::fifo`]: `mkfifo`, `lstat`/`fstat`, `open` with
//! `O_NOFOLLOW`, `chmod`, `unlink`.
//!
//! # References
//! [mkfifo(3)](https://man7.org/linux/man-pages/man3/mkfifo.3.html),
//! [open(2)](https://man7.org/linux/man-pages/man2/open.2.html),
//! [fifo(7)](https://man7.org/linux/man-pages/man7/fifo.7.html)

use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{FileType, Mode, OFlags, CWD};
use rustix::io::Errno;

/// What `lstat`/`fstat` says about a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Meta {
    /// The file type.
    pub(crate) kind: FileType,
    /// Device and inode: the file's identity.
    pub(crate) dev: u64,
    /// Inode number.
    pub(crate) ino: u64,
    /// Permission bits.
    pub(crate) perm: u32,
}

fn meta(st: &rustix::fs::Stat) -> Meta {
    Meta {
        kind: FileType::from_raw_mode(st.st_mode),
        dev: st.st_dev,
        ino: st.st_ino,
        perm: st.st_mode & 0o7777,
    }
}

/// `mkfifo(path, mode)` (the process umask applies); never follows a
/// symlink: an existing name of any kind is `EEXIST`.
pub(crate) fn mkfifo(path: &Path, mode: u32) -> Result<(), Errno> {
    rustix::fs::mkfifoat(CWD, path, Mode::from_raw_mode(mode))
}

/// `chmod(path, mode)`.
pub(crate) fn chmod(path: &Path, mode: u32) -> Result<(), Errno> {
    rustix::fs::chmod(path, Mode::from_raw_mode(mode))
}

/// `lstat(path)`: the name itself, not what a symlink points to.
pub(crate) fn lstat(path: &Path) -> Result<Meta, Errno> {
    rustix::fs::lstat(path).map(|st| meta(&st))
}

/// `fstat(fd)`.
pub(crate) fn fstat(fd: BorrowedFd<'_>) -> Result<Meta, Errno> {
    rustix::fs::fstat(fd).map(|st| meta(&st))
}

/// `open(path, O_RDONLY or O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW |
/// O_NOCTTY)`; retries `EINTR`. Never blocks: a reader opens at once, a writer
/// with no reader gets `ENXIO`.
pub(crate) fn open_nonblocking(path: &Path, write: bool) -> Result<OwnedFd, Errno> {
    let access = if write {
        OFlags::WRONLY
    } else {
        OFlags::RDONLY
    };
    let flags = access | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOFOLLOW | OFlags::NOCTTY;
    loop {
        match rustix::fs::open(path, flags, Mode::empty()) {
            Err(Errno::INTR) => continue,
            other => return other,
        }
    }
}

/// `unlink(path)`.
pub(crate) fn unlink(path: &Path) -> Result<(), Errno> {
    rustix::fs::unlink(path)
}
