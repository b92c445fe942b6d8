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
    // Another thread sees it held (this thread relocking is EDEADLK).
    std::thread::scope(|s| {
        s.spawn(|| assert!(b.try_lock().unwrap().is_none()));
    });
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

/// Whether this process still maps the memfd called `name`.
fn maps_memfd(name: &str) -> bool {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("reading /proc/self/maps");
    maps.lines().any(|l| l.contains(&format!("/memfd:{name} ")))
}

/// A forgotten guard, then the segment holding the locked mutex dropped:
/// the mapping is leaked (still mapped), not unmapped, so glibc's robust list
/// never points into unmapped or reused memory. Locking other robust mutexes
/// (lock, try_lock, timed, OwnerDied + consistent) and ending threads that did
/// the same must not crash. Run in a child: a crash fails the child.
#[test]
fn forgetting_a_guard_then_dropping_the_segment_leaks_the_mapping_and_stays_sound() {
    let mut peer = child::spawn("mutex-forget-drop", &[&unique("ipcx-it-forget")]);
    let status = peer.wait(Duration::from_secs(60));
    assert!(status.success(), "child crashed or failed: {status}");
}

pub fn forget_drop_child(args: &[String]) {
    use ipcx::shm::memfd::Memfd;
    let base = &args[0];
    let other_seg = Memfd::create(&format!("{base}-other"), 4096).unwrap();
    let other = Mutex::init(&other_seg, 0).unwrap();

    // Locked, guard forgotten, segment dropped: leaked.
    let leaked = format!("{base}-leaked");
    let m = Mutex::init(Memfd::create(&leaked, 4096).unwrap(), 64).unwrap();
    std::mem::forget(m.lock().unwrap());
    drop(m);
    assert!(
        maps_memfd(&leaked),
        "the mapping holding a locked mutex was unmapped"
    );

    // Unlocked normally: unmapped as usual.
    let freed = format!("{base}-freed");
    let m = Mutex::init(Memfd::create(&freed, 4096).unwrap(), 64).unwrap();
    drop(m.lock().unwrap());
    drop(m.try_lock().unwrap().unwrap());
    drop(m.lock_timeout(Duration::from_secs(5)).unwrap());
    drop(m);
    assert!(
        !maps_memfd(&freed),
        "an unlocked mutex's mapping was not unmapped"
    );

    // The same through try_lock and lock_timeout, and a System V segment.
    let m = Mutex::init(Memfd::create(&format!("{base}-try"), 4096).unwrap(), 0).unwrap();
    std::mem::forget(m.try_lock().unwrap().unwrap());
    drop(m);
    let m = Mutex::init(Memfd::create(&format!("{base}-timed"), 4096).unwrap(), 0).unwrap();
    std::mem::forget(m.lock_timeout(Duration::from_secs(5)).unwrap());
    drop(m);
    let sysv = ipcx::shm::sysv::Segment::builder(ipcx::key::Key::PRIVATE)
        .size(4096)
        .create()
        .unwrap();
    let m = Mutex::init(sysv, 0).unwrap();
    std::mem::forget(m.lock().unwrap());
    drop(m);

    // Lock another robust mutex: glibc links it to the forgotten ones.
    for _ in 0..3 {
        drop(other.lock().unwrap());
        drop(other.try_lock().unwrap().unwrap());
        drop(other.lock_timeout(Duration::from_secs(5)).unwrap());
    }

    // A thread that ends holding forgotten locks in dropped segments, one of
    // them taken with OwnerDied and marked consistent.
    let died = Mutex::init(Memfd::create(&format!("{base}-died"), 4096).unwrap(), 0).unwrap();
    std::thread::scope(|s| {
        s.spawn(|| std::mem::forget(died.lock().unwrap()));
    });
    let other = &other;
    std::thread::scope(|s| {
        s.spawn(move || {
            let g = died.lock().unwrap();
            assert!(g.owner_died());
            std::mem::forget(g.recover().unwrap());
            drop(died);
            let m = Mutex::init(Memfd::create("t", 4096).unwrap(), 0).unwrap();
            std::mem::forget(m.lock().unwrap());
            drop(m);
            drop(other.lock().unwrap());
        });
    });
    // New mappings may not land on the leaked ones; lock once more.
    let fresh: Vec<_> = (0..8).map(|_| Memfd::create("t", 4096).unwrap()).collect();
    for seg in &fresh {
        let m = Mutex::init(seg, 0).unwrap();
        drop(m.lock().unwrap());
    }
    println!("SURVIVED");
}
