//! Anonymous shared memory from `memfd_create`, with seals.
//!
//! A [`Memfd`] has no name in any file system: it is reachable only through
//! its file descriptor, which can be inherited by a child (see
//! [`Memfd::as_fd`] / [`Memfd::try_clone_fd`]) or sent over a Unix socket
//! with `SCM_RIGHTS`. The descriptor is close-on-exec from birth
//! (`MFD_CLOEXEC`); clear `FD_CLOEXEC` on a duplicate only in the child you
//! mean to hand it to.
//!
//! Seals ([`Seals`]) let the receiver trust the object: with
//! [`Seals::SHRINK`] nobody can shrink it under a mapping (no `SIGBUS`), with
//! [`Seals::GROW`] its size is fixed, with [`Seals::WRITE`] its content is
//! frozen, and [`Seals::SEAL`] forbids further seal changes. A receiver opens
//! it with [`Memfd::from_fd`], which checks the size and the seals it
//! requires before mapping.
//!
//! ```
//! use ipcx::shm::{memfd::{Memfd, Seals}, SharedMemory};
//!
//! let mut seg = Memfd::create("example", 4096)?;
//! seg.write_bytes(0, b"frozen")?;
//! seg.seal(Seals::SHRINK | Seals::GROW | Seals::WRITE | Seals::SEAL)?;
//! assert!(seg.write_bytes(0, b"x").is_err()); // remapped read-only
//!
//! // The receiving side (here the same process) validates before mapping.
//! let fd = seg.try_clone_fd()?;
//! let theirs = Memfd::from_fd(fd, Some(4096), Seals::SHRINK | Seals::WRITE)?;
//! let mut buf = [0u8; 6];
//! theirs.read_bytes(0, &mut buf)?;
//! assert_eq!(&buf, b"frozen");
//! # Ok::<(), ipcx::Error>(())
//! ```
//!
//! # References
//! - [memfd_create(2)](https://man7.org/linux/man-pages/man2/memfd_create.2.html)
//! - [fcntl(2)](https://man7.org/linux/man-pages/man2/fcntl.2.html), section
//!   "File Sealing"
//! - [unix(7)](https://man7.org/linux/man-pages/man7/unix.7.html) (`SCM_RIGHTS`)

use std::fmt;
use std::ops::BitOr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use super::{Region, Sealed, SharedMemory};
use crate::error::{Error, Result};
use crate::sys::mman::Mapping;
use crate::sys::shm as sys;

/// A set of `F_SEAL_*` seals.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Seals(u32);

impl Seals {
    /// No seals.
    pub const NONE: Seals = Seals(0);
    /// `F_SEAL_SEAL`: no further seals may be added.
    pub const SEAL: Seals = Seals(libc::F_SEAL_SEAL as u32);
    /// `F_SEAL_SHRINK`: the size may not decrease.
    pub const SHRINK: Seals = Seals(libc::F_SEAL_SHRINK as u32);
    /// `F_SEAL_GROW`: the size may not increase.
    pub const GROW: Seals = Seals(libc::F_SEAL_GROW as u32);
    /// `F_SEAL_WRITE`: the content may not change (needs no writable shared
    /// mapping to exist when it is added).
    pub const WRITE: Seals = Seals(libc::F_SEAL_WRITE as u32);
    /// `F_SEAL_FUTURE_WRITE`: no new writable mappings or writes, existing
    /// writable mappings keep working (Linux 5.1).
    pub const FUTURE_WRITE: Seals = Seals(libc::F_SEAL_FUTURE_WRITE as u32);

    /// Whether every seal of `other` is in `self`.
    pub fn contains(self, other: Seals) -> bool {
        self.0 & other.0 == other.0
    }

    /// The raw `F_SEAL_*` bits.
    pub fn bits(self) -> u32 {
        self.0
    }
}

impl BitOr for Seals {
    type Output = Seals;
    fn bitor(self, rhs: Seals) -> Seals {
        Seals(self.0 | rhs.0)
    }
}

impl fmt::Debug for Seals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (Seals::SEAL, "F_SEAL_SEAL"),
            (Seals::SHRINK, "F_SEAL_SHRINK"),
            (Seals::GROW, "F_SEAL_GROW"),
            (Seals::WRITE, "F_SEAL_WRITE"),
            (Seals::FUTURE_WRITE, "F_SEAL_FUTURE_WRITE"),
        ];
        let set: Vec<&str> = names
            .iter()
            .filter(|(s, _)| self.contains(*s))
            .map(|(_, n)| *n)
            .collect();
        if set.is_empty() {
            f.write_str("(no seals)")
        } else {
            f.write_str(&set.join(" | "))
        }
    }
}

impl fmt::Display for Seals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// An anonymous shared memory segment (`memfd_create`), mapped.
#[derive(Debug)]
pub struct Memfd {
    name: String,
    fd: OwnedFd,
    /// `None` only if remapping after [`Memfd::seal`] failed; the region is
    /// then empty and every access is an error.
    map: Option<Mapping>,
}

fn describe(name: &str) -> String {
    format!("memfd {name}")
}

impl Memfd {
    /// `memfd_create`—makes an anonymous segment of `size` bytes with
    /// `MFD_CLOEXEC | MFD_ALLOW_SEALING`, reserves its space (`fallocate`) and
    /// maps it read-write. `name` is only a label shown in `/proc/PID/fd`.
    ///
    /// # Errors
    /// - [`Error::InvalidArgument`]: a size of 0, or a name with a NUL byte
    ///   or over 249 bytes.
    /// - [`Error::NoSpace`]: no memory for `size` bytes.
    ///
    /// # References
    /// [memfd_create(2)](https://man7.org/linux/man-pages/man2/memfd_create.2.html)
    #[doc(alias = "memfd_create")]
    pub fn create(name: &str, size: usize) -> Result<Memfd> {
        let object = describe(name);
        if size == 0 {
            return Err(Error::InvalidArgument {
                object,
                reason: "a memfd segment needs a size of at least 1 byte".into(),
            });
        }
        if name.contains('\0') || name.len() > 249 {
            return Err(Error::InvalidArgument {
                object,
                reason: "a memfd name has no NUL byte and at most 249 bytes".into(),
            });
        }
        let fd = sys::memfd_create(name).map_err(|e| Error::os(&object, "memfd_create", e))?;
        sys::reserve(&fd, size as u64).map_err(|e| Error::os(&object, "fallocate", e))?;
        let map =
            Mapping::map_shared(&fd, size, true).map_err(|e| Error::os(&object, "mmap", e))?;
        Ok(Memfd {
            name: name.to_owned(),
            fd,
            map: Some(map),
        })
    }

    /// Maps a memfd received from another process (inherited or by
    /// `SCM_RIGHTS`) after checking it: it must be a regular file of exactly
    /// `size` bytes when given (any non-zero size otherwise) and carry every
    /// seal in `required`. Mapped read-write unless write-sealed or opened
    /// read-only.
    ///
    /// Require at least [`Seals::SHRINK`] from an untrusted sender: without
    /// it the sender could shrink the object under the mapping.
    ///
    /// # Errors
    /// - [`Error::InvalidSize`]: size 0, or not `size`.
    /// - [`Error::InvalidArgument`]: not a regular file, not sealable, or a
    ///   required seal is missing (the message lists them).
    ///
    /// # References
    /// [fcntl(2)](https://man7.org/linux/man-pages/man2/fcntl.2.html)
    #[doc(alias = "F_GET_SEALS")]
    pub fn from_fd(fd: OwnedFd, size: Option<usize>, required: Seals) -> Result<Memfd> {
        let object = describe("(received)");
        let info = sys::fstat(&fd).map_err(|e| Error::os(&object, "fstat", e))?;
        if !info.regular {
            return Err(Error::InvalidArgument {
                object,
                reason: "the descriptor is not a regular file or memfd".into(),
            });
        }
        let seals = Seals(sys::get_seals(&fd).map_err(|e| match e.raw_os_error() {
            Some(libc::EINVAL) => Error::InvalidArgument {
                object: object.clone(),
                reason: "the descriptor does not support seals (not a memfd?)".into(),
            },
            _ => Error::os(&object, "fcntl(F_GET_SEALS)", e),
        })?);
        if !seals.contains(required) {
            return Err(Error::InvalidArgument {
                object,
                reason: format!("seals {seals} lack the required {required}"),
            });
        }
        super::posix::check_size(&object, info.size, size)?;
        let len = usize::try_from(info.size).map_err(|_| Error::InvalidSize {
            object: object.clone(),
            expected: "a size that fits in the address space".into(),
            actual: info.size,
        })?;
        let writable = !seals.contains(Seals::WRITE)
            && !seals.contains(Seals::FUTURE_WRITE)
            && sys::fd_writable(&fd).map_err(|e| Error::os(&object, "fcntl(F_GETFL)", e))?;
        let map =
            Mapping::map_shared(&fd, len, writable).map_err(|e| Error::os(&object, "mmap", e))?;
        Ok(Memfd {
            name: "(received)".into(),
            fd,
            map: Some(map),
        })
    }

    /// `fcntl(F_ADD_SEALS)`—adds seals. Adding [`Seals::WRITE`] unmaps this
    /// handle's writable mapping first (the kernel refuses the seal while any
    /// shared mapping that could write exists) and maps it again read-only.
    ///
    /// # Errors
    /// [`Error::PermissionDenied`] when `F_SEAL_SEAL` is already set;
    /// [`Error::Io`] (`EBUSY`) when another process still maps it writable.
    ///
    /// # References
    /// [fcntl(2)](https://man7.org/linux/man-pages/man2/fcntl.2.html)
    #[doc(alias = "F_ADD_SEALS")]
    pub fn seal(&mut self, seals: Seals) -> Result<()> {
        let object = describe(&self.name);
        let len = self.len();
        let was_writable = !self.is_read_only();
        let remap = seals.contains(Seals::WRITE) && was_writable;
        if remap {
            self.map = None;
        }
        let sealed = sys::add_seals(&self.fd, seals.bits())
            .map_err(|e| Error::os(&object, "fcntl(F_ADD_SEALS)", e));
        if remap {
            let writable = sealed.is_err();
            self.map = Some(
                Mapping::map_shared(&self.fd, len, writable)
                    .map_err(|e| Error::os(&object, "mmap", e))?,
            );
        }
        sealed
    }

    /// `fcntl(F_GET_SEALS)`—the seals now set.
    ///
    /// # Errors
    /// [`Error::Io`] if the call fails.
    ///
    /// # References
    /// [fcntl(2)](https://man7.org/linux/man-pages/man2/fcntl.2.html)
    #[doc(alias = "F_GET_SEALS")]
    pub fn seals(&self) -> Result<Seals> {
        sys::get_seals(&self.fd)
            .map(Seals)
            .map_err(|e| Error::os(describe(&self.name), "fcntl(F_GET_SEALS)", e))
    }

    /// The mapped length in bytes.
    pub fn len(&self) -> usize {
        self.map.as_ref().map_or(0, Mapping::len)
    }

    /// `true` only if remapping after sealing failed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The label given at creation.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this handle's mapping is read-only.
    pub fn is_read_only(&self) -> bool {
        !self.map.as_ref().is_some_and(Mapping::is_writable)
    }

    /// A duplicate of the descriptor (close-on-exec), to send with
    /// `SCM_RIGHTS` or hand to a child.
    ///
    /// # Errors
    /// [`Error::Io`] when `fcntl(F_DUPFD_CLOEXEC)` fails (out of descriptors).
    pub fn try_clone_fd(&self) -> Result<OwnedFd> {
        self.fd
            .try_clone()
            .map_err(|e| Error::os(describe(&self.name), "fcntl(F_DUPFD_CLOEXEC)", e))
    }

    /// Start of the mapping, for in-crate shared structures (the ring).
    #[allow(dead_code)]
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.map
            .as_ref()
            .map_or(std::ptr::null_mut(), Mapping::as_ptr)
    }
}

impl AsFd for Memfd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Sealed for Memfd {}
impl SharedMemory for Memfd {
    fn region(&self) -> Region<'_> {
        match &self.map {
            Some(map) => Region::of(map),
            None => Region::empty(),
        }
    }
    fn describe(&self) -> String {
        describe(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_seal_is_refused() {
        let seg = Memfd::create("t", 4096).unwrap();
        let err =
            Memfd::from_fd(seg.try_clone_fd().unwrap(), Some(4096), Seals::SHRINK).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument { .. }), "{err}");
    }

    #[test]
    fn wrong_size_is_refused() {
        let mut seg = Memfd::create("t", 4096).unwrap();
        seg.seal(Seals::SHRINK | Seals::GROW).unwrap();
        let err =
            Memfd::from_fd(seg.try_clone_fd().unwrap(), Some(8192), Seals::SHRINK).unwrap_err();
        assert!(
            matches!(err, Error::InvalidSize { actual: 4096, .. }),
            "{err}"
        );
        assert!(!seg.is_read_only());
        let other = Memfd::from_fd(seg.try_clone_fd().unwrap(), None, Seals::SHRINK).unwrap();
        other.write_value(0, &5u32).unwrap();
        assert_eq!(seg.read_value::<u32>(0).unwrap(), 5);
    }
}
