//! File-descriptor passing (SCM_RIGHTS): ownership, close-on-exec, no leaks,
//! and the MSG_CTRUNC error at the receiver's RLIMIT_NOFILE.
//!
//! Tests that count this process's descriptors run in a child copy of the
//! test binary, because other tests of this binary open descriptors in
//! parallel threads.

use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::process::Command;
use std::time::Duration;

use ipcx::socket::ancillary::{RecvFdsError, SCM_MAX_FD};
use ipcx::socket::unix::{UnixDatagram, UnixSeqPacket, UnixStream};
use ipcx::Error;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Runs the ignored test `name` of this module in a child process.
fn run_child(name: &str) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            &format!("socket_fd::{name}"),
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("IPCX_FD_CHILD", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child {name} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn in_child() -> bool {
    std::env::var_os("IPCX_FD_CHILD").is_some()
}

#[test]
fn a_passed_pipe_reads_through_and_arrives_close_on_exec() {
    let (a, b) = UnixStream::pair().unwrap();
    let (r, w) = rustix::pipe::pipe().unwrap();
    a.send_with_fds(b"p", &[r.as_fd()]).unwrap();
    drop(r);
    let mut buf = [0u8; 4];
    let got = b.recv_with_fds(&mut buf, 4).unwrap();
    assert_eq!((got.len, got.fds.len()), (1, 1));
    let fd = got.fds.into_iter().next().unwrap();
    let flags = rustix::io::fcntl_getfd(&fd).unwrap();
    assert!(flags.contains(rustix::io::FdFlags::CLOEXEC));
    std::fs::File::from(w).write_all(b"via pipe").unwrap();
    let mut text = String::new();
    std::fs::File::from(fd).read_to_string(&mut text).unwrap();
    assert_eq!(text, "via pipe");
}

#[test]
fn several_fds_travel_in_order_over_every_socket_type() {
    let files: Vec<std::fs::File> = (0..3)
        .map(|i| {
            let mut f = tempfile::tempfile().unwrap();
            write!(f, "file {i}").unwrap();
            f
        })
        .collect();
    let borrowed: Vec<BorrowedFd<'_>> = files.iter().map(|f| f.as_fd()).collect();
    let check = |fds: Vec<OwnedFd>| {
        assert_eq!(fds.len(), 3);
        for (i, fd) in fds.into_iter().enumerate() {
            let mut f = std::fs::File::from(fd);
            let mut s = String::new();
            std::io::Seek::rewind(&mut f).unwrap();
            f.read_to_string(&mut s).unwrap();
            assert_eq!(s, format!("file {i}"));
        }
    };
    let mut buf = [0u8; 8];
    let (a, b) = UnixStream::pair().unwrap();
    a.send_with_fds(b"abc", &borrowed).unwrap();
    check(b.recv_with_fds(&mut buf, 8).unwrap().fds);
    let (a, b) = UnixSeqPacket::pair().unwrap();
    a.send_with_fds(b"abc", &borrowed).unwrap();
    let got = b.recv_with_fds(&mut buf, 8).unwrap();
    assert_eq!(&buf[..got.len], b"abc");
    check(got.fds);
    let (a, b) = UnixDatagram::pair().unwrap();
    a.send_with_fds(b"abc", &borrowed).unwrap();
    check(b.recv_with_fds(&mut buf, 8).unwrap().fds);
}

#[test]
fn too_many_fds_or_fds_without_data_are_refused_before_the_syscall() {
    let (a, _b) = UnixStream::pair().unwrap();
    let (r, _w) = rustix::pipe::pipe().unwrap();
    let many: Vec<BorrowedFd<'_>> = (0..SCM_MAX_FD + 1).map(|_| r.as_fd()).collect();
    let err = a.send_with_fds(b"x", &many).unwrap_err();
    assert!(
        matches!(
            err,
            Error::LimitExceeded {
                requested: 254,
                max: 253,
                ..
            }
        ),
        "{err:?}"
    );
    let err = a.send_with_fds(b"", &[r.as_fd()]).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
}

#[test]
fn more_fds_than_the_receive_has_room_for_is_truncated_and_returns_what_arrived() {
    let (a, b) = UnixStream::pair().unwrap();
    let (r, _w) = rustix::pipe::pipe().unwrap();
    a.send_with_fds(b"data", &[r.as_fd(), r.as_fd(), r.as_fd()])
        .unwrap();
    let mut buf = [0u8; 8];
    match b.recv_with_fds(&mut buf, 1) {
        Err(RecvFdsError::Truncated(t)) => {
            assert_eq!(&buf[..t.len], b"data", "the data is not lost");
            assert_eq!(t.fds.len(), 1);
            let e: Error = RecvFdsError::Truncated(t).into();
            assert!(matches!(e, Error::ControlTruncated { .. }), "{e:?}");
            assert!(e.to_string().contains("MSG_CTRUNC"), "{e}");
        }
        other => panic!("expected a truncation, got {other:?}"),
    }
}

#[test]
fn five_thousand_fd_passes_leave_the_fd_count_unchanged() {
    run_child("five_thousand_rounds_child");
}

/// Child side of `five_thousand_fd_passes_leave_the_fd_count_unchanged`.
#[test]
#[ignore = "run in a child process by five_thousand_fd_passes_leave_the_fd_count_unchanged"]
fn five_thousand_rounds_child() {
    if !in_child() {
        return;
    }
    let (a, b) = UnixStream::pair().unwrap();
    let before = open_fds();
    let mut buf = [0u8; 1];
    for i in 0..5000u32 {
        let (r, w) = rustix::pipe::pipe().unwrap();
        let end = if i % 2 == 0 { r.as_fd() } else { w.as_fd() };
        a.send_with_fds(b"p", &[end]).unwrap();
        drop((r, w));
        let got = b
            .recv_with_fds_timeout(&mut buf, 1, Duration::from_secs(10))
            .unwrap();
        assert_eq!(got.fds.len(), 1);
        drop(got);
    }
    assert_eq!(open_fds(), before, "descriptors leaked");
}

#[test]
fn a_receiver_at_its_rlimit_nofile_gets_the_truncation_error_and_leaks_nothing() {
    run_child("rlimit_receiver_child");
}

/// Child side: lowers RLIMIT_NOFILE (only in this child), fills the table to
/// one free slot, and receives three descriptors in one message.
#[test]
#[ignore = "run in a child process by a_receiver_at_its_rlimit_nofile_gets_the_truncation_error_and_leaks_nothing"]
fn rlimit_receiver_child() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    if !in_child() {
        return;
    }
    let (a, b) = UnixStream::pair().unwrap();
    let (r, w) = rustix::pipe::pipe().unwrap();
    a.send_with_fds(b"three", &[r.as_fd(), w.as_fd(), r.as_fd()])
        .unwrap();
    drop((r, w));
    let limit = open_fds() as u64 + 16;
    let old = getrlimit(Resource::Nofile);
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(limit),
            maximum: old.maximum,
        },
    )
    .unwrap();
    // Fill the table up to the limit, then free exactly one slot.
    let devnull = std::fs::File::open("/dev/null").unwrap();
    let mut filler = Vec::new();
    while let Ok(fd) = rustix::io::fcntl_dupfd_cloexec(&devnull, 0) {
        filler.push(fd);
    }
    filler.pop();
    let before = open_fds();
    let mut buf = [0u8; 16];
    let res = b.recv_with_fds(&mut buf, 3);
    match res {
        Err(RecvFdsError::Truncated(t)) => {
            assert_eq!(&buf[..t.len], b"three", "the data is not lost");
            assert_eq!(t.fds.len(), 1, "one descriptor fits the one free slot");
            let e: Error = RecvFdsError::Truncated(t).into();
            let text = e.to_string();
            assert!(text.contains("RLIMIT_NOFILE"), "{text}");
            assert!(text.contains(&limit.to_string()), "{text}");
        }
        other => panic!("expected MSG_CTRUNC, got {other:?}"),
    }
    assert_eq!(open_fds(), before, "a received descriptor leaked");
    drop(filler);
    setrlimit(Resource::Nofile, old).unwrap();
}
