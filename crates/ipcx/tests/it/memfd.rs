//! memfd segments: seals, and handing the descriptor to a child process.

use std::os::fd::{AsFd, AsRawFd};
use std::process::Command;

use ipcx::shm::memfd::{Memfd, Seals};
use ipcx::shm::SharedMemory;
use ipcx::Error;

#[test]
fn seals_are_applied_and_checked_by_the_receiver() {
    let mut seg = Memfd::create("it-seals", 8192).unwrap();
    seg.write_bytes(0, b"payload").unwrap();
    assert_eq!(seg.seals().unwrap(), Seals::NONE);
    seg.seal(Seals::SHRINK | Seals::GROW).unwrap();
    let fd = seg.try_clone_fd().unwrap();
    let err = Memfd::from_fd(fd, Some(8192), Seals::SHRINK | Seals::WRITE).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err}");
    seg.seal(Seals::WRITE | Seals::SEAL).unwrap();
    assert!(seg.is_read_only());
    let got = Memfd::from_fd(
        seg.try_clone_fd().unwrap(),
        Some(8192),
        Seals::SHRINK | Seals::WRITE,
    )
    .unwrap();
    assert!(got.is_read_only());
    let mut buf = [0u8; 7];
    got.read_bytes(0, &mut buf).unwrap();
    assert_eq!(&buf, b"payload");
    // F_SEAL_SEAL: no more seals.
    assert!(seg.seal(Seals::FUTURE_WRITE).is_err());
}

#[test]
fn a_zero_or_wrong_size_object_is_refused() {
    assert!(matches!(
        Memfd::create("it-zero", 0),
        Err(Error::InvalidArgument { .. })
    ));
    // A plain memfd of size 0 handed over by a peer.
    let raw = rustix::fs::memfd_create("it-empty", rustix::fs::MemfdFlags::CLOEXEC).unwrap();
    let err = Memfd::from_fd(raw, None, Seals::NONE).unwrap_err();
    assert!(matches!(err, Error::InvalidSize { actual: 0, .. }), "{err}");
    // Not a memfd at all.
    let file = tempfile::tempfile().unwrap();
    let err = Memfd::from_fd(file.into(), None, Seals::NONE).unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidArgument { .. } | Error::InvalidSize { .. }
        ),
        "{err}"
    );
}

#[test]
fn the_descriptor_is_close_on_exec_and_can_be_handed_to_a_child() {
    let seg = Memfd::create("it-child", 4096).unwrap();
    seg.write_bytes(0, b"to the child").unwrap();
    let flags = rustix::io::fcntl_getfd(seg.as_fd()).unwrap();
    assert!(flags.contains(rustix::io::FdFlags::CLOEXEC));
    // Hand a duplicate to `head` as its stdin: it reads the bytes.
    let fd = seg.try_clone_fd().unwrap();
    let out = Command::new("head")
        .args(["-c", "12"])
        .stdin(std::process::Stdio::from(fd))
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"to the child");
    assert!(seg.as_fd().as_raw_fd() >= 0);
}
