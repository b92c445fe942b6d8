//! Shared memory system calls: POSIX `shm_open`/`shm_unlink` (as glibc does
//! them, on `/dev/shm`), `fallocate`, `fstat`, memfd seals, System V
//! `shmget`/`shmat`/`shmdt`/`shmctl`, and the volatile copies into mappings.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU32, AtomicU64};

use rustix::fs::{FallocateFlags, Mode, OFlags};

use crate::shm::{Pod, Region};

/// Where glibc keeps POSIX shared memory objects.
pub(crate) const SHM_DIR: &str = "/dev/shm";

/// The file behind a POSIX shared memory name (`/name` → `/dev/shm/name`).
/// The name must have been checked with `validate_posix_name`.
pub(crate) fn shm_path(name: &str) -> String {
    format!("{SHM_DIR}/{}", name.trim_start_matches('/'))
}

/// `shm_open`, as glibc implements it: `open` of `/dev/shm/NAME` with
/// `O_NOFOLLOW | O_CLOEXEC` added. `flags` carries the access mode and
/// `O_CREAT`/`O_EXCL`.
pub(crate) fn shm_open(name: &str, flags: OFlags, mode: u32) -> io::Result<OwnedFd> {
    let fd = rustix::fs::open(
        shm_path(name),
        flags | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(mode),
    )?;
    Ok(fd)
}

/// `shm_unlink`: removes the name (the memory lives on while mapped).
pub(crate) fn shm_unlink(name: &str) -> io::Result<()> {
    rustix::fs::unlink(shm_path(name))?;
    Ok(())
}

/// (device, inode) of the file now at `/dev/shm/NAME`, not following symlinks.
pub(crate) fn shm_identity(name: &str) -> io::Result<(u64, u64)> {
    let st = rustix::fs::lstat(shm_path(name))?;
    Ok((st.st_dev, st.st_ino))
}

/// What `fstat` says about an open shared memory file.
pub(crate) struct FileInfo {
    /// Size in bytes.
    pub(crate) size: u64,
    /// Whether it is a regular file.
    pub(crate) regular: bool,
    /// Device and inode.
    pub(crate) identity: (u64, u64),
}

/// `fstat`.
pub(crate) fn fstat(fd: impl AsFd) -> io::Result<FileInfo> {
    let st = rustix::fs::fstat(fd)?;
    Ok(FileInfo {
        size: st.st_size as u64,
        regular: (st.st_mode & libc::S_IFMT) == libc::S_IFREG,
        identity: (st.st_dev, st.st_ino),
    })
}

/// `fchmod`: sets the mode exactly (the umask applied at creation would
/// otherwise narrow an explicitly wider mode).
pub(crate) fn fchmod(fd: impl AsFd, mode: u32) -> io::Result<()> {
    rustix::fs::fchmod(fd, Mode::from_raw_mode(mode))?;
    Ok(())
}

/// Reserves `len` bytes from offset 0 and sets the size to at least `len`
/// (`fallocate` mode 0, what `posix_fallocate` does on tmpfs), so that a full
/// file system fails here with `ENOSPC` rather than with `SIGBUS` on the first
/// touch of a page. Falls back to `ftruncate` where `fallocate` is not
/// supported.
pub(crate) fn reserve(fd: impl AsFd, len: u64) -> io::Result<()> {
    let fd = fd.as_fd();
    match rustix::fs::fallocate(fd, FallocateFlags::empty(), 0, len) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::OPNOTSUPP) | Err(rustix::io::Errno::NOSYS) => {
            rustix::fs::ftruncate(fd, len)?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// `memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING)`.
pub(crate) fn memfd_create(name: &str) -> io::Result<OwnedFd> {
    let fd = rustix::fs::memfd_create(
        name,
        rustix::fs::MemfdFlags::CLOEXEC | rustix::fs::MemfdFlags::ALLOW_SEALING,
    )?;
    Ok(fd)
}

/// `fcntl(F_ADD_SEALS)` with raw `F_SEAL_*` bits.
pub(crate) fn add_seals(fd: impl AsFd, bits: u32) -> io::Result<()> {
    rustix::fs::fcntl_add_seals(fd, rustix::fs::SealFlags::from_bits_retain(bits))?;
    Ok(())
}

/// `fcntl(F_GET_SEALS)` as raw `F_SEAL_*` bits.
pub(crate) fn get_seals(fd: impl AsFd) -> io::Result<u32> {
    Ok(rustix::fs::fcntl_get_seals(fd)?.bits())
}

/// Whether `fd` was opened for writing (`O_RDWR` or `O_WRONLY`).
pub(crate) fn fd_writable(fd: impl AsFd) -> io::Result<bool> {
    let fl = rustix::fs::fcntl_getfl(fd)?;
    Ok(fl.contains(OFlags::RDWR) || fl.contains(OFlags::WRONLY))
}

/// Asserts the range is inside the region; callers check first and return a
/// typed error, so this never fires, but it keeps the unsafe code below sound
/// on its own.
fn in_bounds(r: &Region<'_>, offset: usize, len: usize) {
    assert!(
        offset.checked_add(len).is_some_and(|end| end <= r.len()),
        "shared memory access out of bounds"
    );
}

/// Copies bytes out of the mapping with volatile reads: single bytes up to
/// the first 8-byte-aligned address of the mapping, aligned `u64` words for
/// the middle, single bytes for the tail. No Rust reference ever points into
/// the shared memory.
pub(crate) fn copy_out(r: Region<'_>, offset: usize, buf: &mut [u8]) {
    in_bounds(&r, offset, buf.len());
    // SAFETY: `offset + buf.len() <= r.len()` (in_bounds), so the pointer and
    // the whole range stay inside the live mapping the Region borrows.
    let src = unsafe { r.as_ptr().add(offset) };
    let len = buf.len();
    let head = src.align_offset(WORD).min(len);
    let words = (len - head) / WORD;
    let dst = buf.as_mut_ptr();
    for i in 0..head {
        // SAFETY: `i < len`: inside the mapping and inside `buf`; a volatile
        // byte read of shared memory is valid for any content.
        unsafe { dst.add(i).write(src.add(i).read_volatile()) };
    }
    for w in 0..words {
        let at = head + w * WORD;
        // SAFETY: `at + 8 <= len`: inside the mapping and `buf`; `src + at` is
        // 8-byte aligned (head reached alignment), every bit pattern is a valid
        // u64, and the unaligned store goes to our private buffer.
        unsafe {
            let word = src.add(at).cast::<u64>().read_volatile();
            dst.add(at).cast::<u64>().write_unaligned(word);
        }
    }
    for i in head + words * WORD..len {
        // SAFETY: `i < len`, as for the head.
        unsafe { dst.add(i).write(src.add(i).read_volatile()) };
    }
}

/// Copies bytes into the mapping with volatile writes, in the same pieces
/// as [`copy_out`]: bytes up to 8-byte alignment, aligned `u64` words, bytes.
pub(crate) fn copy_in(r: Region<'_>, offset: usize, data: &[u8]) {
    in_bounds(&r, offset, data.len());
    assert!(r.is_writable(), "write to a read-only mapping");
    // SAFETY: `offset + data.len() <= r.len()` (in_bounds): inside the mapping.
    let dst = unsafe { r.as_ptr().add(offset) };
    let len = data.len();
    let head = dst.align_offset(WORD).min(len);
    let words = (len - head) / WORD;
    let src = data.as_ptr();
    for i in 0..head {
        // SAFETY: `i < len`: inside the live, writable mapping (checked above)
        // and inside `data`; no Rust reference points into shared memory, so
        // the write aliases nothing.
        unsafe { dst.add(i).write_volatile(src.add(i).read()) };
    }
    for w in 0..words {
        let at = head + w * WORD;
        // SAFETY: `at + 8 <= len`: inside the writable mapping and `data`;
        // `dst + at` is 8-byte aligned; the load from our private slice is
        // unaligned-safe.
        unsafe {
            let word = src.add(at).cast::<u64>().read_unaligned();
            dst.add(at).cast::<u64>().write_volatile(word);
        }
    }
    for i in head + words * WORD..len {
        // SAFETY: `i < len`, as for the head.
        unsafe { dst.add(i).write_volatile(src.add(i).read()) };
    }
}

/// The word size of [`copy_out`]/[`copy_in`]'s aligned middle part.
const WORD: usize = std::mem::size_of::<u64>();

/// Reads a `Pod` value with one volatile read.
pub(crate) fn read_value<T: Pod>(r: Region<'_>, offset: usize) -> T {
    in_bounds(&r, offset, std::mem::size_of::<T>());
    let p = r.as_ptr().wrapping_add(offset).cast::<T>();
    assert!(p.is_aligned(), "unaligned shared memory access");
    // SAFETY: in bounds and aligned (checked above); `T: Pod` makes every bit
    // pattern a valid value, so whatever another process wrote is a valid T.
    unsafe { p.read_volatile() }
}

/// Writes a `Pod` value with one volatile write.
pub(crate) fn write_value<T: Pod>(r: Region<'_>, offset: usize, value: T) {
    in_bounds(&r, offset, std::mem::size_of::<T>());
    assert!(r.is_writable(), "write to a read-only mapping");
    let p = r.as_ptr().wrapping_add(offset).cast::<T>();
    assert!(p.is_aligned(), "unaligned shared memory access");
    // SAFETY: in bounds, aligned and writable (checked above); `T: Pod` has
    // no pointers, so the bytes mean the same in every process.
    unsafe { p.write_volatile(value) }
}

/// An `AtomicU32` inside the mapping, borrowed for the mapping's lifetime.
pub(crate) fn atomic_u32<'a>(r: Region<'a>, offset: usize) -> &'a AtomicU32 {
    in_bounds(&r, offset, 4);
    assert!(r.is_writable(), "atomics need a writable mapping");
    let p = r.as_ptr().wrapping_add(offset).cast::<AtomicU32>();
    assert!(p.is_aligned(), "unaligned shared memory access");
    // SAFETY: 4 bytes in bounds, 4-aligned, writable, valid for 'a (the Region
    // borrows the mapping for 'a). Every bit pattern is a valid AtomicU32, and
    // concurrent access from other processes is exactly what atomics allow.
    unsafe { &*p }
}

/// An `AtomicU64` inside the mapping, borrowed for the mapping's lifetime.
pub(crate) fn atomic_u64<'a>(r: Region<'a>, offset: usize) -> &'a AtomicU64 {
    in_bounds(&r, offset, 8);
    assert!(r.is_writable(), "atomics need a writable mapping");
    let p = r.as_ptr().wrapping_add(offset).cast::<AtomicU64>();
    assert!(p.is_aligned(), "unaligned shared memory access");
    // SAFETY: as for atomic_u32, with 8 bytes aligned to 8.
    unsafe { &*p }
}

// ---------------------------------------------------------------------------
// System V shared memory.

/// `shmget(key, size, flags)`: the segment id.
pub(crate) fn shmget(key: i32, size: usize, flags: i32) -> io::Result<i32> {
    // SAFETY: shmget takes plain integers and touches no memory of ours.
    let id = unsafe { libc::shmget(key, size, flags) };
    if id < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(id)
    }
}

/// What `shmctl(IPC_STAT)` reports.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ShmStat {
    pub(crate) key: i32,
    pub(crate) size: u64,
    pub(crate) nattch: u64,
    pub(crate) cpid: i32,
    pub(crate) lpid: i32,
    pub(crate) mode: u32,
    pub(crate) uid: u32,
    pub(crate) cuid: u32,
}

/// `shmctl(id, IPC_STAT)`.
pub(crate) fn shm_stat(id: i32) -> io::Result<ShmStat> {
    // SAFETY: shmid_ds is plain old data; all-zero is a valid value.
    let mut ds: libc::shmid_ds = unsafe { std::mem::zeroed() };
    // SAFETY: `ds` is a valid, writable shmid_ds for the kernel to fill.
    let rc = unsafe { libc::shmctl(id, libc::IPC_STAT, &mut ds) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ShmStat {
        key: ds.shm_perm.__key,
        size: ds.shm_segsz as u64,
        nattch: ds.shm_nattch as u64,
        cpid: ds.shm_cpid,
        lpid: ds.shm_lpid,
        mode: u32::from(ds.shm_perm.mode),
        uid: ds.shm_perm.uid,
        cuid: ds.shm_perm.cuid,
    })
}

/// `shmctl(id, IPC_RMID)`: marks the segment for removal (it goes when the
/// last process detaches).
pub(crate) fn shm_rmid(id: i32) -> io::Result<()> {
    // SAFETY: IPC_RMID reads no buffer; a null pointer is what it expects.
    let rc = unsafe { libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut()) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// A System V segment attached with `shmat`, detached (`shmdt`) on drop.
#[derive(Debug)]
pub(crate) struct ShmAttach {
    ptr: std::ptr::NonNull<u8>,
    len: usize,
    writable: bool,
}

// SAFETY: as for Mapping: plain shared memory owned by this value; all access
// goes through raw pointers (volatile copies or atomics).
unsafe impl Send for ShmAttach {}
// SAFETY: as for Send: `&ShmAttach` only hands out raw pointers.
unsafe impl Sync for ShmAttach {}

impl ShmAttach {
    /// `shmat(id, NULL, SHM_RDONLY?)`. `len` must be the segment size as
    /// `IPC_STAT` reported it (the kernel maps the whole segment, rounded up
    /// to pages, so `len` bytes are always inside the attachment).
    pub(crate) fn attach(id: i32, len: usize, writable: bool) -> io::Result<ShmAttach> {
        let flags = if writable { 0 } else { libc::SHM_RDONLY };
        // SAFETY: a null address lets the kernel choose fresh address space,
        // so the attachment cannot overlap memory Rust already uses.
        let p = unsafe { libc::shmat(id, std::ptr::null(), flags) };
        if p as isize == -1 {
            return Err(io::Error::last_os_error());
        }
        let ptr = std::ptr::NonNull::new(p.cast::<u8>())
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOMEM))?;
        Ok(ShmAttach { ptr, len, writable })
    }

    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_writable(&self) -> bool {
        self.writable
    }
}

impl Drop for ShmAttach {
    fn drop(&mut self) {
        // As for Mapping: a robust mutex still locked by this process keeps
        // the segment attached (leaked) so glibc's robust list never dangles.
        if crate::sys::pthread::holds_locked_mutex(self.ptr.as_ptr(), self.len) {
            return;
        }
        // SAFETY: ptr is the address shmat returned and this value is its only
        // owner; borrows of it (Regions) are tied to `&self` of the owner.
        let _ = unsafe { libc::shmdt(self.ptr.as_ptr().cast()) };
    }
}

#[cfg(test)]
mod copy_tests {
    use super::*;
    use crate::sys::mman::Mapping;

    /// Every head alignment (0..8) and every length 0..=67 (empty, bytes
    /// only, head + words + tail): `copy_in` then `copy_out` match a plain
    /// copy, and the bytes around the range are untouched.
    #[test]
    fn word_copies_match_a_plain_copy_at_every_alignment_and_length() {
        let fd = memfd_create("ipcx-copy-test").unwrap();
        rustix::fs::ftruncate(&fd, 4096).unwrap();
        let map = Mapping::map_shared(&fd, 4096, true).unwrap();
        let r = Region::of(&map);
        let pattern: Vec<u8> = (0..256u32).map(|i| (i * 7 + 3) as u8).collect();
        for offset in 0..16 {
            for len in 0..=67usize {
                // Fill with a background, then copy the pattern in.
                let background = vec![0xa5u8; 128];
                copy_in(r, 0, &background);
                copy_in(r, offset, &pattern[..len]);
                let mut expected = background.clone();
                expected[offset..offset + len].copy_from_slice(&pattern[..len]);
                let mut whole = vec![0u8; 128];
                copy_out(r, 0, &mut whole);
                assert_eq!(whole, expected, "copy_in offset {offset} len {len}");
                // Read the range back into a buffer at every alignment of its own.
                for shift in 0..8 {
                    let mut buf = vec![0x5au8; len + 16];
                    copy_out(r, offset, &mut buf[shift..shift + len]);
                    assert_eq!(&buf[shift..shift + len], &pattern[..len]);
                    assert!(buf[..shift].iter().all(|&b| b == 0x5a));
                    assert!(buf[shift + len..].iter().all(|&b| b == 0x5a));
                }
            }
        }
    }
}
