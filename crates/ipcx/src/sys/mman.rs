//! Shared memory mappings: `mmap(2)` / `munmap(2)` of a file descriptor.
//!
//! Used by POSIX shared memory, memfd segments and the ring. The size must be
//! checked against the object (`fstat`) by the caller before mapping, so that
//! no access can land beyond the end of the object (`SIGBUS`).

use std::io;
use std::os::fd::AsFd;
use std::ptr::NonNull;

use rustix::mm::{MapFlags, ProtFlags};

/// A `MAP_SHARED` mapping, unmapped on drop.
#[derive(Debug)]
pub(crate) struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
    writable: bool,
}

// SAFETY: the mapping is plain shared memory owned by this value; access to its
// bytes goes through raw pointers whose synchronisation is the caller's
// business (atomics or volatile copies), exactly as for memory shared with
// another process.
unsafe impl Send for Mapping {}
// SAFETY: as for Send: `&Mapping` only hands out raw pointers.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps `len` bytes of `fd` from offset 0, shared, read-write or read-only.
    /// `len` must be non-zero and no larger than the object.
    pub(crate) fn map_shared(fd: impl AsFd, len: usize, writable: bool) -> io::Result<Mapping> {
        if len == 0 {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let prot = if writable {
            ProtFlags::READ | ProtFlags::WRITE
        } else {
            ProtFlags::READ
        };
        // SAFETY: a null hint lets the kernel choose fresh address space, so
        // the new mapping cannot overlap memory Rust already uses; the fd is
        // borrowed for the duration of the call only.
        let ptr =
            unsafe { rustix::mm::mmap(std::ptr::null_mut(), len, prot, MapFlags::SHARED, fd, 0)? };
        let ptr = NonNull::new(ptr.cast::<u8>())
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOMEM))?;
        Ok(Mapping { ptr, len, writable })
    }

    /// Start of the mapping.
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether the mapping was made writable.
    pub(crate) fn is_writable(&self) -> bool {
        self.writable
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // A robust mutex in here is still locked by this process (its guard
        // was forgotten): glibc's robust list points into this memory, so it
        // must stay mapped. Leak the mapping rather than unmap it.
        if crate::sys::pthread::holds_locked_mutex(self.ptr.as_ptr(), self.len) {
            return;
        }
        // SAFETY: ptr/len are exactly what mmap returned and this value is the
        // only owner; nothing borrowed from it outlives it (borrows are tied to
        // `&self` of the owning segment type).
        let _ = unsafe { rustix::mm::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_a_memfd_and_sees_writes_through_a_second_mapping() {
        let fd =
            rustix::fs::memfd_create("ipcx-mman-test", rustix::fs::MemfdFlags::CLOEXEC).unwrap();
        rustix::fs::ftruncate(&fd, 4096).unwrap();
        let a = Mapping::map_shared(&fd, 4096, true).unwrap();
        let b = Mapping::map_shared(&fd, 4096, false).unwrap();
        // SAFETY: both mappings are 4096 bytes long; offset 10 is in bounds.
        unsafe {
            a.as_ptr().add(10).write_volatile(42);
            assert_eq!(b.as_ptr().add(10).read_volatile(), 42);
        }
        assert!(a.is_writable() && !b.is_writable());
        assert_eq!(a.len(), 4096);
        assert!(Mapping::map_shared(&fd, 0, true).is_err());
    }
}
