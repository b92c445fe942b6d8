//! System V semaphore sets: values, atomic operations, SEM_UNDO on death,
//! removal under a waiter, limits, and a cross-process counter.

use std::time::Duration;

use ipcx::key::Key;
use ipcx::sem::sysv::{SemOp, SemaphoreSet, SEM_VALUE_MAX};
use ipcx::shm::posix::Segment;
use ipcx::Error;

use crate::child::{self, UnlinkShm};
use crate::util::unique;

fn private_set(values: &[i32]) -> SemaphoreSet {
    SemaphoreSet::builder(Key::PRIVATE)
        .count(values.len())
        .values(values)
        .create()
        .unwrap()
}

#[test]
fn values_get_set_all_and_atomic_multi_op() {
    let set = private_set(&[2, 0, 5]);
    assert_eq!(set.get_all().unwrap(), vec![2, 0, 5]);
    set.set(1, 7).unwrap();
    assert_eq!(set.get(1).unwrap(), 7);
    set.set_all(&[1, 1, 1]).unwrap();
    // All or nothing: semaphore 2 would go below 0, so nothing changes.
    assert!(!set.try_op(&[SemOp::wait(0), SemOp::add(2, -2)]).unwrap());
    assert_eq!(set.get_all().unwrap(), vec![1, 1, 1]);
    set.op(&[SemOp::wait(0), SemOp::post(2)]).unwrap();
    assert_eq!(set.get_all().unwrap(), vec![0, 1, 2]);
    assert_eq!(set.last_pid(0).unwrap(), std::process::id());
}

#[test]
fn value_over_sem_value_max_is_limit_exceeded_before_the_call() {
    let set = private_set(&[0]);
    let err = set.set(0, SEM_VALUE_MAX + 1).unwrap_err();
    assert!(
        matches!(err, Error::LimitExceeded { max: 32767, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("SEM_VALUE_MAX"), "{err}");
    set.set(0, SEM_VALUE_MAX).unwrap();
    let err = SemaphoreSet::builder(Key::PRIVATE)
        .values(&[40_000])
        .create()
        .unwrap_err();
    assert!(matches!(err, Error::LimitExceeded { .. }), "{err}");
    // Overflow by an operation: ERANGE, typed.
    let err = set.op(&[SemOp::post(0).no_undo()]).unwrap_err();
    assert!(matches!(err, Error::LimitExceeded { .. }), "{err}");
}

#[test]
fn index_out_of_range_and_key_zero_are_invalid_arguments() {
    let set = private_set(&[0]);
    assert!(matches!(set.get(1), Err(Error::InvalidArgument { .. })));
    assert!(matches!(
        set.op(&[SemOp::post(3)]),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        Key::from_raw(0),
        Err(Error::InvalidArgument { .. })
    ));
    let err = SemaphoreSet::builder(Key::PRIVATE).open().unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err}");
}

#[test]
fn timed_and_try_forms_do_not_block() {
    let set = private_set(&[0]);
    let err = set
        .op_timeout(&[SemOp::wait(0)], Duration::from_millis(20))
        .unwrap_err();
    assert!(matches!(err, Error::TimedOut { .. }), "{err}");
    assert!(set.try_lock(0).unwrap().is_none());
    set.post(0).unwrap();
    let g = set.try_lock(0).unwrap();
    assert!(g.is_some());
    assert_eq!(set.get(0).unwrap(), 0);
    drop(g);
    assert_eq!(set.get(0).unwrap(), 1);
}

#[test]
fn operating_on_a_removed_set_is_removed() {
    let mut set = private_set(&[1]);
    let other = SemaphoreSet::open_id(set.id()).unwrap();
    assert!(!other.is_owner());
    set.remove().unwrap();
    assert!(matches!(other.get(0), Err(Error::Removed { .. })));
    assert!(matches!(other.post(0), Err(Error::Removed { .. })));
    assert!(matches!(
        SemaphoreSet::open_id(set.id()),
        Err(Error::Removed { .. })
    ));
}

#[test]
fn a_waiter_sees_removed_when_the_set_disappears() {
    let mut set = private_set(&[0]);
    let id = set.id();
    let waiter = std::thread::spawn(move || {
        let s = SemaphoreSet::open_id(id).unwrap();
        // Watchdog: a generous timeout so a missed wake-up fails instead of hanging.
        s.op_timeout(&[SemOp::wait(0)], Duration::from_secs(30))
    });
    // Wait until the thread is blocked in semop (GETNCNT), watchdog 30 s.
    let start = std::time::Instant::now();
    while set.waiting(0).unwrap() == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "waiter never blocked"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    set.remove().unwrap();
    let res = waiter.join().unwrap();
    assert!(matches!(res, Err(Error::Removed { .. })), "{res:?}");
}

#[test]
fn named_key_create_open_and_exclusive() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("semfile");
    std::fs::write(&file, b"").unwrap();
    let key = Key::from_path(&file, 7).unwrap();
    let set = SemaphoreSet::builder(key).count(2).create().unwrap();
    assert!(matches!(
        SemaphoreSet::builder(key).create(),
        Err(Error::AlreadyExists { .. })
    ));
    let opened = SemaphoreSet::builder(key).open().unwrap();
    assert_eq!(opened.count(), 2);
    assert!(matches!(
        SemaphoreSet::builder(key).count(3).open(),
        Err(Error::InvalidArgument { .. })
    ));
    assert_eq!(set.stat().unwrap().mode, 0o600);
    let again = SemaphoreSet::builder(key)
        .count(2)
        .open_or_create()
        .unwrap();
    assert!(!again.is_owner());
}

#[test]
fn ipcs_lists_our_set_with_mode_600() {
    let set = private_set(&[0, 0]);
    let out = std::process::Command::new("ipcs")
        .arg("-s")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(&set.id().to_string()))
        .unwrap_or_else(|| panic!("semid {} not in ipcs -s:\n{text}", set.id()));
    assert_eq!(line.split_whitespace().nth(3), Some("600"), "{line}");
}

#[test]
fn sem_undo_releases_what_a_killed_holder_held() {
    let set = private_set(&[1]);
    let id = set.id().to_string();
    let mut peer = child::spawn("sysv-hold", &[&id]);
    peer.wait_ready();
    assert_eq!(set.get(0).unwrap(), 0, "the child holds the semaphore");
    peer.kill9();
    // The next locker proceeds (watchdog only: no upper time bound asserted).
    let g = set.lock_timeout(0, Duration::from_secs(20)).unwrap();
    drop(g);
    assert_eq!(set.get(0).unwrap(), 1);
}

pub fn hold_child(args: &[String]) {
    let set = SemaphoreSet::open_id(args[0].parse().unwrap()).unwrap();
    let g = set.lock(0).unwrap();
    std::mem::forget(g);
    child::ready_and_wait();
}

#[test]
fn four_processes_count_exactly_under_a_sysv_semaphore() {
    let name = format!("/{}", unique("ipcx-it-sysv-count"));
    let seg = Segment::builder(&name).size(4096).create().unwrap();
    let _cleanup = UnlinkShm(name.clone());
    let set = private_set(&[1]);
    let id = set.id().to_string();
    child::run_counters("sysv-count", &[&name, &id]);
    let total: u64 = ipcx::shm::SharedMemory::read_value(&seg, 0).unwrap();
    assert_eq!(total, child::PROCESSES * child::INCREMENTS);
}

pub fn count_child(args: &[String]) {
    let seg = Segment::builder(&args[0]).open().unwrap();
    let set = SemaphoreSet::open_id(args[1].parse().unwrap()).unwrap();
    for _ in 0..child::INCREMENTS {
        let _g = set.lock(0).unwrap();
        child::increment(&seg);
    }
}

#[test]
fn signals_neither_cut_a_timed_wait_short_nor_break_a_blocking_one() {
    crate::signals::install_noop_handler();
    let set = private_set(&[0]);
    let id = set.id();
    // A timed wait under a hail of signals still ends in TimedOut (EINTR is
    // retried against the same deadline).
    let (res, took) = crate::signals::while_signalled(move || {
        let s = SemaphoreSet::open_id(id).unwrap();
        s.op_timeout(&[SemOp::wait(0)], Duration::from_millis(300))
    });
    assert!(matches!(res, Err(Error::TimedOut { .. })), "{res:?}");
    // Not cut short by the signals (a lower bound only).
    assert!(
        took >= Duration::from_millis(300),
        "returned after {took:?}"
    );
    // A blocking wait survives signals and completes when posted.
    let waiter = std::thread::spawn(move || {
        let s = SemaphoreSet::open_id(id).unwrap();
        s.op_timeout(&[SemOp::wait(0)], Duration::from_secs(30))
    });
    crate::signals::pester(&waiter, Duration::from_millis(100));
    set.post(0).unwrap();
    assert!(waiter.join().unwrap().is_ok());
}

#[test]
fn a_set_removed_with_ipcrm_is_removed_for_its_users() {
    let set = private_set(&[1]);
    let out = std::process::Command::new("ipcrm")
        .args(["-s", &set.id().to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(matches!(set.get(0), Err(Error::Removed { .. })));
    assert!(matches!(set.wait(0), Err(Error::Removed { .. })));
}

#[test]
fn operation_lists_are_checked_against_semopm_and_long_lists_work() {
    let set = private_set(&[0; 12]);
    // Twelve operations in one atomic call.
    let ops: Vec<SemOp> = (0..12).map(SemOp::post).collect();
    set.op(&ops).unwrap();
    assert_eq!(set.get_all().unwrap(), vec![1; 12]);
    let [_, _, semopm, _] = ipcx::limits::read_sem().unwrap();
    let too_many = vec![SemOp::wait_zero(0); semopm as usize + 1];
    let err = set.op(&too_many).unwrap_err();
    assert!(matches!(err, Error::LimitExceeded { .. }), "{err}");
    assert!(err.to_string().contains("/proc/sys/kernel/sem"), "{err}");
    assert!(matches!(set.op(&[]), Err(Error::InvalidArgument { .. })));
}
