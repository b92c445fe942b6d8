//! `ipcx send fifo:` / `ipcx recv fifo:`: interop with the seed's C programs
//! and with cat, a 64 MiB stream, and bad input.

use std::io::{Read, Write};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rand::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};

use crate::util::{ipcx, ipcx_std, seed_c};

/// Watchdog for every child: generous, never a timing assertion.
const WATCHDOG: Duration = Duration::from_secs(120);

fn is_fifo(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_fifo())
}

/// Waits until `path` is a FIFO (made by a process just started).
fn wait_for_fifo(path: &Path) {
    let start = Instant::now();
    while !is_fifo(path) {
        assert!(
            start.elapsed() < WATCHDOG,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits for a child while collecting its piped output (so a full pipe
/// cannot stall it), with a watchdog that kills it if it overstays.
fn finish(child: Child) -> std::process::Output {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(WATCHDOG) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            // Not reaped yet (the waiting thread still waits), so the pid is
            // still this child's.
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!("child {pid} did not finish within {WATCHDOG:?}");
        }
    }
}

/// Kills and reaps a child when dropped (for failure paths).
struct Reap(Option<Child>);

impl Reap {
    fn take(mut self) -> Child {
        self.0.take().unwrap()
    }
}

impl Drop for Reap {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Removes a path when dropped, also when the test fails.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The seed's C programs hard-code /tmp/myfifo, so both directions run in
/// this one test, one after the other, and /tmp/myfifo is removed at the end.
#[test]
fn seed_fifo_programs_interoperate_both_ways() {
    let bin = tempfile::tempdir().unwrap();
    let writer_c = seed_c(bin.path(), "fifo_writer");
    let reader_c = seed_c(bin.path(), "fifo_reader");
    let myfifo = Path::new("/tmp/myfifo");
    let _cleanup = RemoveOnDrop(myfifo.to_path_buf());
    if std::fs::symlink_metadata(myfifo).is_ok() {
        assert!(is_fifo(myfifo), "/tmp/myfifo exists and is not a FIFO");
        std::fs::remove_file(myfifo).unwrap();
    }

    // fifo_writer.c -> ipcx recv
    let recv = Reap(Some(
        ipcx_std()
            .args(["recv", "fifo:/tmp/myfifo", "--create", "--timeout", "60s"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    ));
    wait_for_fifo(myfifo);
    let writer = finish(Command::new(&writer_c).spawn().unwrap());
    assert!(writer.status.success());
    let out = finish(recv.take());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "Hello from FIFO!");
    assert!(
        !is_fifo(myfifo),
        "ipcx recv --create must remove the FIFO it made"
    );

    // ipcx send -> fifo_reader.c
    let send = Reap(Some(
        ipcx_std()
            .args([
                "send",
                "fifo:/tmp/myfifo",
                "--create",
                "--timeout",
                "60s",
                "--message",
                "Hello from FIFO!",
            ])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    ));
    wait_for_fifo(myfifo);
    let reader = finish(
        Command::new(&reader_c)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let out = finish(send.take());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The C reader prints its buffer with %s although nothing NUL-terminates
    // it; what it received is the prefix.
    let printed = String::from_utf8_lossy(&reader.stdout);
    assert!(
        printed.starts_with("Received: Hello from FIFO!"),
        "{printed:?}"
    );
    assert!(!is_fifo(myfifo));
}

#[test]
fn cat_into_the_fifo_feeds_ipcx_recv() {
    let d = tempfile::tempdir().unwrap();
    let fifo = d.path().join("f");
    let file = d.path().join("data");
    let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 256) as u8).collect();
    std::fs::write(&file, &data).unwrap();
    let recv = Reap(Some(
        ipcx_std()
            .arg("recv")
            .arg(format!("fifo:{}", fifo.display()))
            .args(["--create", "--timeout", "60s"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    ));
    wait_for_fifo(&fifo);
    let recv = recv.take();
    let recv_done = std::thread::spawn(move || finish(recv));
    let cat = finish(
        Command::new("sh")
            .arg("-c")
            .arg("cat \"$1\" > \"$2\"")
            .arg("sh")
            .arg(&file)
            .arg(&fifo)
            .spawn()
            .unwrap(),
    );
    assert!(cat.status.success());
    let out = recv_done.join().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout == data, "bytes differ");
    assert!(!fifo.exists());
}

#[test]
fn ipcx_send_feeds_cat_reading_the_fifo() {
    let d = tempfile::tempdir().unwrap();
    let fifo = d.path().join("f");
    let data: Vec<u8> = (0..200_000u32).map(|i| (i * 13 % 256) as u8).collect();
    let mut send = Reap(Some(
        ipcx_std()
            .arg("send")
            .arg(format!("fifo:{}", fifo.display()))
            .args(["--create", "--timeout", "60s"])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    ));
    let mut stdin = send.0.as_mut().unwrap().stdin.take().unwrap();
    let feed = {
        let data = data.clone();
        std::thread::spawn(move || stdin.write_all(&data))
    };
    wait_for_fifo(&fifo);
    let cat = finish(
        Command::new("cat")
            .arg(&fifo)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    feed.join().unwrap().unwrap();
    let out = finish(send.take());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(cat.stdout == data, "bytes differ");
    assert!(!fifo.exists());
}

#[test]
fn sixty_four_mib_arrive_with_the_same_sha256() {
    const TOTAL: usize = 64 << 20;
    let d = tempfile::tempdir().unwrap();
    let fifo = d.path().join("big");
    let endpoint = format!("fifo:{}", fifo.display());
    let mut recv = Reap(Some(
        ipcx_std()
            .args(["recv", &endpoint, "--create", "--timeout", "60s"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    ));
    let mut out = recv.0.as_mut().unwrap().stdout.take().unwrap();
    let received = std::thread::spawn(move || {
        let mut hash = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut n_total = 0usize;
        loop {
            let n = out.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            hash.update(&buf[..n]);
            n_total += n;
        }
        (n_total, hash.finalize())
    });
    wait_for_fifo(&fifo);
    let mut send = Reap(Some(
        ipcx_std()
            .args(["send", &endpoint, "--timeout", "60s"])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    ));
    let mut stdin = send.0.as_mut().unwrap().stdin.take().unwrap();
    let seed = rand::random::<u64>();
    let sent = std::thread::spawn(move || {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut hash = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        for _ in 0..TOTAL / buf.len() {
            rng.fill_bytes(&mut buf);
            hash.update(&buf);
            stdin.write_all(&buf).unwrap();
        }
        hash.finalize()
    });
    let sent_hash = sent.join().unwrap();
    let s = finish(send.take());
    assert!(s.status.success(), "{}", String::from_utf8_lossy(&s.stderr));
    let r = finish(recv.take());
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let (n, got_hash) = received.join().unwrap();
    assert_eq!(n, TOTAL);
    assert_eq!(got_hash, sent_hash, "SHA-256 differs (seed {seed})");
    assert!(!fifo.exists());
}

#[test]
fn count_stops_recv_after_n_bytes_and_repeats_a_message() {
    let d = tempfile::tempdir().unwrap();
    let fifo = d.path().join("f");
    let endpoint = format!("fifo:{}", fifo.display());
    let recv = Reap(Some(
        ipcx_std()
            .args([
                "recv",
                &endpoint,
                "--create",
                "--timeout",
                "60s",
                "--count",
                "10",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    ));
    wait_for_fifo(&fifo);
    let send = finish(
        ipcx_std()
            .args([
                "send",
                &endpoint,
                "--timeout",
                "60s",
                "--message",
                "abcd",
                "--count",
                "3",
            ])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    assert!(
        send.status.success(),
        "{}",
        String::from_utf8_lossy(&send.stderr)
    );
    let out = finish(recv.take());
    assert!(out.status.success());
    assert_eq!(out.stdout, b"abcdabcdab");
}

#[test]
fn keep_leaves_the_created_fifo_and_without_create_it_is_opened() {
    let d = tempfile::tempdir().unwrap();
    let fifo = d.path().join("kept");
    let endpoint = format!("fifo:{}", fifo.display());
    let recv = Reap(Some(
        ipcx_std()
            .args(["recv", &endpoint, "--create", "--keep", "--timeout", "60s"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    ));
    wait_for_fifo(&fifo);
    let send = finish(
        ipcx_std()
            .args(["send", &endpoint, "--timeout", "60s", "-m", "kept"])
            .spawn()
            .unwrap(),
    );
    assert!(send.status.success());
    let out = finish(recv.take());
    assert_eq!(out.stdout, b"kept");
    assert!(is_fifo(&fifo), "--keep must leave the FIFO");
    std::fs::remove_file(&fifo).unwrap();
}

/// Runs ipcx with `args`, expects exit status 1 and one `ipcx: ` line on
/// stderr without a panic; returns that line.
fn one_line_error(args: &[&str]) -> String {
    let out = ipcx().args(args).timeout(WATCHDOG).output().unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert!(err.starts_with("ipcx: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.stdout.is_empty());
    err
}

/// Lists a directory's entries.
fn entries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

#[test]
fn missing_parent_directory_is_a_one_line_error_naming_the_path() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("missing-dir").join("f");
    let ep = format!("fifo:{}", path.display());
    for args in [
        vec!["recv", &ep, "--create", "--timeout", "200ms"],
        vec!["send", &ep, "--create", "--timeout", "200ms", "-m", "x"],
        vec!["recv", &ep, "--timeout", "200ms"],
    ] {
        let err = one_line_error(&args);
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains("not found"), "{err}");
    }
    assert!(entries(d.path()).is_empty());
}

#[test]
fn a_regular_file_is_refused_and_left_as_it_was() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("plain");
    std::fs::write(&path, b"keep me").unwrap();
    let ep = format!("fifo:{}", path.display());
    for args in [
        vec!["recv", &ep, "--timeout", "200ms"],
        vec!["send", &ep, "--create", "--timeout", "200ms", "-m", "x"],
    ] {
        let err = one_line_error(&args);
        assert!(err.contains("regular file, not a FIFO"), "{err}");
        assert!(err.contains(&path.display().to_string()), "{err}");
    }
    assert_eq!(std::fs::read(&path).unwrap(), b"keep me");
    assert_eq!(entries(d.path()), vec![path]);
}

#[test]
fn a_path_over_path_max_is_refused() {
    let long = format!("fifo:/tmp/{}", "p".repeat(5000));
    for args in [
        vec!["recv", &long, "--create", "--timeout", "200ms"],
        vec!["send", &long, "--create", "--timeout", "200ms", "-m", "x"],
    ] {
        let err = one_line_error(&args);
        assert!(err.contains("PATH_MAX"), "{err}");
        assert!(err.contains("4095"), "{err}");
    }
}

#[test]
fn recv_timeout_without_a_writer_says_so_and_removes_the_fifo() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("f");
    let ep = format!("fifo:{}", path.display());
    let err = one_line_error(&["recv", &ep, "--create", "--timeout", "200ms"]);
    assert!(
        err.contains("timed out after 200ms waiting for a writer to open the FIFO"),
        "{err}"
    );
    assert!(entries(d.path()).is_empty(), "the FIFO was left behind");
}

#[test]
fn send_timeout_without_a_reader_says_so_and_removes_the_fifo() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("f");
    let ep = format!("fifo:{}", path.display());
    let err = one_line_error(&["send", &ep, "--create", "--timeout", "200ms", "-m", "x"]);
    assert!(
        err.contains("timed out after 200ms waiting for a reader to open the FIFO"),
        "{err}"
    );
    assert!(entries(d.path()).is_empty(), "the FIFO was left behind");
}

#[test]
fn a_missing_fifo_without_create_names_the_path() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("absent");
    let ep = format!("fifo:{}", path.display());
    let err = one_line_error(&["send", &ep, "--timeout", "200ms", "-m", "x"]);
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains("--create"), "{err}");
    assert!(entries(d.path()).is_empty());
}

#[test]
fn an_unknown_scheme_is_a_one_line_error() {
    let err = one_line_error(&["recv", "fifoo:/tmp/x", "--timeout", "200ms"]);
    assert!(err.contains("unknown scheme"), "{err}");
}
