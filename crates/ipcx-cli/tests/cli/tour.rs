//! `ipcx tour`: the seed's scenarios between real processes.

use std::time::Duration;

use crate::util::ipcx;

#[test]
fn tour_pipe_and_fifo_pass() {
    let out = ipcx()
        .args(["tour", "pipe", "fifo"])
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("child: Child received: Hello from parent!"),
        "{stdout}"
    );
    assert!(
        stdout.contains("reader: Received: Hello from FIFO!"),
        "{stdout}"
    );
    assert_eq!(stdout.matches("=> passed").count(), 2, "{stdout}");
    assert!(stdout.contains("2 passed, 0 failed"), "{stdout}");
}

#[test]
fn tour_of_an_unknown_mechanism_fails() {
    let out = ipcx().args(["tour", "carrier-pigeon"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
}
