//! `sysvshm:` send/recv interop with the seed's C programs, `ipcs`, errors,
//! and `ipcx tour shm sem`.

use std::path::Path;
use std::process::Command;

use ipcx::key::Key;
use ipcx::shm::sysv::Segment;

use crate::util::{ipcx, seed_c};

/// A temp dir with `shmfile`; removes the segment of ftok(shmfile, 65) on drop.
struct ShmDir {
    dir: tempfile::TempDir,
    key: Key,
}

impl ShmDir {
    fn new() -> ShmDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("shmfile"), b"").unwrap();
        let key = Key::from_path(dir.path().join("shmfile"), 65).unwrap();
        ShmDir { dir, key }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn exists(&self) -> bool {
        Segment::builder(self.key).open().is_ok()
    }
}

impl Drop for ShmDir {
    fn drop(&mut self) {
        if let Ok(mut seg) = Segment::builder(self.key).open() {
            let _ = seg.remove();
        }
    }
}

#[test]
fn c_shm_writer_then_ipcx_recv_prints_the_text_and_removes_the_segment() {
    let d = ShmDir::new();
    let writer = seed_c(d.path(), "shm_writer");
    let out = Command::new(&writer)
        .current_dir(d.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(d.exists());
    ipcx()
        .args(["recv", "sysvshm:shmfile@65"])
        .current_dir(d.path())
        .timeout(std::time::Duration::from_secs(30))
        .assert()
        .success()
        .stdout("Shared Memory Example");
    assert!(
        !d.exists(),
        "recv removes the segment like the seed's reader"
    );
}

#[test]
fn ipcx_send_then_c_shm_reader_prints_it() {
    let d = ShmDir::new();
    let reader = seed_c(d.path(), "shm_reader");
    ipcx()
        .args(["send", "sysvshm:shmfile@65", "--message", "hello from ipcx"])
        .current_dir(d.path())
        .timeout(std::time::Duration::from_secs(30))
        .assert()
        .success();
    let st = Segment::builder(d.key).open().unwrap().stat().unwrap();
    assert_eq!((st.size, st.mode), (1024, 0o600));
    let out = Command::new(&reader)
        .current_dir(d.path())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Data read from shared memory: hello from ipcx\n"
    );
    assert!(!d.exists(), "the C reader removed it");
}

#[test]
fn ipcs_lists_the_sent_segment_with_mode_600() {
    let d = ShmDir::new();
    ipcx()
        .args(["send", "sysvshm:shmfile@65?size=2048", "--message", "x"])
        .current_dir(d.path())
        .assert()
        .success();
    let out = Command::new("ipcs").arg("-m").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let key = d.key.to_string();
    let line = text
        .lines()
        .find(|l| l.starts_with(&key))
        .unwrap_or_else(|| panic!("{key} not in ipcs -m:\n{text}"));
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(cols[3], "600", "{line}");
    assert_eq!(cols[4], "2048", "{line}");
}

#[test]
fn text_longer_than_the_segment_is_refused_and_leaves_nothing() {
    let d = ShmDir::new();
    let long = "a".repeat(1024);
    ipcx()
        .args(["send", "sysvshm:shmfile@65", "--message", &long])
        .current_dir(d.path())
        .assert()
        .code(1)
        .stderr(predicates::str::contains("over the limit of 1023 bytes"));
    assert!(!d.exists());
}

#[test]
fn recv_with_a_wrong_size_or_no_segment_is_a_typed_error() {
    let d = ShmDir::new();
    ipcx()
        .args(["recv", "sysvshm:shmfile@65"])
        .current_dir(d.path())
        .assert()
        .code(1)
        .stderr(predicates::str::contains("not found"));
    ipcx()
        .args(["send", "sysvshm:shmfile@65", "--message", "x"])
        .current_dir(d.path())
        .assert()
        .success();
    ipcx()
        .args(["recv", "sysvshm:shmfile@65?size=4096"])
        .current_dir(d.path())
        .assert()
        .code(1)
        .stderr(predicates::str::contains(
            "size is 1024 bytes, expected 4096",
        ));
    ipcx()
        .args(["recv", "sysvshm:shmfile@65", "--keep", "--lines"])
        .current_dir(d.path())
        .assert()
        .success()
        .stdout("x\n");
    assert!(d.exists(), "--keep leaves the segment");
}

#[test]
fn a_missing_key_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    ipcx()
        .args(["send", "sysvshm:shmfile@65", "--message", "x"])
        .current_dir(dir.path())
        .assert()
        .code(1)
        .stderr(predicates::str::contains("shmfile"));
}

#[test]
fn tour_shm_sem_passes() {
    ipcx()
        .args(["tour", "shm", "sem"])
        .timeout(std::time::Duration::from_secs(300))
        .assert()
        .success()
        .stdout(predicates::str::contains("Shared Memory Example"))
        .stdout(predicates::str::contains("lost updates"))
        .stdout(predicates::str::contains("total: 400000 of 400000"))
        .stdout(predicates::str::contains(" 0 failed"));
}
