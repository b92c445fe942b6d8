//! POSIX shared memory objects: `shm_open` + `fallocate` + `mmap`.
//!
//! A [`Segment`] is a named object under `/dev/shm` mapped into this process.
//! Build one with [`Segment::builder`], ending in [`SegmentBuilder::create`],
//! [`SegmentBuilder::open`] or [`SegmentBuilder::open_or_create`]:
//!
//! ```
//! use ipcx::shm::{posix::Segment, SharedMemory};
//!
//! let name = format!("/ipcx-doc-posix-{}", std::process::id());
//! let writer = Segment::builder(&name).size(4096).create()?; // mode 0600, O_EXCL
//! writer.write_bytes(0, b"hello")?;
//!
//! let reader = Segment::builder(&name).read_only().open()?; // size from fstat
//! let mut buf = [0u8; 5];
//! reader.read_bytes(0, &mut buf)?;
//! assert_eq!(&buf, b"hello");
//! drop(reader);
//! drop(writer); // the creator removes the name
//! assert!(Segment::builder(&name).open().is_err());
//! # Ok::<(), ipcx::Error>(())
//! ```
//!
//! # Safety rules this module enforces
//! - **Creation** uses `O_CREAT | O_EXCL` and mode 0600 by default, and sets
//!   the mode exactly with `fchmod` (the umask does not narrow an explicit
//!   mode). The creator's identity is recorded in an extended attribute
//!   ([`crate::creator::record_creator`]) for `ipcx ls --stale`.
//! - **Symlinks**: a POSIX shared memory name has no slash after the first,
//!   so it cannot walk directories; ipcx opens `/dev/shm/NAME` itself with
//!   `O_NOFOLLOW | O_CLOEXEC`, as glibc's `shm_open` does, so a symlink
//!   planted at that name is refused rather than followed.
//! - **Size**: space is reserved up front with `fallocate` (mode 0, what
//!   `posix_fallocate` does on tmpfs), so a full `/dev/shm` is
//!   [`Error::NoSpace`] at creation, not `SIGBUS` on first touch. An opener
//!   checks the size with `fstat` before mapping: a zero-size object, or one
//!   whose size differs from the size asked for, is [`Error::InvalidSize`].
//!   (A hostile process that can write the object could still shrink it
//!   after the check; use [`super::memfd`] with `F_SEAL_SHRINK` where the
//!   peer is not trusted.)
//! - **Read-only** opens (`O_RDONLY`) are mapped `PROT_READ`; writes through
//!   them are [`Error::PermissionDenied`].
//! - **Ownership**: the creator unlinks the name on drop unless
//!   [`Segment::keep`] was called; openers never unlink. Before unlinking,
//!   the creator checks that the name still refers to its own object.
//!
//! # References
//! - [shm_open(3)](https://man7.org/linux/man-pages/man3/shm_open.3.html),
//!   [shm_unlink(3)](https://man7.org/linux/man-pages/man3/shm_unlink.3.html)
//! - [posix_fallocate(3)](https://man7.org/linux/man-pages/man3/posix_fallocate.3.html),
//!   [fallocate(2)](https://man7.org/linux/man-pages/man2/fallocate.2.html)
//! - [mmap(2)](https://man7.org/linux/man-pages/man2/mmap.2.html),
//!   [shm_overview(7)](https://man7.org/linux/man-pages/man7/shm_overview.7.html)

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use rustix::fs::OFlags;

use super::{CreationMode, Region, Sealed, SharedMemory};
use crate::error::{Error, Result};
use crate::key::validate_posix_name;
use crate::sys::mman::Mapping;
use crate::sys::shm as sys;

/// Default mode of created objects: owner read and write only.
pub const DEFAULT_MODE: u32 = 0o600;

/// How long [`SegmentBuilder::open_or_create`] waits for a concurrent creator
/// to finish sizing an object it finds empty.
const CREATOR_GRACE: Duration = Duration::from_secs(1);

fn describe(name: &str) -> String {
    format!("POSIX shared memory {name}")
}

/// Builds a [`Segment`]; see the [module documentation](self).
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until .create(), .open() or .open_or_create()"]
pub struct SegmentBuilder {
    name: String,
    size: Option<usize>,
    mode: u32,
    read_only: bool,
}

impl SegmentBuilder {
    /// The size in bytes. Required to create; when opening, the object's real
    /// size must equal it (else [`Error::InvalidSize`]); without it, an opener
    /// maps the whole object as `fstat` reports it.
    pub fn size(mut self, bytes: usize) -> Self {
        self.size = Some(bytes);
        self
    }

    /// Permission bits for a created object (default [`DEFAULT_MODE`], 0600).
    /// Wider access (0640, 0660, 0666) is an explicit choice.
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode;
        self
    }

    /// Open read-only (`O_RDONLY`, `PROT_READ`); only for [`SegmentBuilder::open`].
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    /// Creates a new object (`O_CREAT | O_EXCL`); the caller owns it and
    /// unlinks it on drop.
    ///
    /// # Errors
    /// - [`Error::InvalidName`]: the name breaks the POSIX name rules
    ///   ([`validate_posix_name`]).
    /// - [`Error::InvalidArgument`]: no size, a size of 0, a mode over 0o777,
    ///   or a read-only create.
    /// - [`Error::AlreadyExists`]: the name is taken.
    /// - [`Error::NoSpace`]: `/dev/shm` cannot hold the size (`fallocate`).
    /// - [`Error::PermissionDenied`]: `/dev/shm` refuses the creation.
    ///
    /// # References
    /// [shm_open(3)](https://man7.org/linux/man-pages/man3/shm_open.3.html)
    #[doc(alias = "shm_open")]
    pub fn create(self) -> Result<Segment> {
        self.build(CreationMode::Create)
    }

    /// Opens an existing object; the caller never unlinks it.
    ///
    /// # Errors
    /// - [`Error::InvalidName`] as for [`SegmentBuilder::create`].
    /// - [`Error::NotFound`]: no such object.
    /// - [`Error::PermissionDenied`]: the mode forbids the access asked for.
    /// - [`Error::InvalidSize`]: the object is empty, or its size differs
    ///   from [`SegmentBuilder::size`].
    /// - [`Error::InvalidArgument`]: the name is a symlink or not a regular file.
    ///
    /// # References
    /// [shm_open(3)](https://man7.org/linux/man-pages/man3/shm_open.3.html)
    #[doc(alias = "shm_open")]
    pub fn open(self) -> Result<Segment> {
        self.build(CreationMode::Open)
    }

    /// Opens the object if it exists, else creates it. An object found empty
    /// is given up to one second for its creator to size it.
    ///
    /// # Errors
    /// As [`SegmentBuilder::create`] and [`SegmentBuilder::open`].
    pub fn open_or_create(self) -> Result<Segment> {
        self.build(CreationMode::OpenOrCreate)
    }

    /// Builds with an explicit [`CreationMode`].
    ///
    /// # Errors
    /// As [`SegmentBuilder::create`] and [`SegmentBuilder::open`].
    pub fn build(self, how: CreationMode) -> Result<Segment> {
        validate_posix_name(&self.name)?;
        if self.mode > 0o777 {
            return Err(Error::InvalidArgument {
                object: describe(&self.name),
                reason: format!("mode {:o} is over 0o777", self.mode),
            });
        }
        match how {
            CreationMode::Create => self.do_create(),
            CreationMode::Open => self.do_open(),
            CreationMode::OpenOrCreate => {
                let start = Instant::now();
                loop {
                    match self.do_create() {
                        Err(Error::AlreadyExists { .. }) => {}
                        other => return other,
                    }
                    match self.do_open() {
                        // Removed between our two calls: try creating again.
                        Err(Error::NotFound { .. }) => {}
                        // A creator between O_EXCL and fallocate.
                        Err(Error::InvalidSize { actual: 0, .. })
                            if start.elapsed() < CREATOR_GRACE => {}
                        other => return other,
                    }
                    if start.elapsed() >= CREATOR_GRACE {
                        return self.do_open();
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
    }

    fn do_create(&self) -> Result<Segment> {
        let object = describe(&self.name);
        if self.read_only {
            return Err(Error::InvalidArgument {
                object,
                reason: "a read-only segment can only be opened, not created".into(),
            });
        }
        let size = match self.size {
            Some(0) | None => {
                return Err(Error::InvalidArgument {
                    object,
                    reason: "creating a segment needs a size of at least 1 byte".into(),
                })
            }
            Some(s) => s,
        };
        let fd = sys::shm_open(
            &self.name,
            OFlags::RDWR | OFlags::CREATE | OFlags::EXCL,
            self.mode,
        )
        .map_err(|e| Error::os(&object, "shm_open", e))?;
        // From here on the name is ours: remove it again on any failure.
        let cleanup = |err: Error| {
            let _ = sys::shm_unlink(&self.name);
            err
        };
        sys::fchmod(&fd, self.mode).map_err(|e| cleanup(Error::os(&object, "fchmod", e)))?;
        crate::creator::record_creator(&fd);
        sys::reserve(&fd, size as u64).map_err(|e| cleanup(Error::os(&object, "fallocate", e)))?;
        let identity = sys::fstat(&fd)
            .map_err(|e| cleanup(Error::os(&object, "fstat", e)))?
            .identity;
        let map = Mapping::map_shared(&fd, size, true)
            .map_err(|e| cleanup(Error::os(&object, "mmap", e)))?;
        Ok(Segment {
            name: self.name.clone(),
            fd,
            map,
            owner: true,
            identity,
        })
    }

    fn do_open(&self) -> Result<Segment> {
        let object = describe(&self.name);
        let access = if self.read_only {
            OFlags::RDONLY
        } else {
            OFlags::RDWR
        };
        let fd = sys::shm_open(&self.name, access, 0).map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => Error::InvalidArgument {
                object: object.clone(),
                reason: "the name is a symbolic link, which ipcx never follows".into(),
            },
            _ => Error::os(&object, "shm_open", e),
        })?;
        let info = sys::fstat(&fd).map_err(|e| Error::os(&object, "fstat", e))?;
        if !info.regular {
            return Err(Error::InvalidArgument {
                object,
                reason: "not a regular file".into(),
            });
        }
        check_size(&object, info.size, self.size)?;
        let len = usize::try_from(info.size).map_err(|_| Error::InvalidSize {
            object: object.clone(),
            expected: "a size that fits in the address space".into(),
            actual: info.size,
        })?;
        let map = Mapping::map_shared(&fd, len, !self.read_only)
            .map_err(|e| Error::os(&object, "mmap", e))?;
        Ok(Segment {
            name: self.name.clone(),
            fd,
            map,
            owner: false,
            identity: info.identity,
        })
    }
}

/// Checks a size found by `fstat` against the expected one; 0 is never valid.
pub(crate) fn check_size(object: &str, actual: u64, expected: Option<usize>) -> Result<()> {
    if actual == 0 {
        return Err(Error::InvalidSize {
            object: object.to_owned(),
            expected: match expected {
                Some(n) => format!("{n} bytes"),
                None => "a non-zero size".into(),
            },
            actual,
        });
    }
    if let Some(n) = expected {
        if actual != n as u64 {
            return Err(Error::InvalidSize {
                object: object.to_owned(),
                expected: format!("{n} bytes"),
                actual,
            });
        }
    }
    Ok(())
}

/// A POSIX shared memory object mapped into this process.
///
/// Byte and typed access come from the [`SharedMemory`] trait. The creator
/// unlinks the name on drop unless [`Segment::keep`] was called.
#[derive(Debug)]
pub struct Segment {
    name: String,
    fd: OwnedFd,
    map: Mapping,
    owner: bool,
    identity: (u64, u64),
}

impl Segment {
    /// Starts building a segment named `name` (`/` then up to 255 bytes, no
    /// other slash), with mode 0600 and read-write access.
    pub fn builder(name: &str) -> SegmentBuilder {
        SegmentBuilder {
            name: name.to_owned(),
            size: None,
            mode: DEFAULT_MODE,
            read_only: false,
        }
    }

    /// The name, with its leading slash.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The mapped length in bytes.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Always `false`: segments are at least one byte.
    pub fn is_empty(&self) -> bool {
        self.map.len() == 0
    }

    /// Whether this handle was opened read-only.
    pub fn is_read_only(&self) -> bool {
        !self.map.is_writable()
    }

    /// Whether this handle created the object (and so unlinks it on drop,
    /// unless kept).
    pub fn is_owner(&self) -> bool {
        self.owner
    }

    /// Leaves the name in place on drop: the object outlives this process
    /// until someone calls `shm_unlink` (for example `ipcx rm shm:/NAME`).
    pub fn keep(&mut self) {
        self.owner = false;
    }

    /// `shm_unlink`—removes the name now (any process may, permissions
    /// allowing); the memory stays mapped until every mapping is gone.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the name is already gone;
    /// [`Error::PermissionDenied`] when `/dev/shm` refuses.
    ///
    /// # References
    /// [shm_unlink(3)](https://man7.org/linux/man-pages/man3/shm_unlink.3.html)
    #[doc(alias = "shm_unlink")]
    pub fn unlink(&mut self) -> Result<()> {
        self.owner = false;
        sys::shm_unlink(&self.name).map_err(|e| Error::os(describe(&self.name), "shm_unlink", e))
    }

    /// Whether the name still refers to this very object (it may have been
    /// unlinked, and perhaps made again by someone else, since this handle
    /// opened it). Lock protocols that remove their object use this after
    /// locking to detect that they locked a stale one.
    ///
    /// # Errors
    /// [`Error::Io`] when `lstat` fails for another reason than absence.
    pub fn is_linked(&self) -> Result<bool> {
        match sys::shm_identity(&self.name) {
            Ok(id) => Ok(id == self.identity),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(false),
            Err(e) => Err(Error::os(describe(&self.name), "lstat", e)),
        }
    }

    /// Start of the mapping, for in-crate shared structures (the ring).
    #[allow(dead_code)]
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.map.as_ptr()
    }
}

/// `shm_unlink`—removes a POSIX shared memory name without opening it.
///
/// # Errors
/// [`Error::InvalidName`] for a bad name, [`Error::NotFound`] when there is
/// no such object, [`Error::PermissionDenied`] when `/dev/shm` refuses.
///
/// # References
/// [shm_unlink(3)](https://man7.org/linux/man-pages/man3/shm_unlink.3.html)
#[doc(alias = "shm_unlink")]
pub fn unlink(name: &str) -> Result<()> {
    validate_posix_name(name)?;
    sys::shm_unlink(name).map_err(|e| Error::os(describe(name), "shm_unlink", e))
}

impl AsFd for Segment {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Sealed for Segment {}
impl SharedMemory for Segment {
    fn region(&self) -> Region<'_> {
        Region::of(&self.map)
    }
    fn describe(&self) -> String {
        describe(&self.name)
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        if self.owner {
            // Only remove the name if it still refers to our object (someone
            // may have unlinked it and made a new one under the same name).
            if sys::shm_identity(&self.name).ok() == Some(self.identity) {
                let _ = sys::shm_unlink(&self.name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(tag: &str) -> String {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        format!(
            "/ipcx-unit-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        )
    }

    #[test]
    fn creator_unlinks_and_opener_does_not() {
        let n = name("own");
        let a = Segment::builder(&n).size(100).create().unwrap();
        let b = Segment::builder(&n).open().unwrap();
        assert_eq!(b.len(), 100);
        drop(b);
        assert!(std::path::Path::new(&sys::shm_path(&n)).exists());
        drop(a);
        assert!(!std::path::Path::new(&sys::shm_path(&n)).exists());
    }

    #[test]
    fn open_or_create_opens_existing() {
        let n = name("ooc");
        let a = Segment::builder(&n).size(64).open_or_create().unwrap();
        assert!(a.is_owner());
        let b = Segment::builder(&n).size(64).open_or_create().unwrap();
        assert!(!b.is_owner());
        b.write_value(0, &7u64).unwrap();
        assert_eq!(a.read_value::<u64>(0).unwrap(), 7);
    }

    #[test]
    fn read_only_refuses_writes() {
        let n = name("ro");
        let _a = Segment::builder(&n).size(64).create().unwrap();
        let b = Segment::builder(&n).read_only().open().unwrap();
        assert!(b.is_read_only());
        assert!(matches!(
            b.write_bytes(0, b"x"),
            Err(Error::PermissionDenied { .. })
        ));
        assert!(matches!(
            b.atomic_u32(0),
            Err(Error::PermissionDenied { .. })
        ));
    }

    #[test]
    fn unaligned_typed_access_is_an_error() {
        let n = name("align");
        let a = Segment::builder(&n).size(64).create().unwrap();
        assert!(matches!(
            a.read_value::<u64>(4),
            Err(Error::InvalidArgument { .. })
        ));
        assert!(matches!(
            a.read_value::<u64>(60),
            Err(Error::InvalidArgument { .. })
        ));
        assert!(a.read_value::<u32>(60).is_ok());
    }
}
