//! POSIX shared memory segments: ownership, modes, size checks, name rules,
//! symlinks, space reservation and typed access.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use ipcx::shm::posix::Segment;
use ipcx::shm::SharedMemory;
use ipcx::Error;

use crate::child::UnlinkShm;
use crate::util::unique;

fn name() -> String {
    format!("/{}", unique("ipcx-it-shm"))
}

fn file(name: &str) -> PathBuf {
    PathBuf::from(format!("/dev/shm/{}", &name[1..]))
}

#[test]
fn create_is_exclusive_mode_0600_and_the_creator_removes_it() {
    let n = name();
    let seg = Segment::builder(&n).size(4096).create().unwrap();
    let meta = std::fs::symlink_metadata(file(&n)).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.len(), 4096);
    assert!(matches!(
        Segment::builder(&n).size(4096).create(),
        Err(Error::AlreadyExists { .. })
    ));
    let opener = Segment::builder(&n).open().unwrap();
    drop(opener);
    assert!(file(&n).exists());
    drop(seg);
    assert!(!file(&n).exists());
    assert!(matches!(
        Segment::builder(&n).open(),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn an_explicit_mode_is_set_exactly_and_keep_leaves_the_name() {
    let n = name();
    let _cleanup = UnlinkShm(n.clone());
    let mut seg = Segment::builder(&n).size(64).mode(0o640).create().unwrap();
    let meta = std::fs::symlink_metadata(file(&n)).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o640);
    seg.keep();
    drop(seg);
    assert!(file(&n).exists());
}

#[test]
fn opening_with_a_different_size_is_invalid_size() {
    let n = name();
    let _seg = Segment::builder(&n).size(4096).create().unwrap();
    let err = Segment::builder(&n).size(8192).open().unwrap_err();
    assert!(
        matches!(err, Error::InvalidSize { actual: 4096, .. }),
        "{err}"
    );
    let err = Segment::builder(&n).size(100).open().unwrap_err();
    assert!(matches!(err, Error::InvalidSize { .. }), "{err}");
}

#[test]
fn opening_a_zero_length_object_is_invalid_size_not_sigbus() {
    let n = name();
    let _cleanup = UnlinkShm(n.clone());
    std::fs::File::create(file(&n)).unwrap();
    let err = Segment::builder(&n).open().unwrap_err();
    assert!(matches!(err, Error::InvalidSize { actual: 0, .. }), "{err}");
}

#[test]
fn name_rules_are_checked_before_the_call() {
    for bad in ["noslash", "/two/slashes", "/", "/.", "/.."] {
        let err = Segment::builder(bad).size(64).create().unwrap_err();
        assert!(matches!(err, Error::InvalidName { .. }), "{bad}: {err}");
    }
    let err = Segment::builder(&format!("/{}", "x".repeat(256)))
        .size(64)
        .create()
        .unwrap_err();
    assert!(matches!(err, Error::InvalidName { .. }), "{err}");
    assert!(matches!(
        Segment::builder(&name()).create(),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        Segment::builder(&name()).size(0).create(),
        Err(Error::InvalidArgument { .. })
    ));
}

#[test]
fn a_symlink_at_the_name_is_never_followed() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target");
    std::fs::write(&target, vec![0u8; 4096]).unwrap();
    let n = name();
    let _cleanup = UnlinkShm(n.clone());
    std::os::unix::fs::symlink(&target, file(&n)).unwrap();
    let err = Segment::builder(&n).open().unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err}");
    let err = Segment::builder(&n).size(64).create().unwrap_err();
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err}");
    assert_eq!(std::fs::metadata(&target).unwrap().len(), 4096);
}

#[test]
fn more_than_dev_shm_can_hold_is_no_space_at_creation() {
    let n = name();
    let _cleanup = UnlinkShm(n.clone());
    // Far beyond the size of /dev/shm: fallocate refuses with ENOSPC.
    let err = Segment::builder(&n).size(1 << 50).create().unwrap_err();
    assert!(matches!(err, Error::NoSpace { .. }), "{err}");
    assert!(
        !file(&n).exists(),
        "a failed creation leaves no name behind"
    );
}

#[test]
fn read_only_open_maps_read_only() {
    let n = name();
    let seg = Segment::builder(&n).size(64).create().unwrap();
    seg.write_bytes(0, b"abc").unwrap();
    let ro = Segment::builder(&n).read_only().open().unwrap();
    assert!(ro.is_read_only());
    let mut buf = [0u8; 3];
    ro.read_bytes(0, &mut buf).unwrap();
    assert_eq!(&buf, b"abc");
    assert!(matches!(
        ro.write_bytes(0, b"x"),
        Err(Error::PermissionDenied { .. })
    ));
    assert!(matches!(
        Segment::builder(&name()).size(64).read_only().create(),
        Err(Error::InvalidArgument { .. })
    ));
}

#[test]
fn typed_and_byte_access_are_bounds_and_alignment_checked() {
    let n = name();
    let seg = Segment::builder(&n).size(64).create().unwrap();
    seg.write_value(56, &[1u16, 2, 3, 4]).unwrap();
    assert_eq!(seg.read_value::<[u16; 4]>(56).unwrap(), [1, 2, 3, 4]);
    assert!(matches!(
        seg.read_value::<u64>(60),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        seg.read_value::<u32>(2),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        seg.write_bytes(usize::MAX, b"x"),
        Err(Error::InvalidArgument { .. })
    ));
    let a = seg.atomic_u64(8).unwrap();
    a.fetch_add(5, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(seg.read_value::<u64>(8).unwrap(), 5);
}

#[test]
fn open_or_create_races_make_one_owner() {
    let n = name();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let n = n.clone();
            std::thread::spawn(move || Segment::builder(&n).size(128).open_or_create())
        })
        .collect();
    let segs: Vec<Segment> = handles
        .into_iter()
        .map(|h| h.join().unwrap().unwrap())
        .collect();
    assert_eq!(segs.iter().filter(|s| s.is_owner()).count(), 1);
    assert!(segs.iter().all(|s| s.len() == 128));
}
