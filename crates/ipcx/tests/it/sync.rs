//! Robust process-shared mutex: OwnerDied after kill -9, named mutexes,
//! and a cross-process counter.

use std::time::Duration;

use ipcx::shm::posix::Segment;
use ipcx::shm::SharedMemory;
use ipcx::sync::{Locked, Mutex};

use crate::child::{self, UnlinkShm};
use crate::util::unique;

#[test]
fn a_killed_holder_gives_the_next_locker_owner_died() {
    let name = format!("/{}", unique("ipcx-it-mutex"));
    let _cleanup = UnlinkShm(name.clone());
    let m = Mutex::named(&name).unwrap();
    let mut peer = child::spawn("mutex-hold", &[&name]);
    peer.wait_ready();
    assert!(m.try_lock().unwrap().is_none(), "the child holds it");
    peer.kill9();
    // Watchdog timeout only; no upper time bound is asserted.
    match m.lock_timeout(Duration::from_secs(20)).unwrap() {
        Locked::OwnerDied(g) => drop(g.consistent().unwrap()),
        Locked::Acquired(_) => panic!("expected OwnerDied after the holder was killed"),
    }
    // Marked consistent: it works normally again.
    let again = m.lock_timeout(Duration::from_secs(20)).unwrap();
    assert!(!again.owner_died());
}

pub fn hold_child(args: &[String]) {
    let m = Mutex::named(&args[0]).unwrap();
    let g = m.lock().unwrap().recover().unwrap();
    std::mem::forget(g);
    child::ready_and_wait();
}

#[test]
fn named_mutex_is_kept_and_shared_by_name() {
    let name = format!("/{}", unique("ipcx-it-mutex"));
    let _cleanup = UnlinkShm(name.clone());
    let a = Mutex::named(&name).unwrap();
    let b = Mutex::named(&name).unwrap();
    let g = a.lock().unwrap().recover().unwrap();
    assert!(b.try_lock().unwrap().is_none());
    drop(g);
    assert!(b.try_lock().unwrap().is_some());
    drop((a, b));
    assert!(std::path::Path::new(&format!("/dev/shm/{}", &name[1..])).exists());
    Mutex::remove_named(&name).unwrap();
}

#[test]
fn a_foreign_object_is_not_taken_for_a_mutex() {
    let name = format!("/{}", unique("ipcx-it-mutex"));
    let seg = Segment::builder(&name).size(4096).create().unwrap();
    seg.write_value(0, &7u32).unwrap();
    let err = Mutex::named(&name).unwrap_err();
    assert!(matches!(err, ipcx::Error::Corrupted { .. }), "{err}");
    let other = format!("/{}", unique("ipcx-it-mutex"));
    let _small = Segment::builder(&other).size(100).create().unwrap();
    let err = Mutex::named(&other).unwrap_err();
    assert!(matches!(err, ipcx::Error::InvalidSize { .. }), "{err}");
}

#[test]
fn four_processes_count_exactly_under_a_robust_mutex() {
    let name = format!("/{}", unique("ipcx-it-mutex-count"));
    let seg = Segment::builder(&name).size(4096).create().unwrap();
    let _cleanup = UnlinkShm(name.clone());
    let _m = Mutex::init(&seg, child::MUTEX_OFFSET).unwrap();
    child::run_counters("mutex-count", &[&name]);
    assert_eq!(
        seg.read_value::<u64>(0).unwrap(),
        child::PROCESSES * child::INCREMENTS
    );
}

pub fn count_child(args: &[String]) {
    let seg = Segment::builder(&args[0]).open().unwrap();
    let m = Mutex::open(&seg, child::MUTEX_OFFSET).unwrap();
    for _ in 0..child::INCREMENTS {
        let _g = m.lock().unwrap().recover().unwrap();
        child::increment(&seg);
    }
}
