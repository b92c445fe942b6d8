//! System V shared memory: create/open/attach, statistics, removal, limits.

use ipcx::key::{Key, KeySpec};
use ipcx::shm::sysv::Segment;
use ipcx::shm::SharedMemory;
use ipcx::Error;

fn keyed() -> (tempfile::TempDir, Key) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shmfile");
    std::fs::write(&file, b"").unwrap();
    let key = Key::from_path(&file, 65).unwrap();
    (dir, key)
}

#[test]
fn create_attach_stat_and_creator_removes() {
    let (_dir, key) = keyed();
    let seg = Segment::builder(key).size(1024).create().unwrap();
    seg.write_bytes(0, b"Shared Memory Example\0").unwrap();
    let reader = Segment::builder(key).size(1024).read_only().open().unwrap();
    let mut buf = [0u8; 21];
    reader.read_bytes(0, &mut buf).unwrap();
    assert_eq!(&buf, b"Shared Memory Example");
    assert!(matches!(
        reader.write_bytes(0, b"x"),
        Err(Error::PermissionDenied { .. })
    ));
    let st = seg.stat().unwrap();
    assert_eq!(st.size, 1024);
    assert_eq!(st.attach_count, 2);
    assert_eq!(st.creator_pid, std::process::id());
    assert_eq!(st.last_pid, std::process::id());
    assert_eq!(st.mode, 0o600);
    assert_eq!(st.key, key.raw());
    assert!(!st.marked_for_removal);
    let id = seg.id();
    drop(seg);
    // Removed (marked) by the creator; gone once the reader detaches.
    assert!(reader.stat().unwrap().marked_for_removal);
    drop(reader);
    assert!(Segment::attach_id(id, None, true).is_err());
    assert!(matches!(
        Segment::builder(key).open(),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn opening_with_a_size_other_than_the_real_one_is_invalid_size() {
    let (_dir, key) = keyed();
    let _seg = Segment::builder(key).size(1024).create().unwrap();
    let err = Segment::builder(key).size(4096).open().unwrap_err();
    assert!(
        matches!(err, Error::InvalidSize { actual: 1024, .. }),
        "{err}"
    );
    let err = Segment::builder(key).size(10).open().unwrap_err();
    assert!(
        matches!(err, Error::InvalidSize { actual: 1024, .. }),
        "{err}"
    );
    assert_eq!(Segment::builder(key).open().unwrap().len(), 1024);
}

#[test]
fn a_segment_bigger_than_shmmax_is_limit_exceeded_naming_the_file() {
    let err = Segment::builder(Key::PRIVATE)
        .size(usize::MAX)
        .create()
        .unwrap_err();
    assert!(matches!(err, Error::LimitExceeded { .. }), "{err}");
    assert!(err.to_string().contains("/proc/sys/kernel/shmmax"), "{err}");
}

#[test]
fn key_zero_when_a_shared_key_was_meant_is_an_error() {
    assert!(matches!(
        Key::from_raw(0),
        Err(Error::InvalidArgument { .. })
    ));
    assert!("0".parse::<KeySpec>().is_err());
    let err = Segment::builder(Key::PRIVATE).size(64).open().unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err}");
    let err = Key::from_path("/nonexistent/ipcx/shmfile", 65).unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
}

#[test]
fn exclusive_create_keep_and_explicit_remove() {
    let (_dir, key) = keyed();
    let mut seg = Segment::builder(key).size(64).create().unwrap();
    assert!(matches!(
        Segment::builder(key).size(64).create(),
        Err(Error::AlreadyExists { .. })
    ));
    let other = Segment::builder(key).size(64).open_or_create().unwrap();
    assert!(!other.is_owner());
    seg.keep();
    drop(seg);
    let mut again = Segment::builder(key).open().unwrap();
    again.remove().unwrap();
    // Marked for removal: the key is free at once, the memory stays while attached.
    assert!(again.stat().unwrap().marked_for_removal);
    assert!(matches!(
        Segment::builder(key).open(),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn ipcs_lists_our_segment_with_mode_600() {
    let seg = Segment::builder(Key::PRIVATE).size(2048).create().unwrap();
    let out = std::process::Command::new("ipcs")
        .arg("-m")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(&seg.id().to_string()))
        .unwrap_or_else(|| panic!("shmid {} not in ipcs -m:\n{text}", seg.id()));
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(cols[3], "600", "{line}");
    assert_eq!(cols[4], "2048", "{line}");
}

#[test]
fn a_segment_removed_with_ipcrm_stays_mapped_and_is_marked() {
    let seg = Segment::builder(Key::PRIVATE).size(64).create().unwrap();
    let out = std::process::Command::new("ipcrm")
        .args(["-m", &seg.id().to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Still attached: the memory stays usable until detached.
    seg.write_bytes(0, b"still here").unwrap();
    assert!(seg.stat().unwrap().marked_for_removal);
}
