//! Anonymous pipes: close-on-exec, atomic PIPE_BUF messages between
//! processes, capacity limits, non-blocking and timed forms, and writes
//! without a reader that fail instead of killing the process.

use std::io::{Read, Write};
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ipcx::pipe::{pipe, PipeReader, PipeWriter, PIPE_BUF};
use ipcx::Error;

/// Environment variable that turns this test binary into a child process
/// for the tests below (see the `#[ignore]`d entry points).
const CHILD_ENV: &str = "IPCX_IT_PIPE_CHILD";

/// Starts this test binary running only the ignored entry point `name`.
fn child_command(name: &str, arg: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        name,
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD_ENV, arg);
    cmd
}

/// Waits for a child, killing it if it is still running after `limit`
/// (a watchdog against hangs, not a timing assertion).
fn wait_or_kill(mut child: Child, limit: Duration) -> std::process::Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "child did not finish within {limit:?}; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

fn is_cloexec(fd: impl AsFd) -> bool {
    rustix::io::fcntl_getfd(fd)
        .unwrap()
        .contains(rustix::io::FdFlags::CLOEXEC)
}

#[test]
fn pipe_ends_are_close_on_exec() {
    let (r, w) = pipe().unwrap();
    assert!(is_cloexec(&r));
    assert!(is_cloexec(&w));
    assert!(is_cloexec(r.try_clone().unwrap()));
    assert!(is_cloexec(w.try_clone().unwrap()));
}

#[test]
fn bytes_round_trip_and_eof_after_the_last_writer_closes() {
    let (mut r, mut w) = pipe().unwrap();
    let w2 = w.try_clone().unwrap();
    w.write_all(b"Hello from parent!\0").unwrap();
    drop(w);
    (&w2).write_all(b"more").unwrap();
    drop(w2);
    let mut got = Vec::new();
    r.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"Hello from parent!\0more");
}

#[test]
fn owned_fd_conversions_round_trip() {
    let (r, w) = pipe().unwrap();
    let r = PipeReader::from(OwnedFd::from(r));
    let w = PipeWriter::from(OwnedFd::from(w));
    w.write_message(b"x").unwrap();
    let mut buf = [0u8; 4];
    assert_eq!(r.try_read(&mut buf).unwrap(), 1);
}

#[test]
fn atomic_message_over_pipe_buf_is_refused_and_writes_nothing() {
    let (r, w) = pipe().unwrap();
    let big = vec![7u8; PIPE_BUF + 1];
    let err = w.write_message(&big).unwrap_err();
    match &err {
        Error::MessageTooLarge { len, max, .. } => {
            assert_eq!((*len, *max), (PIPE_BUF + 1, 4096));
        }
        other => panic!("expected MessageTooLarge, got {other:?}"),
    }
    assert!(err.to_string().contains("PIPE_BUF"), "{err}");
    assert!(matches!(
        w.try_write_message(&big),
        Err(Error::MessageTooLarge { .. })
    ));
    let mut buf = [0u8; 8];
    assert!(matches!(r.try_read(&mut buf), Err(Error::Empty { .. })));
    // Exactly PIPE_BUF bytes is allowed.
    w.write_message(&big[..PIPE_BUF]).unwrap();
}

#[test]
fn capacity_is_read_and_set() {
    let (r, w) = pipe().unwrap();
    assert!(r.capacity().unwrap() >= PIPE_BUF);
    let granted = w.set_capacity(128 * 1024).unwrap();
    assert!(granted >= 128 * 1024);
    assert_eq!(r.capacity().unwrap(), granted);
}

#[test]
fn capacity_above_pipe_max_size_names_the_limit() {
    let (r, w) = pipe().unwrap();
    let before = r.capacity().unwrap();
    let max: u64 = std::fs::read_to_string("/proc/sys/fs/pipe-max-size")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let err = w.set_capacity(max as usize + 1).unwrap_err();
    match &err {
        Error::LimitExceeded {
            requested,
            max: m,
            limit,
            source_path,
            ..
        } => {
            assert_eq!(*requested, max + 1);
            assert_eq!(*m, max);
            assert_eq!(limit, "pipe-max-size");
            assert_eq!(source_path, "/proc/sys/fs/pipe-max-size");
        }
        other => panic!("expected LimitExceeded, got {other:?}"),
    }
    assert!(
        err.to_string().contains("/proc/sys/fs/pipe-max-size"),
        "{err}"
    );
    assert_eq!(r.capacity().unwrap(), before, "capacity must be unchanged");
}

#[test]
fn try_forms_report_empty_and_full_without_blocking() {
    let (r, w) = pipe().unwrap();
    let mut buf = [0u8; 16];
    assert!(matches!(r.try_read(&mut buf), Err(Error::Empty { .. })));
    let chunk = vec![1u8; PIPE_BUF];
    let mut total = 0;
    loop {
        match w.try_write(&chunk) {
            Ok(n) => total += n,
            Err(Error::Full { .. }) => break,
            Err(e) => panic!("{e}"),
        }
        assert!(total <= 16 << 20, "the pipe never filled up");
    }
    assert_eq!(total, w.capacity().unwrap());
    assert!(matches!(
        w.try_write_message(b"one more"),
        Err(Error::Full { .. })
    ));
    // Drain one page: an atomic message fits again.
    let mut page = vec![0u8; PIPE_BUF];
    assert_eq!(r.try_read(&mut page).unwrap(), PIPE_BUF);
    w.try_write_message(b"one more").unwrap();
}

#[test]
fn timed_forms_time_out_and_say_what_they_waited_for() {
    let (r, w) = pipe().unwrap();
    let mut buf = [0u8; 16];
    let err = r
        .read_timeout(&mut buf, Duration::from_millis(50))
        .unwrap_err();
    assert!(matches!(err, Error::TimedOut { .. }), "{err:?}");
    assert_eq!(
        std::io::Error::from(err).kind(),
        std::io::ErrorKind::TimedOut
    );
    let chunk = vec![1u8; PIPE_BUF];
    while w.try_write(&chunk).is_ok() {}
    let err = w
        .write_message_timeout(b"late", Duration::from_millis(50))
        .unwrap_err();
    match err {
        Error::TimedOut { waiting_for, .. } => {
            assert!(waiting_for.contains("room"), "{waiting_for}")
        }
        other => panic!("expected TimedOut, got {other:?}"),
    }
    assert!(matches!(
        w.write_timeout(&chunk, Duration::from_millis(20)),
        Err(Error::TimedOut { .. })
    ));
}

#[test]
fn timed_read_returns_data_that_arrives_later() {
    let (r, w) = pipe().unwrap();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        w.write_message(b"late").unwrap();
    });
    let mut buf = [0u8; 16];
    let n = r.read_timeout(&mut buf, Duration::from_secs(30)).unwrap();
    assert_eq!(&buf[..n], b"late");
    t.join().unwrap();
}

#[test]
fn write_without_reader_is_disconnected_in_process() {
    let (r, w) = pipe().unwrap();
    drop(r);
    let err = w.write_message(b"nobody listens").unwrap_err();
    assert!(matches!(err, Error::Disconnected { .. }), "{err:?}");
    let err = (&w).write(b"x").unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
    assert!(matches!(w.try_write(b"x"), Err(Error::Disconnected { .. })));
}

#[test]
fn write_without_reader_survives_default_sigpipe_in_a_child() {
    let out = wait_or_kill(
        child_command("pipe::sigpipe_child", "sigpipe")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
        Duration::from_secs(60),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child died: {:?}; stdout {stdout}; stderr {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("sigpipe child survived"), "{stdout}");
}

/// Child entry point: SIGPIPE at its default action (death), then writes to
/// a pipe without a reader, with SIGPIPE unblocked and then blocked by the
/// caller; every write must fail with BrokenPipe and leave no SIGPIPE
/// pending.
#[test]
#[ignore = "child process entry point, run by write_without_reader_survives_default_sigpipe_in_a_child"]
fn sigpipe_child() {
    if std::env::var(CHILD_ENV).as_deref() != Ok("sigpipe") {
        return;
    }
    // SAFETY: restoring the default action of SIGPIPE in this single-purpose
    // child process; no handler is installed, nothing else in the process
    // depends on SIGPIPE being ignored.
    let previous = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    assert_ne!(previous, libc::SIG_ERR);

    let (r, w) = pipe().unwrap();
    drop(r);
    let err = (&w).write(b"x").unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
    assert!(matches!(
        w.write_message(b"x"),
        Err(Error::Disconnected { .. })
    ));
    assert!(matches!(w.try_write(b"x"), Err(Error::Disconnected { .. })));

    // With SIGPIPE blocked by the caller, the signal the write raised must
    // not stay pending (it would kill the process when unblocked).
    // SAFETY: sigset_t is plain data; sigemptyset/sigaddset initialise it;
    // pthread_sigmask changes only this thread's mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        assert_eq!(
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()),
            0
        );
        assert!(matches!(
            w.write_message(b"x"),
            Err(Error::Disconnected { .. })
        ));
        let mut pending: libc::sigset_t = std::mem::zeroed();
        libc::sigpending(&mut pending);
        assert_eq!(libc::sigismember(&pending, libc::SIGPIPE), 0);
        assert_eq!(
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()),
            0
        );
    }
    println!("sigpipe child survived");
}

#[test]
fn inherit_as_places_the_end_at_the_fd_number_in_the_child_only() {
    let (reader, writer) = pipe().unwrap();
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "cat <&7"]).stdout(Stdio::piped());
    reader.inherit_as(&mut cmd, 7).unwrap();
    let child = cmd.spawn().unwrap();
    drop(cmd);
    // The write end stays close-on-exec: had it leaked into the child, cat
    // would never see end-of-file and the watchdog would fire.
    assert!(is_cloexec(&writer));
    writer.write_message(b"through fd 7").unwrap();
    drop(writer);
    let out = wait_or_kill(child, Duration::from_secs(60));
    assert!(out.status.success());
    assert_eq!(out.stdout, b"through fd 7");
}

#[test]
fn pipe_end_as_stdio_of_a_child() {
    let (reader, writer) = pipe().unwrap();
    let mut cmd = Command::new("cat");
    cmd.stdin(reader).stdout(Stdio::piped());
    let child = cmd.spawn().unwrap();
    drop(cmd);
    writer.write_message(b"as stdin").unwrap();
    drop(writer);
    let out = wait_or_kill(child, Duration::from_secs(60));
    assert_eq!(out.stdout, b"as stdin");
}

#[test]
fn negative_child_fd_is_invalid() {
    let (reader, _writer) = pipe().unwrap();
    let mut cmd = Command::new("true");
    assert!(matches!(
        reader.inherit_as(&mut cmd, -1),
        Err(Error::InvalidArgument { .. })
    ));
}

const WRITERS: u32 = 4;
const MESSAGES: u32 = 10_000;

/// The fill byte of message `seq` of writer `id`.
fn fill(id: u32, seq: u32) -> u8 {
    (id.wrapping_mul(131).wrapping_add(seq) % 251) as u8
}

#[test]
fn four_writer_processes_send_whole_unmixed_pipe_buf_messages() {
    let (reader, writer) = pipe().unwrap();
    let mut children = Vec::new();
    for id in 0..WRITERS {
        let mut cmd = child_command("pipe::atomic_writer_child", &id.to_string());
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        writer.try_clone().unwrap().inherit_as(&mut cmd, 3).unwrap();
        children.push(cmd.spawn().unwrap());
        // dropping `cmd` closes this process's copy of the clone
    }
    drop(writer);

    let mut next = [0u32; WRITERS as usize];
    let mut total = 0u32;
    let mut msg = vec![0u8; PIPE_BUF];
    loop {
        // Assemble one PIPE_BUF message (reads may return less).
        let mut have = 0;
        while have < PIPE_BUF {
            let n = reader
                .read_timeout(&mut msg[have..], Duration::from_secs(60))
                .expect("writers stalled");
            if n == 0 {
                break;
            }
            have += n;
        }
        if have == 0 {
            break;
        }
        assert_eq!(have, PIPE_BUF, "a truncated message at the end");
        let id = u32::from_le_bytes(msg[0..4].try_into().unwrap());
        let seq = u32::from_le_bytes(msg[4..8].try_into().unwrap());
        assert!(id < WRITERS, "bad writer id {id}: mixed message");
        assert_eq!(seq, next[id as usize], "writer {id} out of order or mixed");
        let f = fill(id, seq);
        assert!(
            msg[8..].iter().all(|&b| b == f),
            "message {seq} of writer {id} is mixed with another"
        );
        next[id as usize] += 1;
        total += 1;
    }
    for child in children {
        let out = wait_or_kill(child, Duration::from_secs(120));
        assert!(
            out.status.success(),
            "writer failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(total, WRITERS * MESSAGES);
    assert!(next.iter().all(|&n| n == MESSAGES), "{next:?}");
}

/// Child entry point: writes MESSAGES atomic messages to the pipe end that
/// the parent placed at fd 3.
#[test]
#[ignore = "child process entry point, run by four_writer_processes_send_whole_unmixed_pipe_buf_messages"]
fn atomic_writer_child() {
    let Ok(id) = std::env::var(CHILD_ENV) else {
        return;
    };
    let id: u32 = id.parse().unwrap();
    // SAFETY: the parent placed the pipe's write end at fd 3 of this process
    // with PipeWriter::inherit_as, and nothing else in this process owns fd 3.
    let writer = PipeWriter::from(unsafe { OwnedFd::from_raw_fd(3) });
    let mut msg = vec![0u8; PIPE_BUF];
    for seq in 0..MESSAGES {
        msg[0..4].copy_from_slice(&id.to_le_bytes());
        msg[4..8].copy_from_slice(&seq.to_le_bytes());
        msg[8..].fill(fill(id, seq));
        writer.write_message(&msg).unwrap();
    }
}

#[test]
fn blocking_and_timed_calls_retry_eintr_in_a_child() {
    let out = wait_or_kill(
        child_command("pipe::eintr_child", "eintr")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
        Duration::from_secs(60),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {:?}; stdout {stdout}; stderr {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("eintr child done"), "{stdout}");
}

extern "C" fn ignore_signal(_: libc::c_int) {}

/// Child entry point: a SIGUSR1 handler without SA_RESTART, so blocked
/// read/write/poll calls fail with EINTR; a thread sends SIGUSR1 to the test
/// thread every 2 ms while it blocks in reads and writes, which must neither
/// fail with `Interrupted` nor end a timed wait early.
#[test]
#[ignore = "child process entry point, run by blocking_and_timed_calls_retry_eintr_in_a_child"]
fn eintr_child() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    if std::env::var(CHILD_ENV).as_deref() != Ok("eintr") {
        return;
    }
    // SAFETY: installs a handler that does nothing (async-signal-safe) for
    // SIGUSR1 in this single-purpose child process; sa_flags = 0 leaves out
    // SA_RESTART on purpose.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = ignore_signal as extern "C" fn(libc::c_int) as usize;
        sa.sa_flags = 0;
        libc::sigemptyset(&mut sa.sa_mask);
        assert_eq!(libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut()), 0);
    }
    // SAFETY: pthread_self has no preconditions.
    let me = unsafe { libc::pthread_self() };
    let stop = Arc::new(AtomicBool::new(false));
    let pinger = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                // SAFETY: `me` is the test thread, alive until `stop` is
                // set and this thread is joined.
                unsafe { libc::pthread_kill(me, libc::SIGUSR1) };
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };

    // Blocking read: data arrives after many signals.
    let (r, w) = pipe().unwrap();
    let late = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        w.write_message(b"late").unwrap();
        w
    });
    let mut buf = [0u8; 16];
    let n = (&r).read(&mut buf).expect("read must retry EINTR");
    assert_eq!(&buf[..n], b"late");
    let w = late.join().unwrap();

    // Timed read: the signals neither end it early nor make it fail.
    let start = Instant::now();
    let err = r
        .read_timeout(&mut buf, Duration::from_millis(200))
        .unwrap_err();
    assert!(matches!(err, Error::TimedOut { .. }), "{err:?}");
    assert!(start.elapsed() >= Duration::from_millis(200));

    // Blocking write on a full pipe: completes once the reader drains.
    let page = vec![3u8; PIPE_BUF];
    while w.try_write(&page).is_ok() {}
    let drain = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        let mut sink = vec![0u8; 1 << 20];
        let mut total = 0;
        loop {
            let n = (&r).read(&mut sink).unwrap();
            if n == 0 {
                return total;
            }
            total += n;
        }
    });
    w.write_message(&page).expect("write must retry EINTR");
    let capacity = w.capacity().unwrap();
    drop(w);
    assert_eq!(drain.join().unwrap(), capacity + PIPE_BUF);

    stop.store(true, Ordering::Relaxed);
    pinger.join().unwrap();
    println!("eintr child done");
}
