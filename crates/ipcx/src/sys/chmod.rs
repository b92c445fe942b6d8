//! Setting the exact mode of a file ipcx just made (a FIFO after `mkfifo`, a
//! socket after `bind`) without following a symbolic link.
//!
//! `chmod(path)` follows links, and `fchmodat(…, AT_SYMLINK_NOFOLLOW)` is
//! `ENOTSUP` for every file before Linux 6.6. Sockets cannot be opened, and
//! opening a FIFO someone swapped for a device could have side effects, so
//! the file is opened with `O_PATH | O_NOFOLLOW` (no open of the file
//! itself), checked with `fstat` (type, device and inode must be the ones
//! the caller recorded right after creating it; a symbolic link is refused)
//! and its mode set through that descriptor: `fchmodat2(fd, "",
//! mode, AT_EMPTY_PATH)` (Linux 6.6+), or, where that is `ENOSYS`,
//! `chmod("/proc/self/fd/N")`, which names the descriptor's inode and
//! cannot be redirected. Either way the inode changed is the one checked.
//!
//! # References
//! [fchmodat2(2)](https://man7.org/linux/man-pages/man2/chmod.2.html),
//! [open(2)](https://man7.org/linux/man-pages/man2/open.2.html) (`O_PATH`),
//! [proc_pid_fd(5)](https://man7.org/linux/man-pages/man5/proc_pid_fd.5.html)

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use rustix::fs::{FileType, Mode, OFlags, CWD};
use rustix::io::Errno;

/// Sets the permission bits of `path` to `mode` if, and only if, `path`
/// (not followed) is a `kind` with device `dev` and inode `ino`.
///
/// Errors: `ELOOP` when `path` is a symbolic link, `ESTALE` when it is another
/// file than the one expected (type, device or inode), otherwise the errno of
/// `open`/`fstat`/`fchmodat2`/`chmod`.
pub(crate) fn chmod_nofollow(
    path: &Path,
    mode: u32,
    kind: FileType,
    dev: u64,
    ino: u64,
) -> Result<(), Errno> {
    let fd: OwnedFd = rustix::fs::openat(
        CWD,
        path,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let st = rustix::fs::fstat(&fd)?;
    let found = FileType::from_raw_mode(st.st_mode);
    if found == FileType::Symlink {
        return Err(Errno::LOOP);
    }
    if found != kind || st.st_dev != dev || st.st_ino != ino {
        return Err(Errno::STALE);
    }
    let mode = mode & 0o7777;
    // SAFETY: fchmodat2 takes a descriptor (valid: `fd` is owned and open for
    // the call), a NUL-terminated path (a static empty C string) and two
    // integers; it writes no user memory.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_fchmodat2,
            fd.as_raw_fd(),
            c"".as_ptr(),
            mode as libc::c_uint,
            libc::AT_EMPTY_PATH,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    match Errno::from_io_error(&std::io::Error::last_os_error()) {
        Some(Errno::NOSYS) => chmod_through_proc(&fd, mode),
        Some(e) => Err(e),
        None => Err(Errno::IO),
    }
}

/// Before Linux 6.6: `chmod("/proc/self/fd/N")` reaches exactly the inode of
/// the `O_PATH` descriptor `fd` (a magic link, not a path lookup of the name).
fn chmod_through_proc(fd: &OwnedFd, mode: u32) -> Result<(), Errno> {
    let proc_path = format!("/proc/self/fd/{}", fd.as_raw_fd());
    rustix::fs::chmod(proc_path.as_str(), Mode::from_raw_mode(mode))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    fn ident(p: &Path) -> (u64, u64) {
        let m = std::fs::symlink_metadata(p).unwrap();
        (m.dev(), m.ino())
    }

    #[test]
    fn sets_the_mode_of_the_expected_fifo() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        rustix::fs::mkfifoat(CWD, &p, Mode::from_raw_mode(0o600)).unwrap();
        let (dev, ino) = ident(&p);
        chmod_nofollow(&p, 0o640, FileType::Fifo, dev, ino).unwrap();
        let m = std::fs::symlink_metadata(&p).unwrap();
        assert_eq!(m.permissions().mode() & 0o7777, 0o640);
    }

    #[test]
    fn a_symlink_at_the_path_is_refused_and_its_target_keeps_its_mode() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("victim");
        std::fs::write(&target, b"x").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let (dev, ino) = ident(&target);
        // Even with the target's identity and type, the link is not followed.
        assert_eq!(
            chmod_nofollow(&link, 0o666, FileType::RegularFile, dev, ino),
            Err(Errno::LOOP)
        );
        let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn the_fallback_through_proc_changes_the_descriptors_inode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        rustix::fs::mkfifoat(CWD, &p, Mode::from_raw_mode(0o600)).unwrap();
        let fd = rustix::fs::openat(
            CWD,
            &p,
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .unwrap();
        chmod_through_proc(&fd, 0o604).unwrap();
        let m = std::fs::symlink_metadata(&p).unwrap();
        assert_eq!(m.permissions().mode() & 0o7777, 0o604);
    }

    #[test]
    fn another_file_swapped_in_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        rustix::fs::mkfifoat(CWD, &p, Mode::from_raw_mode(0o600)).unwrap();
        let (dev, ino) = ident(&p);
        std::fs::remove_file(&p).unwrap();
        std::fs::write(&p, b"x").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            chmod_nofollow(&p, 0o666, FileType::Fifo, dev, ino),
            Err(Errno::STALE)
        );
        let mode = std::fs::symlink_metadata(&p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o600);
    }
}
