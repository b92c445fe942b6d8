//! POSIX message queues: priorities, names, limits (msg_max, msgsize_max,
//! RLIMIT_MSGQUEUE), timeouts, polling, and 100,000 messages between two
//! processes.

use std::os::fd::AsFd;
use std::process::Command;
use std::time::{Duration, Instant};

use ipcx::deadline::{poll_fd, Deadline};
use ipcx::mq::posix::{queue_charge, MessageQueue, HARD_MSGMAX, HARD_MSGSIZEMAX};
use ipcx::mq::{has_cap_sys_resource, CreationMode};
use ipcx::Error;
use rustix::event::PollFlags;

use crate::mq_common::{expected_body, pool, wait_finished, ChildGuard, Signaller, N_MESSAGES};
use crate::util::unique;

fn name(prefix: &str) -> String {
    format!("/{}", unique(prefix))
}

fn exists(name: &str) -> bool {
    std::path::Path::new("/dev/mqueue")
        .join(&name[1..])
        .exists()
}

#[test]
fn priorities_one_five_three_come_out_five_three_one() {
    let q = MessageQueue::builder(name("ipcx-prio"))
        .capacity(4)
        .msgsize(16)
        .create()
        .unwrap();
    for (text, prio) in [
        (&b"one"[..], 1),
        (b"five", 5),
        (b"three", 3),
        (b"five-b", 5),
    ] {
        q.send(text, prio).unwrap();
    }
    let mut buf = [0u8; 16];
    let mut got = Vec::new();
    for _ in 0..4 {
        let (len, prio) = q.recv(&mut buf).unwrap();
        got.push((String::from_utf8(buf[..len].to_vec()).unwrap(), prio));
    }
    let want = [("five", 5), ("five-b", 5), ("three", 3), ("one", 1)];
    assert_eq!(
        got,
        want.map(|(t, p)| (t.to_owned(), p)).to_vec(),
        "highest priority first, FIFO within one"
    );
}

#[test]
fn attributes_report_capacity_size_and_count() {
    let q = MessageQueue::builder(name("ipcx-attr"))
        .capacity(3)
        .msgsize(100)
        .create()
        .unwrap();
    q.send(b"x", 0).unwrap();
    let a = q.attributes().unwrap();
    assert_eq!((a.capacity, a.msgsize, a.messages), (3, 100, 1));
    assert!(!a.nonblocking);
    assert_eq!((q.capacity(), q.msgsize()), (3, 100));
}

#[test]
fn bad_names_are_refused_before_any_syscall() {
    let too_long = format!("/{}", "n".repeat(256));
    for bad in ["noslash", "/two/slashes", too_long.as_str(), "/"] {
        let err = MessageQueue::builder(bad).create().unwrap_err();
        assert!(matches!(err, Error::InvalidName { .. }), "{bad}: {err:?}");
    }
}

#[test]
fn creator_unlinks_on_drop_and_openers_do_not() {
    let n = name("ipcx-own");
    assert!(matches!(
        MessageQueue::builder(&n).open(),
        Err(Error::NotFound { .. })
    ));
    let creator = MessageQueue::builder(&n).create().unwrap();
    assert!(exists(&n));
    assert!(matches!(
        MessageQueue::builder(&n).create(),
        Err(Error::AlreadyExists { .. })
    ));
    let opener = MessageQueue::builder(&n)
        .build(CreationMode::OpenOrCreate)
        .unwrap();
    assert!(!opener.is_owner() && creator.is_owner());
    drop(opener);
    assert!(exists(&n));
    drop(creator);
    assert!(!exists(&n));

    let mut kept = MessageQueue::builder(&n).create().unwrap();
    kept.keep();
    drop(kept);
    assert!(exists(&n));
    MessageQueue::builder(&n).open().unwrap().unlink().unwrap();
    assert!(!exists(&n));
}

#[test]
fn mode_defaults_to_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let n = name("ipcx-mode");
    let _q = MessageQueue::builder(&n).create().unwrap();
    let meta = std::fs::metadata(format!("/dev/mqueue/{}", &n[1..])).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
}

#[test]
fn capacity_and_size_limits_follow_the_callers_privilege() {
    let msg_max = ipcx::limits::MQ_MSG_MAX.read().unwrap();
    let size_max = ipcx::limits::MQ_MSGSIZE_MAX.read().unwrap();
    let over_cap = MessageQueue::builder(name("ipcx-cap"))
        .capacity(msg_max + 1)
        .msgsize(8)
        .create();
    let over_size = MessageQueue::builder(name("ipcx-size"))
        .capacity(1)
        .msgsize(size_max + 1)
        .create();
    let limit_of = |r: Result<MessageQueue, Error>| match r {
        Err(Error::LimitExceeded {
            limit,
            max,
            source_path,
            requested,
            ..
        }) => (limit, max, source_path, requested),
        other => panic!("{other:?}"),
    };
    if has_cap_sys_resource() {
        // CAP_SYS_RESOURCE lifts the /proc limits up to the kernel's hard ones.
        over_cap.unwrap();
        over_size.unwrap();
        let (limit, max, _, _) = limit_of(
            MessageQueue::builder(name("ipcx-hard"))
                .capacity(HARD_MSGMAX + 1)
                .msgsize(1)
                .create(),
        );
        assert_eq!((limit.as_str(), max), ("HARD_MSGMAX", HARD_MSGMAX));
        let (limit, max, _, _) = limit_of(
            MessageQueue::builder(name("ipcx-hard"))
                .capacity(1)
                .msgsize(HARD_MSGSIZEMAX + 1)
                .create(),
        );
        assert_eq!((limit.as_str(), max), ("HARD_MSGSIZEMAX", HARD_MSGSIZEMAX));
    } else {
        let (limit, max, source, requested) = limit_of(over_cap);
        assert_eq!(
            (limit.as_str(), max, requested),
            ("msg_max", msg_max, msg_max + 1)
        );
        assert_eq!(source, "/proc/sys/fs/mqueue/msg_max");
        let (limit, max, source, _) = limit_of(over_size);
        assert_eq!((limit.as_str(), max), ("msgsize_max", size_max));
        assert_eq!(source, "/proc/sys/fs/mqueue/msgsize_max");
    }
    // Zero is never a valid capacity or size.
    assert!(matches!(
        MessageQueue::builder(name("ipcx-zero"))
            .capacity(0)
            .create(),
        Err(Error::InvalidArgument { .. })
    ));
}

const RLIMIT_ENV: &str = "IPCX_TEST_MQ_RLIMIT_CHILD";

/// Not a test on its own: runs in a child process of
/// `rlimit_msgqueue_is_named_not_emfile` with RLIMIT_MSGQUEUE lowered.
#[test]
#[ignore = "run by rlimit_msgqueue_is_named_not_emfile in a child process"]
fn child_rlimit() {
    let prefix = std::env::var(RLIMIT_ENV).unwrap();
    let one = queue_charge(4, 1024);
    // Room for one such queue of this user, not two.
    let limit = one + one / 2;
    rustix::process::setrlimit(
        rustix::process::Resource::Msgqueue,
        rustix::process::Rlimit {
            current: Some(limit),
            maximum: Some(limit),
        },
    )
    .unwrap();
    // A queue whose charge alone is over the limit: refused before mq_open.
    let err = MessageQueue::builder(format!("{prefix}-big"))
        .capacity(8)
        .msgsize(1024)
        .create()
        .unwrap_err();
    assert_rlimit(&err, limit);
    // Two queues that fit alone but not together: the kernel's EMFILE is
    // reported as the quota (other root queues of parallel tests may already
    // take the room of the first one; then it is the first that fails).
    let first = MessageQueue::builder(format!("{prefix}-a"))
        .capacity(4)
        .msgsize(1024)
        .create();
    let second = MessageQueue::builder(format!("{prefix}-b"))
        .capacity(4)
        .msgsize(1024)
        .create();
    let err = match (first, second) {
        (Ok(_a), Ok(_b)) => panic!("two queues of {one} bytes fit under {limit}"),
        (Err(e), _) | (Ok(_), Err(e)) => e,
    };
    assert_rlimit(&err, limit);
    println!("child-ok");
}

fn assert_rlimit(err: &Error, limit: u64) {
    match err {
        Error::LimitExceeded {
            limit: name, max, ..
        } => {
            assert_eq!((name.as_str(), *max), ("RLIMIT_MSGQUEUE", limit), "{err}");
        }
        other => panic!("expected RLIMIT_MSGQUEUE, got {other:?}"),
    }
}

#[test]
fn rlimit_msgqueue_is_named_not_emfile() {
    let prefix = name("ipcx-rlim");
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "mq_posix::child_rlimit",
            "--ignored",
            "--nocapture",
        ])
        .env(RLIMIT_ENV, &prefix)
        .output()
        .unwrap();
    for suffix in ["-big", "-a", "-b"] {
        let _ = MessageQueue::unlink_name(&format!("{prefix}{suffix}"));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("child-ok"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn small_receive_buffer_is_refused_before_the_call() {
    let q = MessageQueue::builder(name("ipcx-small"))
        .capacity(2)
        .msgsize(64)
        .create()
        .unwrap();
    q.send(b"hello", 0).unwrap();
    let mut small = [0u8; 63];
    let err = q.try_recv(&mut small).unwrap_err();
    assert!(
        matches!(
            err,
            Error::BufferTooSmall {
                needed: 64,
                capacity: 63,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(q.attributes().unwrap().messages, 1);
    let err = q.send(&[0u8; 65], 0).unwrap_err();
    assert!(
        matches!(&err, Error::MessageTooLarge { len: 65, max: 64, limit_source, .. } if limit_source.contains("mq_msgsize")),
        "{err:?}"
    );
    assert!(matches!(
        q.send(b"x", 32_768),
        Err(Error::InvalidArgument { .. })
    ));
}

#[test]
fn full_is_full_empty_is_empty_and_nothing_is_lost() {
    let q = MessageQueue::builder(name("ipcx-full"))
        .capacity(3)
        .msgsize(8)
        .create()
        .unwrap();
    for i in 0..3u8 {
        q.try_send(&[i; 8], 0).unwrap();
    }
    assert!(matches!(q.try_send(b"more", 0), Err(Error::Full { .. })));
    let err = q
        .send_timeout(b"more", 0, Duration::from_millis(30))
        .unwrap_err();
    assert!(matches!(err, Error::TimedOut { .. }), "{err:?}");
    let mut buf = [0u8; 8];
    for i in 0..3u8 {
        let (len, _) = q.try_recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], &[i; 8]);
    }
    assert!(matches!(q.try_recv(&mut buf), Err(Error::Empty { .. })));
}

#[test]
fn timeout_with_an_empty_queue_is_timed_out_even_under_signals() {
    let n = name("ipcx-timeout");
    let _q = MessageQueue::builder(&n)
        .capacity(1)
        .msgsize(8)
        .create()
        .unwrap();
    let n2 = n.clone();
    let receiver = std::thread::spawn(move || {
        let q = MessageQueue::builder(&n2).open().unwrap();
        let mut buf = [0u8; 8];
        let start = Instant::now();
        let r = q.recv_timeout(&mut buf, Duration::from_millis(150));
        (r, start.elapsed())
    });
    // EINTR neither ends the wait early nor turns into an error.
    let signaller = Signaller::start(&receiver);
    wait_finished(&receiver, Duration::from_secs(20));
    assert!(signaller.stop() > 0);
    let (r, elapsed) = receiver.join().unwrap();
    let err = r.unwrap_err();
    assert!(matches!(err, Error::TimedOut { .. }), "{err:?}");
    assert!(elapsed >= Duration::from_millis(150), "{elapsed:?}");
}

#[test]
fn descriptor_polls_readable_when_a_message_is_queued() {
    let q = MessageQueue::builder(name("ipcx-poll"))
        .capacity(1)
        .msgsize(8)
        .create()
        .unwrap();
    let none = poll_fd(q.as_fd(), PollFlags::IN, Deadline::now()).unwrap();
    assert_eq!(none, None);
    let out = poll_fd(q.as_fd(), PollFlags::OUT, Deadline::now()).unwrap();
    assert!(out.unwrap().contains(PollFlags::OUT));
    q.send(b"x", 0).unwrap();
    let ready = poll_fd(q.as_fd(), PollFlags::IN, Deadline::NEVER).unwrap();
    assert!(ready.unwrap().contains(PollFlags::IN));
    let flags = rustix::io::fcntl_getfd(q.as_fd()).unwrap();
    assert!(flags.contains(rustix::io::FdFlags::CLOEXEC));
}

const CHILD_ENV: &str = "IPCX_TEST_MQ_POSIX_CHILD";

/// Not a test on its own: the sending process of
/// `hundred_thousand_messages_between_two_processes`.
#[test]
#[ignore = "run by hundred_thousand_messages_between_two_processes in a child process"]
fn child_sender() {
    let n = std::env::var(CHILD_ENV).unwrap();
    let q = MessageQueue::builder(&n).open().unwrap();
    let max = q.msgsize();
    let pool = pool(max);
    for i in 0..N_MESSAGES {
        let (body, prio) = expected_body(&pool, i, max);
        q.send_timeout(body, prio, Duration::from_secs(60)).unwrap();
    }
}

#[test]
fn hundred_thousand_messages_between_two_processes() {
    let n = name("ipcx-100k");
    let max = ipcx::limits::MQ_MSGSIZE_MAX.read().unwrap().min(8192) as usize;
    let cap = ipcx::limits::MQ_MSG_MAX.read().unwrap().min(10);
    let q = MessageQueue::builder(&n)
        .capacity(cap)
        .msgsize(max as u64)
        .create()
        .unwrap();
    let pool = pool(max);
    // The messages of each priority, in sending order.
    let mut by_prio: [Vec<usize>; 4] = Default::default();
    for i in 0..N_MESSAGES {
        by_prio[expected_body(&pool, i, max).1 as usize].push(i);
    }
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "mq_posix::child_sender", "--ignored", "--quiet"])
        .env(CHILD_ENV, &n)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut child = ChildGuard(child);
    let mut next = [0usize; 4];
    let mut buf = vec![0u8; max];
    let (mut saw_one, mut saw_max) = (false, false);
    for k in 0..N_MESSAGES {
        let (len, prio) = q
            .recv_timeout(&mut buf, Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("message {k}: {e}"));
        let p = prio as usize;
        let i = by_prio[p][next[p]];
        next[p] += 1;
        let (want, _) = expected_body(&pool, i, max);
        assert!(
            &buf[..len] == want,
            "message {i} (priority {prio}) differs or arrived out of order"
        );
        saw_one |= len == 1;
        saw_max |= len == max;
    }
    assert!(saw_one && saw_max);
    assert!(child.0.wait().unwrap().success());
    assert_eq!(q.attributes().unwrap().messages, 0);
}
