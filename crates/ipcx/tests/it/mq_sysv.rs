//! System V message queues: selectors, limits, timeouts, removal, `ipcs`/`ipcrm`
//! interop, and 100,000 messages between two processes.

use std::process::Command;
use std::time::{Duration, Instant};

use ipcx::key::Key;
use ipcx::mq::sysv::{MessageQueue, MsgBuf, TypeSelector};
use ipcx::mq::CreationMode;
use ipcx::Error;

use crate::mq_common::{expected_body, pool, ChildGuard, Signaller, Watchdog, N_MESSAGES};

/// A fresh key from a file in a private temp dir (kept alive with the key).
fn fresh_key() -> (tempfile::TempDir, Key) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keyfile");
    std::fs::write(&file, b"").unwrap();
    let key = Key::from_path(&file, 77).unwrap();
    (dir, key)
}

fn msgmax() -> usize {
    ipcx::limits::MSGMAX.read().unwrap() as usize
}

#[test]
fn selectors_pick_any_exact_and_lowest_type() {
    let q = MessageQueue::builder(Key::PRIVATE).create().unwrap();
    q.send(3, b"three").unwrap();
    q.send(2, b"two").unwrap();
    q.send(5, b"five").unwrap();
    q.send(1, b"one").unwrap();
    let mut buf = [0u8; 16];
    let m = q.recv(TypeSelector::Exactly(5), &mut buf).unwrap();
    assert_eq!((&buf[..m.len], m.mtype), (&b"five"[..], 5));
    let m = q.recv(TypeSelector::LowestUpTo(3), &mut buf).unwrap();
    assert_eq!((&buf[..m.len], m.mtype), (&b"one"[..], 1));
    let m = q.recv(TypeSelector::Any, &mut buf).unwrap();
    assert_eq!((&buf[..m.len], m.mtype), (&b"three"[..], 3));
    let (v, t) = q.recv_vec(TypeSelector::Any, None).unwrap();
    assert_eq!((v.as_slice(), t), (&b"two"[..], 2));
    assert!(matches!(
        q.try_recv(TypeSelector::Any, &mut buf),
        Err(Error::Empty { .. })
    ));
}

#[test]
fn creation_modes_and_ownership() {
    let (_dir, key) = fresh_key();
    assert!(matches!(
        MessageQueue::builder(key).open(),
        Err(Error::NotFound { .. })
    ));
    let creator = MessageQueue::builder(key).create().unwrap();
    assert!(creator.is_owner());
    assert!(matches!(
        MessageQueue::builder(key).create(),
        Err(Error::AlreadyExists { .. })
    ));
    let opener = MessageQueue::builder(key)
        .build(CreationMode::OpenOrCreate)
        .unwrap();
    assert!(!opener.is_owner());
    assert_eq!(opener.id(), creator.id());
    drop(opener);
    // The opener's drop left the queue in place.
    creator.send(1, b"still here").unwrap();
    let id = creator.id();
    drop(creator);
    // The creator's drop removed it.
    assert!(matches!(
        MessageQueue::builder(key).open(),
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        MessageQueue::open_id(id),
        Err(Error::Removed { .. })
    ));
}

#[test]
fn keep_leaves_the_queue_and_remove_removes_it() {
    let (_dir, key) = fresh_key();
    let mut q = MessageQueue::builder(key).create().unwrap();
    q.keep();
    drop(q);
    let q = MessageQueue::builder(key).open().unwrap();
    assert!(!q.is_owner());
    q.remove().unwrap();
    assert!(matches!(
        MessageQueue::builder(key).open(),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn ftok_on_a_missing_file_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("progfile");
    let err = Key::from_path(&missing, 65).unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains(missing.to_str().unwrap()), "{err}");
}

#[test]
fn type_zero_and_negative_types_are_refused_before_sending() {
    let q = MessageQueue::builder(Key::PRIVATE).create().unwrap();
    for t in [0, -3] {
        let err = q.send(t, b"x").unwrap_err();
        assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
        assert!(err.to_string().contains("1 or more"), "{err}");
    }
    let mut buf = [0u8; 4];
    assert!(matches!(
        q.try_recv(TypeSelector::Exactly(0), &mut buf),
        Err(Error::InvalidArgument { .. })
    ));
    assert_eq!(q.stat().unwrap().messages, 0);
}

#[test]
fn message_over_msgmax_names_the_limit() {
    let q = MessageQueue::builder(Key::PRIVATE).create().unwrap();
    let max = msgmax();
    let err = q.send(1, &vec![0u8; max + 1]).unwrap_err();
    match &err {
        Error::MessageTooLarge {
            len,
            max: m,
            limit_source,
            ..
        } => {
            assert_eq!((*len, *m), (max + 1, max));
            assert!(limit_source.contains("/proc/sys/kernel/msgmax"));
        }
        other => panic!("{other:?}"),
    }
    // Exactly msgmax is fine.
    q.send(1, &vec![7u8; max]).unwrap();
}

#[test]
fn message_larger_than_the_queue_is_refused_not_waited_for() {
    let q = MessageQueue::builder(Key::PRIVATE)
        .max_bytes(100)
        .create()
        .unwrap();
    q.send(1, &[1u8; 60]).unwrap();
    let err = q
        .send_timeout(1, &[2u8; 101], Duration::from_secs(5))
        .unwrap_err();
    assert!(
        matches!(&err, Error::MessageTooLarge { max: 100, limit_source, .. } if limit_source.contains("msg_qbytes")),
        "{err:?}"
    );
}

#[test]
fn small_buffer_is_buffer_too_small_and_the_message_stays() {
    let q = MessageQueue::builder(Key::PRIVATE).create().unwrap();
    q.send(1, b"0123456789").unwrap();
    let mut small = [0u8; 4];
    let err = q.try_recv(TypeSelector::Any, &mut small).unwrap_err();
    // MSG_COPY (CONFIG_CHECKPOINT_RESTORE, which also brings msg_next_id)
    // tells the real size; without it the kernel only says "more than the
    // buffer".
    let msg_copy = std::path::Path::new("/proc/sys/kernel/msg_next_id").exists();
    let needed = if msg_copy { 10 } else { 5 };
    assert!(
        matches!(err, Error::BufferTooSmall { capacity: 4, needed: n, .. } if n == needed),
        "{err:?}"
    );
    assert_eq!(q.stat().unwrap().messages, 1);
    let mut buf = [0u8; 10];
    let m = q.recv(TypeSelector::Any, &mut buf).unwrap();
    assert_eq!(&buf[..m.len], b"0123456789");
    // The selector is honoured when sizing.
    if msg_copy {
        q.send(2, b"abcdef").unwrap();
        q.send(1, b"0123456789").unwrap();
        let err = q
            .try_recv(TypeSelector::Exactly(2), &mut small)
            .unwrap_err();
        assert!(
            matches!(err, Error::BufferTooSmall { needed: 6, .. }),
            "{err:?}"
        );
        let err = q
            .try_recv(TypeSelector::LowestUpTo(2), &mut small)
            .unwrap_err();
        assert!(
            matches!(err, Error::BufferTooSmall { needed: 10, .. }),
            "{err:?}"
        );
        q.try_recv(TypeSelector::Exactly(2), &mut buf).unwrap();
        q.try_recv(TypeSelector::Exactly(1), &mut buf).unwrap();
    }
    // With MSG_NOERROR, asked for, the message is cut.
    q.send(1, b"0123456789").unwrap();
    let m = q
        .recv_truncate(TypeSelector::Any, &mut small, None)
        .unwrap();
    assert_eq!(&small[..m.len], b"0123");
    assert_eq!(q.stat().unwrap().messages, 0);
}

#[test]
fn full_queue_is_full_and_nothing_is_lost() {
    let q = MessageQueue::builder(Key::PRIVATE)
        .max_bytes(64)
        .create()
        .unwrap();
    let mut sent = 0u8;
    let err = loop {
        match q.try_send(1, &[sent; 16]) {
            Ok(()) => sent += 1,
            Err(e) => break e,
        }
    };
    assert!(matches!(err, Error::Full { .. }), "{err:?}");
    assert_eq!(sent, 4);
    let err = q
        .send_timeout(1, &[9; 16], Duration::from_millis(30))
        .unwrap_err();
    assert!(matches!(err, Error::TimedOut { .. }), "{err:?}");
    let mut buf = [0u8; 16];
    for i in 0..sent {
        let m = q.try_recv(TypeSelector::Any, &mut buf).unwrap();
        assert_eq!(&buf[..m.len], &[i; 16]);
    }
    assert!(matches!(
        q.try_recv(TypeSelector::Any, &mut buf),
        Err(Error::Empty { .. })
    ));
}

#[test]
fn timeout_with_an_empty_queue_is_timed_out_after_the_timeout() {
    let q = MessageQueue::builder(Key::PRIVATE).create().unwrap();
    let mut buf = [0u8; 8];
    let start = Instant::now();
    let err = q
        .recv_timeout(TypeSelector::Any, &mut buf, Duration::from_millis(80))
        .unwrap_err();
    assert!(start.elapsed() >= Duration::from_millis(80));
    assert!(matches!(err, Error::TimedOut { .. }), "{err:?}");
    assert!(err.to_string().contains("80ms"), "{err}");
}

#[test]
fn timed_receive_gets_a_message_sent_while_it_waits() {
    let q = MessageQueue::builder(Key::PRIVATE).create().unwrap();
    let id = q.id();
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        let q = MessageQueue::open_id(id).unwrap();
        q.send(4, b"late").unwrap();
    });
    let mut buf = [0u8; 8];
    let m = q
        .recv_timeout(TypeSelector::Any, &mut buf, Duration::from_secs(20))
        .unwrap();
    assert_eq!((&buf[..m.len], m.mtype), (&b"late"[..], 4));
    sender.join().unwrap();
}

#[test]
fn removal_wakes_a_blocked_receiver_with_removed() {
    for timed in [false, true] {
        let q = MessageQueue::builder(Key::PRIVATE).create().unwrap();
        // Opened before the thread starts, so that it waits on this queue
        // whether it starts before or after the removal.
        let q2 = MessageQueue::open_id(q.id()).unwrap();
        let receiver = std::thread::spawn(move || {
            let q = q2;
            let mut buf = [0u8; 8];
            if timed {
                q.recv_timeout(TypeSelector::Any, &mut buf, Duration::from_secs(30))
            } else {
                q.recv(TypeSelector::Any, &mut buf)
            }
        });
        // Let the receiver start waiting (it gets Removed either way).
        std::thread::sleep(Duration::from_millis(50));
        q.remove().unwrap();
        let got = crate::mq_common::join_within(receiver, Duration::from_secs(20));
        assert!(
            matches!(got, Err(Error::Removed { .. })),
            "timed={timed}: {got:?}"
        );
    }
}

#[test]
fn blocking_receive_survives_signals() {
    let q = MessageQueue::builder(Key::PRIVATE).create().unwrap();
    let id = q.id();
    let receiver = std::thread::spawn(move || {
        let q = MessageQueue::open_id(id).unwrap();
        let mut buf = [0u8; 8];
        let m = q.recv(TypeSelector::Any, &mut buf)?;
        Ok::<_, Error>(buf[..m.len].to_vec())
    });
    let signaller = Signaller::start(&receiver);
    std::thread::sleep(Duration::from_millis(60));
    assert!(signaller.stop() > 0);
    q.send(1, b"after").unwrap();
    let got = crate::mq_common::join_within(receiver, Duration::from_secs(20)).unwrap();
    assert_eq!(got, b"after");
}

#[test]
fn stat_reports_counts_pids_mode_and_key() {
    let (_dir, key) = fresh_key();
    let q = MessageQueue::builder(key).mode(0o640).create().unwrap();
    let st = q.stat().unwrap();
    assert_eq!((st.messages, st.bytes, st.mode, st.key), (0, 0, 0o640, key));
    assert_eq!(st.last_sender, None);
    assert_eq!(st.max_bytes, ipcx::limits::MSGMNB.read().unwrap());
    q.send(1, b"12345").unwrap();
    q.send(2, b"678").unwrap();
    let st = q.stat().unwrap();
    assert_eq!((st.messages, st.bytes), (2, 8));
    assert_eq!(st.last_sender, Some(std::process::id()));
    assert!(st.last_send.is_some());
    let mut buf = [0u8; 8];
    q.recv(TypeSelector::Any, &mut buf).unwrap();
    assert_eq!(q.stat().unwrap().last_receiver, Some(std::process::id()));
}

#[test]
fn max_bytes_over_msgmnb_follows_the_capability() {
    let q = MessageQueue::builder(Key::PRIVATE).create().unwrap();
    let mnb = ipcx::limits::MSGMNB.read().unwrap();
    q.set_max_bytes(mnb / 2).unwrap();
    assert_eq!(q.stat().unwrap().max_bytes, mnb / 2);
    let result = q.set_max_bytes(mnb + 1);
    if ipcx::mq::has_cap_sys_resource() {
        result.unwrap();
        assert_eq!(q.stat().unwrap().max_bytes, mnb + 1);
    } else {
        let err = result.unwrap_err();
        match &err {
            Error::LimitExceeded {
                requested,
                limit,
                max,
                source_path,
                ..
            } => {
                assert_eq!((*requested, *max), (mnb + 1, mnb));
                assert!(limit.contains("msgmnb"));
                assert_eq!(source_path, "/proc/sys/kernel/msgmnb");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(q.stat().unwrap().max_bytes, mnb / 2);
    }
}

#[test]
fn ipcs_shows_the_queue_and_ipcrm_removes_it() {
    let (_dir, key) = fresh_key();
    let q = MessageQueue::builder(key).create().unwrap();
    let out = Command::new("ipcs").arg("-q").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(&q.id().to_string()))
        .unwrap_or_else(|| panic!("queue {} not in ipcs -q:\n{text}", q.id()));
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(cols[0], key.to_string());
    assert_eq!(cols[3], "600");
    let status = Command::new("ipcrm")
        .args(["-q", &q.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut buf = [0u8; 4];
    assert!(matches!(
        q.try_recv(TypeSelector::Any, &mut buf),
        Err(Error::Removed { .. })
    ));
    // Dropping the creator after ipcrm is harmless.
    drop(q);
}

const CHILD_ENV: &str = "IPCX_TEST_SYSV_CHILD_ID";

/// Not a test on its own: the sending process of
/// `hundred_thousand_messages_between_two_processes`.
#[test]
#[ignore = "run by hundred_thousand_messages_between_two_processes in a child process"]
fn child_sender() {
    let id: i32 = std::env::var(CHILD_ENV).unwrap().parse().unwrap();
    let q = MessageQueue::open_id(id).unwrap();
    let max = q.max_message_size();
    let pool = pool(max);
    // Every other message goes through the no-copy MsgBuf path.
    let mut msg = MsgBuf::with_capacity(max);
    for i in 0..N_MESSAGES {
        let (body, mtype) = expected_body(&pool, i, max);
        if i % 2 == 0 {
            q.send(i64::from(mtype) + 1, body).unwrap();
        } else {
            msg.body_mut()[..body.len()].copy_from_slice(body);
            msg.set_len(body.len()).unwrap();
            msg.set_mtype(i64::from(mtype) + 1);
            q.send_buf(&msg).unwrap();
        }
    }
}

#[test]
fn hundred_thousand_messages_between_two_processes() {
    let q = MessageQueue::builder(Key::PRIVATE).create().unwrap();
    let max = q.max_message_size();
    let pool = pool(max);
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "mq_sysv::child_sender", "--ignored", "--quiet"])
        .env(CHILD_ENV, q.id().to_string())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut child = ChildGuard(child);
    // Blocking receives (the timed form polls); if the sender dies, the
    // watchdog removes the queue and the receive fails with Removed.
    let id = q.id();
    let _watchdog = Watchdog::start(Duration::from_secs(300), move || {
        let _ = MessageQueue::open_id(id).and_then(MessageQueue::remove);
    });
    let mut buf = vec![0u8; max];
    let (mut saw_one, mut saw_max) = (false, false);
    let mut msg = MsgBuf::with_capacity(max);
    for i in 0..N_MESSAGES {
        // Every third message is received through the no-copy MsgBuf path.
        let (body, got_type) = if i % 3 == 0 {
            q.recv_buf(TypeSelector::Any, &mut msg)
                .unwrap_or_else(|e| panic!("message {i}: {e}"));
            (msg.body(), msg.mtype())
        } else {
            let m = q
                .recv(TypeSelector::Any, &mut buf)
                .unwrap_or_else(|e| panic!("message {i}: {e}"));
            (&buf[..m.len], m.mtype)
        };
        let (want, mtype) = expected_body(&pool, i, max);
        assert_eq!(got_type, i64::from(mtype) + 1, "message {i}");
        assert!(body == want, "message {i}: bytes differ");
        saw_one |= body.len() == 1;
        saw_max |= body.len() == max;
    }
    assert!(saw_one && saw_max);
    assert!(child.0.wait().unwrap().success());
    assert_eq!(q.stat().unwrap().messages, 0);
}

/// Builds this crate's examples (the test binary may have been built alone)
/// and returns their directory.
fn examples_dir(names: &[&str]) -> std::path::PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet", "-p", "ipcx"]);
    for n in names {
        cmd.args(["--example", n]);
    }
    assert!(cmd.status().unwrap().success(), "building the examples");
    // target/debug/deps/it-HASH → target/debug/examples
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().join("examples")
}

/// Removes the queue of `key` when dropped, if it is still there.
struct RemoveKey(Key);

impl Drop for RemoveKey {
    fn drop(&mut self) {
        if let Ok(q) = MessageQueue::builder(self.0).open() {
            let _ = q.remove();
        }
    }
}

#[test]
fn rust_examples_interoperate_with_the_seed_c_programs() {
    let examples = examples_dir(&["mq_sender", "mq_receiver"]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("progfile"), b"").unwrap();
    let key = Key::from_path(dir.path().join("progfile"), 65).unwrap();
    let _cleanup = RemoveKey(key);
    let c_sender = crate::util::seed_c(dir.path(), "mq_sender");
    let c_receiver = crate::util::seed_c(dir.path(), "mq_receiver");
    let run = |prog: &std::path::Path| {
        let out = Command::new(prog).current_dir(dir.path()).output().unwrap();
        assert!(out.status.success(), "{}: {out:?}", prog.display());
        String::from_utf8(out.stdout).unwrap()
    };
    // C sender, Rust receiver.
    assert_eq!(run(&c_sender), "Message Sent!\n");
    assert_eq!(
        run(&examples.join("mq_receiver")),
        "Received: Hello Message Queue!\n"
    );
    assert!(matches!(
        MessageQueue::builder(key).open(),
        Err(Error::NotFound { .. })
    ));
    // Rust sender, C receiver.
    assert_eq!(run(&examples.join("mq_sender")), "Message Sent!\n");
    assert_eq!(run(&c_receiver), "Received: Hello Message Queue!\n");
    assert!(matches!(
        MessageQueue::builder(key).open(),
        Err(Error::NotFound { .. })
    ));
    // Without progfile the Rust programs name it instead of using key -1.
    let empty = tempfile::tempdir().unwrap();
    let out = Command::new(examples.join("mq_sender"))
        .current_dir(empty.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("progfile"));
}

#[test]
fn msgbuf_round_trips_and_is_checked() {
    let q = MessageQueue::builder(Key::PRIVATE).create().unwrap();
    let mut out = MsgBuf::with_capacity(8);
    assert!(matches!(out.set_len(9), Err(Error::InvalidArgument { .. })));
    out.body_mut().copy_from_slice(b"abcdefgh");
    out.set_len(8).unwrap();
    out.set_mtype(0);
    assert!(matches!(
        q.try_send_buf(&out),
        Err(Error::InvalidArgument { .. })
    ));
    out.set_mtype(6);
    q.try_send_buf(&out).unwrap();
    let mut small = MsgBuf::with_capacity(7);
    let err = q.try_recv_buf(TypeSelector::Any, &mut small).unwrap_err();
    assert!(
        matches!(err, Error::BufferTooSmall { capacity: 7, .. }),
        "{err:?}"
    );
    let mut got = MsgBuf::with_capacity(8);
    q.recv_buf_timeout(TypeSelector::Exactly(6), &mut got, Duration::from_secs(10))
        .unwrap();
    assert_eq!(
        (got.body(), got.mtype(), got.len()),
        (&b"abcdefgh"[..], 6, 8)
    );
    assert!(matches!(
        q.try_recv_buf(TypeSelector::Any, &mut got),
        Err(Error::Empty { .. })
    ));
}
