//! POSIX semaphores: named and unnamed-in-shared-memory, timed waits, the
//! documented no-release-on-death behaviour, name rules, and counters.

use std::time::Duration;

use ipcx::sem::posix::{NamedSemaphore, UnnamedSemaphore, SEM_VALUE_MAX};
use ipcx::shm::memfd::Memfd;
use ipcx::shm::posix::Segment;
use ipcx::shm::SharedMemory;
use ipcx::Error;

use crate::child::{self, UnlinkSem, UnlinkShm};
use crate::util::unique;

fn sem_name(tag: &str) -> String {
    format!("/{}", unique(&format!("ipcx-it-{tag}")))
}

fn sem_file(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(format!("/dev/shm/sem.{}", &name[1..]))
}

#[test]
fn named_create_is_exclusive_0600_and_creator_unlinks() {
    let name = sem_name("sem");
    let sem = NamedSemaphore::builder(&name).value(2).create().unwrap();
    let _cleanup = UnlinkSem(name.clone());
    let mode = std::fs::symlink_metadata(sem_file(&name)).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o600
    );
    assert!(matches!(
        NamedSemaphore::builder(&name).create(),
        Err(Error::AlreadyExists { .. })
    ));
    let opener = NamedSemaphore::builder(&name).open().unwrap();
    assert_eq!(opener.value().unwrap(), 2);
    drop(opener);
    assert!(sem_file(&name).exists(), "openers never unlink");
    drop(sem);
    assert!(!sem_file(&name).exists(), "the creator unlinks");
}

#[test]
fn wait_try_wait_timed_wait_post_and_guard() {
    let name = sem_name("sem");
    let sem = NamedSemaphore::builder(&name).value(1).create().unwrap();
    let _cleanup = UnlinkSem(name.clone());
    assert!(sem.try_wait().unwrap());
    assert!(!sem.try_wait().unwrap());
    let err = sem.wait_timeout(Duration::from_millis(20)).unwrap_err();
    assert!(matches!(err, Error::TimedOut { .. }), "{err}");
    sem.post().unwrap();
    {
        let _g = sem.lock().unwrap();
        assert_eq!(sem.value().unwrap(), 0);
    }
    assert_eq!(sem.value().unwrap(), 1);
}

#[test]
fn name_rules_and_value_limit_are_typed_errors() {
    for bad in ["noslash", "/two/slashes", "/", "/.."] {
        assert!(
            matches!(
                NamedSemaphore::builder(bad).create(),
                Err(Error::InvalidName { .. })
            ),
            "{bad}"
        );
    }
    let long = format!("/{}", "a".repeat(252));
    assert!(matches!(
        NamedSemaphore::builder(&long).create(),
        Err(Error::InvalidName { .. })
    ));
    let err = NamedSemaphore::builder(&sem_name("big"))
        .value(SEM_VALUE_MAX + 1)
        .create()
        .unwrap_err();
    assert!(matches!(err, Error::LimitExceeded { .. }), "{err}");
    assert!(matches!(
        NamedSemaphore::builder(&sem_name("missing")).open(),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn unnamed_semaphore_placement_is_checked() {
    let seg = Memfd::create("sem-place", 4096).unwrap();
    assert!(matches!(
        UnnamedSemaphore::init(&seg, 4090, 0),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        UnnamedSemaphore::init(&seg, 3, 0),
        Err(Error::InvalidArgument { .. })
    ));
    let s = UnnamedSemaphore::init(&seg, 0, 1).unwrap();
    let other = UnnamedSemaphore::open(&seg, 0).unwrap();
    assert!(other.try_wait().unwrap());
    assert!(matches!(
        s.wait_timeout(Duration::from_millis(10)),
        Err(Error::TimedOut { .. })
    ));
}

#[test]
fn a_killed_holder_does_not_release_a_posix_semaphore_and_timed_wait_times_out() {
    let name = sem_name("hold");
    let sem = NamedSemaphore::builder(&name).value(1).create().unwrap();
    let _cleanup = UnlinkSem(name.clone());
    let mut peer = child::spawn("posix-hold", &[&name]);
    peer.wait_ready();
    peer.kill9();
    // Documented behaviour: the unit the dead holder took is lost…
    assert_eq!(sem.value().unwrap(), 0);
    // …and a timed wait returns TimedOut instead of hanging.
    let err = sem.wait_timeout(Duration::from_millis(200)).unwrap_err();
    assert!(matches!(err, Error::TimedOut { .. }), "{err}");
}

pub fn hold_child(args: &[String]) {
    let sem = NamedSemaphore::builder(&args[0]).open().unwrap();
    sem.wait().unwrap();
    child::ready_and_wait();
}

#[test]
fn four_processes_count_exactly_under_a_named_posix_semaphore() {
    let seg_name = format!("/{}", unique("ipcx-it-pnamed-count"));
    let seg = Segment::builder(&seg_name).size(4096).create().unwrap();
    let _c1 = UnlinkShm(seg_name.clone());
    let name = sem_name("count");
    let _sem = NamedSemaphore::builder(&name).value(1).create().unwrap();
    let _c2 = UnlinkSem(name.clone());
    child::run_counters("posix-named-count", &[&seg_name, &name]);
    assert_eq!(
        seg.read_value::<u64>(0).unwrap(),
        child::PROCESSES * child::INCREMENTS
    );
}

pub fn named_count_child(args: &[String]) {
    let seg = Segment::builder(&args[0]).open().unwrap();
    let sem = NamedSemaphore::builder(&args[1]).open().unwrap();
    for _ in 0..child::INCREMENTS {
        let _g = sem.lock().unwrap();
        child::increment(&seg);
    }
}

#[test]
fn four_processes_count_exactly_under_an_unnamed_semaphore_in_shm() {
    let seg_name = format!("/{}", unique("ipcx-it-punnamed-count"));
    let seg = Segment::builder(&seg_name).size(4096).create().unwrap();
    let _c1 = UnlinkShm(seg_name.clone());
    let _sem = UnnamedSemaphore::init(&seg, child::UNNAMED_SEM_OFFSET, 1).unwrap();
    child::run_counters("posix-unnamed-count", &[&seg_name]);
    assert_eq!(
        seg.read_value::<u64>(0).unwrap(),
        child::PROCESSES * child::INCREMENTS
    );
}

pub fn unnamed_count_child(args: &[String]) {
    let seg = Segment::builder(&args[0]).open().unwrap();
    let sem = UnnamedSemaphore::open(&seg, child::UNNAMED_SEM_OFFSET).unwrap();
    for _ in 0..child::INCREMENTS {
        let _g = sem.lock().unwrap();
        child::increment(&seg);
    }
}

#[test]
fn signals_neither_cut_a_timed_wait_short_nor_break_a_blocking_one() {
    crate::signals::install_noop_handler();
    let seg = std::sync::Arc::new(Memfd::create("sem-eintr", 4096).unwrap());
    let sem = UnnamedSemaphore::init(seg.clone(), 0, 0).unwrap();
    let seg1 = seg.clone();
    let (res, took) = crate::signals::while_signalled(move || {
        UnnamedSemaphore::open(seg1, 0)
            .unwrap()
            .wait_timeout(Duration::from_millis(300))
    });
    assert!(matches!(res, Err(Error::TimedOut { .. })), "{res:?}");
    // Not cut short by the signals (a lower bound only).
    assert!(
        took >= Duration::from_millis(300),
        "returned after {took:?}"
    );
    let seg2 = seg.clone();
    let waiter = std::thread::spawn(move || UnnamedSemaphore::open(seg2, 0).unwrap().wait());
    crate::signals::pester(&waiter, Duration::from_millis(100));
    sem.post().unwrap();
    assert!(waiter.join().unwrap().is_ok());
}
