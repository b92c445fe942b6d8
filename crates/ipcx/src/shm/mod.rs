//! Shared memory: POSIX ([`posix`]), anonymous memfd ([`memfd`]) and System V ([`sysv`]).
//!
//! All three kinds map memory that other processes write at the same time, so
//! ipcx never hands out `&[u8]` or `&T` into it (another process could change
//! the bytes under a Rust reference, which Rust forbids). Access goes through
//! the [`SharedMemory`] trait instead:
//! - byte copies in and out ([`SharedMemory::read_bytes`],
//!   [`SharedMemory::write_bytes`]), done with volatile accesses and bounds
//!   checked;
//! - typed copies of plain-data values ([`SharedMemory::read_value`],
//!   [`SharedMemory::write_value`]) for types that implement the unsafe marker
//!   trait [`Pod`], alignment and bounds checked;
//! - atomics ([`SharedMemory::atomic_u32`], [`SharedMemory::atomic_u64`]) for
//!   lock-free coordination.
//!
//! Process-shared locks that live inside a segment are in
//! [`crate::sem::posix::UnnamedSemaphore`] and [`crate::sync::Mutex`].
//!
//! ```
//! use ipcx::shm::{memfd::Memfd, SharedMemory};
//!
//! let seg = Memfd::create("doc-example", 4096)?;
//! seg.write_value(8, &0x1234_u32)?;
//! assert_eq!(seg.read_value::<u32>(8)?, 0x1234);
//! seg.write_bytes(100, b"hello")?;
//! let mut buf = [0u8; 5];
//! seg.read_bytes(100, &mut buf)?;
//! assert_eq!(&buf, b"hello");
//! // Out of bounds is an error, never a fault.
//! assert!(seg.read_bytes(4094, &mut buf).is_err());
//! # Ok::<(), ipcx::Error>(())
//! ```
//!
//! # References
//! - [shm_overview(7)](https://man7.org/linux/man-pages/man7/shm_overview.7.html)
//! - [memfd_create(2)](https://man7.org/linux/man-pages/man2/memfd_create.2.html)
//! - [sysvipc(7)](https://man7.org/linux/man-pages/man7/sysvipc.7.html)

use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64};

use crate::error::{Error, Result};
use crate::sys::mman::Mapping;

pub mod memfd;
pub mod posix;
pub mod sysv;

/// How a builder reaches a named object (iceoryx2 style).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CreationMode {
    /// Create a new object; fail with [`Error::AlreadyExists`] if the name or
    /// key is taken (`O_EXCL` / `IPC_EXCL`). The caller becomes its owner.
    Create,
    /// Open an existing object; fail with [`Error::NotFound`] if there is none.
    /// The caller never removes it.
    Open,
    /// Open the object if it exists, else create it (and own it).
    OpenOrCreate,
}

/// Plain data that may be copied in and out of shared memory.
///
/// # Safety
/// Implement only for types that are `#[repr(C)]` (or primitive), contain no
/// pointers, references or file descriptors (they mean nothing in another
/// process), have no padding bytes whose content matters, and for which
/// **every** bit pattern is a valid value (another process may write any bytes
/// there). `bool`, `char`, enums and references are therefore not `Pod`.
///
/// ```
/// use ipcx::shm::{memfd::Memfd, Pod, SharedMemory};
///
/// #[repr(C)]
/// #[derive(Clone, Copy, Debug, PartialEq)]
/// struct Sample {
///     seq: u64,
///     value: [f32; 2],
/// }
/// // SAFETY: repr(C), two fields of Pod types with no padding between or
/// // after them (8 + 8 bytes), no pointers: any bytes are a valid Sample.
/// unsafe impl Pod for Sample {}
///
/// let seg = Memfd::create("pod-doc", 4096)?;
/// let s = Sample { seq: 1, value: [0.5, 2.0] };
/// seg.write_value(64, &s)?;
/// assert_eq!(seg.read_value::<Sample>(64)?, s);
/// # Ok::<(), ipcx::Error>(())
/// ```
#[allow(unsafe_code)]
pub unsafe trait Pod: Copy + Send + Sync + 'static {}

macro_rules! impl_pod {
    ($($t:ty),*) => {
        $(
            // SAFETY: a primitive integer or float: no pointers, no padding,
            // every bit pattern is a valid value.
            #[allow(unsafe_code)]
            unsafe impl Pod for $t {}
        )*
    };
}
impl_pod!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64);

// SAFETY: an array of Pod values has no padding between elements and every bit
// pattern of each element is valid, so every bit pattern of the array is.
#[allow(unsafe_code)]
unsafe impl<T: Pod, const N: usize> Pod for [T; N] {}

/// A borrowed view of a live shared mapping: where it starts, its length and
/// whether it is writable. Only ipcx can make one, from a mapping it owns, so
/// the pointer inside is valid for `'a`.
#[derive(Debug, Clone, Copy)]
pub struct Region<'a> {
    ptr: NonNull<u8>,
    len: usize,
    writable: bool,
    _mapping: PhantomData<&'a Mapping>,
}

impl<'a> Region<'a> {
    pub(crate) fn of(mapping: &'a Mapping) -> Region<'a> {
        Region::raw(mapping.as_ptr(), mapping.len(), mapping.is_writable())
    }

    pub(crate) fn of_attach(att: &'a crate::sys::shm::ShmAttach) -> Region<'a> {
        Region::raw(att.as_ptr(), att.len(), att.is_writable())
    }

    /// Private: only `of` and `of_attach` call it, with a live mapping's
    /// start and length (never null; a null start gives an empty region).
    fn raw(ptr: *mut u8, len: usize, writable: bool) -> Region<'a> {
        match NonNull::new(ptr) {
            Some(ptr) => Region {
                ptr,
                len,
                writable,
                _mapping: PhantomData,
            },
            None => Region::empty(),
        }
    }

    /// An empty region: every access to it is out of range.
    pub(crate) fn empty() -> Region<'a> {
        Region {
            ptr: NonNull::dangling(),
            len: 0,
            writable: false,
            _mapping: PhantomData,
        }
    }

    /// Length of the mapping in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the mapping is empty (never, for ipcx mappings).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the mapping was made writable.
    pub fn is_writable(&self) -> bool {
        self.writable
    }

    /// Start of the mapping.
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Checks that `len` bytes at `offset`, aligned to `align`, lie inside the
    /// mapping (and that it is writable when `write`).
    pub(crate) fn check(
        &self,
        object: &dyn Fn() -> String,
        offset: usize,
        len: usize,
        align: usize,
        write: bool,
    ) -> Result<()> {
        let end = offset.checked_add(len);
        if end.is_none_or(|end| end > self.len) {
            return Err(Error::InvalidArgument {
                object: object(),
                reason: format!(
                    "{len} bytes at offset {offset} are out of range: the mapping is {} bytes",
                    self.len
                ),
            });
        }
        // Mappings start on a page boundary, so the address is aligned
        // exactly when the offset is.
        if align > 1 && offset % align != 0 {
            return Err(Error::InvalidArgument {
                object: object(),
                reason: format!("offset {offset} is not aligned to {align} bytes"),
            });
        }
        if write && !self.writable {
            return Err(Error::PermissionDenied {
                object: format!("{} (mapped read-only)", object()),
                syscall: "write",
            });
        }
        Ok(())
    }
}

mod sealed {
    /// Keeps [`super::SharedMemory`] implemented by ipcx's own types only.
    pub trait Sealed {}
}

/// A live shared mapping: a POSIX segment, a memfd segment or an attached
/// System V segment. Gives bounds-checked access to its bytes.
///
/// Implemented also for `&T` and `Arc<T>` so that objects living inside a
/// segment (semaphores, mutexes) can borrow it or share it.
pub trait SharedMemory: sealed::Sealed {
    /// The mapping: start, length, writability.
    fn region(&self) -> Region<'_>;

    /// The object as a person names it (`POSIX shared memory /name`).
    fn describe(&self) -> String;

    /// Length of the mapping in bytes.
    fn size(&self) -> usize {
        self.region().len()
    }

    /// Copies `buf.len()` bytes starting at `offset` out of the segment, with
    /// volatile reads (another process may be writing them).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the range is not inside the mapping.
    fn read_bytes(&self, offset: usize, buf: &mut [u8]) -> Result<()> {
        let r = self.region();
        r.check(&|| self.describe(), offset, buf.len(), 1, false)?;
        crate::sys::shm::copy_out(r, offset, buf);
        Ok(())
    }

    /// Copies `data` into the segment at `offset`, with volatile writes.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the range is not inside the mapping;
    /// [`Error::PermissionDenied`] when the mapping is read-only.
    fn write_bytes(&self, offset: usize, data: &[u8]) -> Result<()> {
        let r = self.region();
        r.check(&|| self.describe(), offset, data.len(), 1, true)?;
        crate::sys::shm::copy_in(r, offset, data);
        Ok(())
    }

    /// Reads a plain-data value at `offset` (one volatile read).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the value does not fit inside the
    /// mapping at `offset` or `offset` is not aligned for `T`.
    fn read_value<T: Pod>(&self, offset: usize) -> Result<T>
    where
        Self: Sized,
    {
        let r = self.region();
        r.check(
            &|| self.describe(),
            offset,
            std::mem::size_of::<T>(),
            std::mem::align_of::<T>(),
            false,
        )?;
        Ok(crate::sys::shm::read_value(r, offset))
    }

    /// Writes a plain-data value at `offset` (one volatile write).
    ///
    /// # Errors
    /// As [`SharedMemory::read_value`], plus [`Error::PermissionDenied`] when
    /// the mapping is read-only.
    fn write_value<T: Pod>(&self, offset: usize, value: &T) -> Result<()>
    where
        Self: Sized,
    {
        let r = self.region();
        r.check(
            &|| self.describe(),
            offset,
            std::mem::size_of::<T>(),
            std::mem::align_of::<T>(),
            true,
        )?;
        crate::sys::shm::write_value(r, offset, *value);
        Ok(())
    }

    /// An atomic 32-bit integer at `offset`, shared with every process that
    /// maps the segment.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when 4 bytes at `offset` are out of range or
    /// unaligned; [`Error::PermissionDenied`] when the mapping is read-only
    /// (atomic read-modify-write operations need write access).
    fn atomic_u32(&self, offset: usize) -> Result<&AtomicU32> {
        let r = self.region();
        r.check(&|| self.describe(), offset, 4, 4, true)?;
        Ok(crate::sys::shm::atomic_u32(r, offset))
    }

    /// An atomic 64-bit integer at `offset`, shared with every process that
    /// maps the segment.
    ///
    /// # Errors
    /// As [`SharedMemory::atomic_u32`], for 8 bytes aligned to 8.
    fn atomic_u64(&self, offset: usize) -> Result<&AtomicU64> {
        let r = self.region();
        r.check(&|| self.describe(), offset, 8, 8, true)?;
        Ok(crate::sys::shm::atomic_u64(r, offset))
    }
}

impl<T: SharedMemory> sealed::Sealed for &T {}
impl<T: SharedMemory> SharedMemory for &T {
    fn region(&self) -> Region<'_> {
        (**self).region()
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
}

impl<T: SharedMemory> sealed::Sealed for std::sync::Arc<T> {}
impl<T: SharedMemory> SharedMemory for std::sync::Arc<T> {
    fn region(&self) -> Region<'_> {
        (**self).region()
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
}

pub(crate) use sealed::Sealed;
