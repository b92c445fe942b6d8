//! The channel conformance suite: written once, generic over the transport
//! ([`Transport`]), and instantiated for every endpoint kind with a channel
//! flavor by [`conformance!`].

use std::any::Any;
use std::time::{Duration, Instant};

use ipcx::channel::{
    self, Receiver, RecvError, RecvTimeoutError, SendError, SendTimeoutError, Sender, TryRecvError,
    TrySendError,
};
use ipcx::{Endpoint, Error};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::util::unique;

/// A message with fixed and variable-size parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Msg {
    seq: u64,
    text: String,
    blob: Vec<u8>,
}

fn msg(seq: u64) -> Msg {
    Msg {
        seq,
        text: format!("message {seq}"),
        blob: vec![seq as u8; (seq % 50) as usize],
    }
}

/// One endpoint kind under test.
pub trait Transport {
    /// Whether a sender learns that the receiver is gone (POSIX queues
    /// cannot tell; see the channel module's flavor list).
    const SENDER_SEES_DISCONNECT: bool = true;
    /// A connected pair, and a guard that removes what the endpoint made.
    fn pair<T: Serialize + DeserializeOwned>() -> (Sender<T>, Receiver<T>, Box<dyn Any>);
}

/// Opens the receiver, then the sender, of an endpoint.
fn open_pair<T: Serialize + DeserializeOwned>(ep: &str) -> (Sender<T>, Receiver<T>) {
    let ep: Endpoint = ep.parse().unwrap();
    let rx = Receiver::open(&ep).unwrap();
    let tx = Sender::open(&ep).unwrap();
    (tx, rx)
}

/// An anonymous pipe ([`channel::pipe`]).
pub struct Pipe;

impl Transport for Pipe {
    fn pair<T: Serialize + DeserializeOwned>() -> (Sender<T>, Receiver<T>, Box<dyn Any>) {
        let (tx, rx) = channel::pipe().unwrap();
        (tx, rx, Box::new(()))
    }
}

/// `fifo:PATH` in a temporary directory.
pub struct FifoPath;

impl Transport for FifoPath {
    fn pair<T: Serialize + DeserializeOwned>() -> (Sender<T>, Receiver<T>, Box<dyn Any>) {
        let dir = tempfile::tempdir().unwrap();
        let (tx, rx) = open_pair(&format!("fifo:{}", dir.path().join("chan").display()));
        (tx, rx, Box::new(dir))
    }
}

struct MqGuard(String);
impl Drop for MqGuard {
    fn drop(&mut self) {
        let _ = ipcx::mq::posix::MessageQueue::unlink_name(&self.0);
    }
}

/// `mq:/NAME`.
pub struct PosixMq;

impl Transport for PosixMq {
    const SENDER_SEES_DISCONNECT: bool = false;
    fn pair<T: Serialize + DeserializeOwned>() -> (Sender<T>, Receiver<T>, Box<dyn Any>) {
        let name = format!("/{}", unique("ipcx-chan-mq"));
        let guard = MqGuard(name.clone());
        let (tx, rx) = open_pair(&format!("mq:{name}?capacity=8&msgsize=512"));
        (tx, rx, Box::new(guard))
    }
}

struct SysvGuard(i32);
impl Drop for SysvGuard {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ipcrm")
            .args(["-Q", &self.0.to_string()])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// `sysvmq:KEY`.
pub struct SysvMq;

impl Transport for SysvMq {
    fn pair<T: Serialize + DeserializeOwned>() -> (Sender<T>, Receiver<T>, Box<dyn Any>) {
        use std::sync::atomic::{AtomicI32, Ordering};
        static N: AtomicI32 = AtomicI32::new(0);
        let key = 0x3a00_0000
            | ((std::process::id() as i32 & 0xffff) << 8)
            | N.fetch_add(1, Ordering::Relaxed);
        let guard = SysvGuard(key);
        let (tx, rx) = open_pair(&format!("sysvmq:{key}"));
        (tx, rx, Box::new(guard))
    }
}

/// `unix-seqpacket:@NAME`.
pub struct SeqPacket;

impl Transport for SeqPacket {
    fn pair<T: Serialize + DeserializeOwned>() -> (Sender<T>, Receiver<T>, Box<dyn Any>) {
        let (tx, rx) = open_pair(&format!("unix-seqpacket:@{}", unique("ipcx-chan-seq")));
        (tx, rx, Box::new(()))
    }
}

/// `unix-dgram:PATH` in a temporary directory (the receiver binds first).
pub struct UnixDgram;

impl Transport for UnixDgram {
    fn pair<T: Serialize + DeserializeOwned>() -> (Sender<T>, Receiver<T>, Box<dyn Any>) {
        let dir = tempfile::tempdir().unwrap();
        let (tx, rx) = open_pair(&format!(
            "unix-dgram:{}",
            dir.path().join("d.sock").display()
        ));
        (tx, rx, Box::new(dir))
    }
}

/// `unix:PATH` in a temporary directory.
pub struct UnixStream;

impl Transport for UnixStream {
    fn pair<T: Serialize + DeserializeOwned>() -> (Sender<T>, Receiver<T>, Box<dyn Any>) {
        let dir = tempfile::tempdir().unwrap();
        let (tx, rx) = open_pair(&format!("unix:{}", dir.path().join("s.sock").display()));
        (tx, rx, Box::new(dir))
    }
}

/// `tcp:127.0.0.1:PORT` on a port free a moment before.
pub struct Tcp;

impl Transport for Tcp {
    fn pair<T: Serialize + DeserializeOwned>() -> (Sender<T>, Receiver<T>, Box<dyn Any>) {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let (tx, rx) = open_pair(&format!("tcp:127.0.0.1:{port}"));
        (tx, rx, Box::new(()))
    }
}

/// `shm:/NAME` through the endpoint grammar: the receiver creates the ring.
pub struct ShmRing;

struct ShmGuard(String);
impl Drop for ShmGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(format!("/dev/shm{}", self.0));
    }
}

impl Transport for ShmRing {
    fn pair<T: Serialize + DeserializeOwned>() -> (Sender<T>, Receiver<T>, Box<dyn Any>) {
        let name = format!("/{}", unique("ipcx-chan-ring"));
        let guard = ShmGuard(name.clone());
        let ep: Endpoint = format!("shm:{name}?capacity=4096&wait=adaptive")
            .parse()
            .unwrap();
        let rx = Receiver::open(&ep).unwrap();
        let tx = Sender::open(&ep).unwrap();
        (tx, rx, Box::new(guard))
    }
}

/// An anonymous memfd ring ([`channel::ring`]).
pub struct MemfdRing;

impl Transport for MemfdRing {
    fn pair<T: Serialize + DeserializeOwned>() -> (Sender<T>, Receiver<T>, Box<dyn Any>) {
        let (tx, rx) = channel::ring(4096).unwrap();
        (tx, rx, Box::new(()))
    }
}

const WATCHDOG: Duration = Duration::from_secs(30);

pub fn messages_arrive_intact_and_in_order<X: Transport>() {
    let (mut tx, mut rx, _g) = X::pair::<Msg>();
    for seq in 0..20 {
        tx.send(msg(seq)).unwrap();
        assert_eq!(rx.recv_timeout(WATCHDOG).unwrap(), msg(seq));
    }
}

pub fn blocking_transfer_between_threads<X: Transport>() {
    let (mut tx, mut rx, _g) = X::pair::<Msg>();
    let n = 5_000;
    let t = std::thread::spawn(move || {
        for seq in 0..n {
            tx.send(msg(seq)).unwrap();
        }
    });
    for seq in 0..n {
        assert_eq!(rx.recv_timeout(WATCHDOG).unwrap(), msg(seq));
    }
    t.join().unwrap();
}

pub fn empty_channel_reports_empty_and_times_out<X: Transport>() {
    let (_tx, mut rx, _g) = X::pair::<Msg>();
    assert!(matches!(rx.try_recv(), Err(TryRecvError::Empty)));
    assert!(matches!(
        rx.recv_timeout(Duration::from_millis(20)),
        Err(RecvTimeoutError::Timeout)
    ));
}

/// A message whose encoding has the same size whatever `seq` is.
fn fixed(seq: u64) -> Msg {
    let mut blob = vec![0u8; 40];
    blob[..8].copy_from_slice(&seq.to_le_bytes());
    Msg {
        seq: 0,
        text: String::new(),
        blob,
    }
}

/// Fills the channel until `try_send` reports Full; returns how many fit.
fn fill(tx: &mut Sender<Msg>) -> u64 {
    let started = Instant::now();
    for seq in 0.. {
        match tx.try_send(fixed(seq)) {
            Ok(()) => {}
            Err(TrySendError::Full(back)) => {
                assert_eq!(back, fixed(seq), "the message comes back");
                return seq;
            }
            Err(e) => panic!("filling: {e}"),
        }
        assert!(
            started.elapsed() < WATCHDOG,
            "a bounded channel never filled"
        );
    }
    unreachable!()
}

pub fn full_channel_hands_the_message_back<X: Transport>() {
    let (mut tx, mut rx, _g) = X::pair::<Msg>();
    let n = fill(&mut tx);
    assert!(n > 0);
    match tx.send_timeout(fixed(n), Duration::from_millis(20)) {
        Err(SendTimeoutError::Timeout(back)) => assert_eq!(back, fixed(n)),
        other => panic!("expected a timeout, got {other:?}"),
    }
    // A receiver draining makes room again; nothing was lost or duplicated.
    let drain = std::thread::spawn(move || {
        for seq in 0..=n {
            assert_eq!(rx.recv_timeout(WATCHDOG).unwrap(), fixed(seq));
        }
        rx
    });
    tx.send_timeout(fixed(n), WATCHDOG).unwrap();
    let _rx = drain.join().unwrap();
}

pub fn receiver_sees_disconnected_after_draining<X: Transport>() {
    let (mut tx, mut rx, _g) = X::pair::<Msg>();
    for seq in 0..3 {
        tx.send(msg(seq)).unwrap();
    }
    drop(tx);
    for seq in 0..3 {
        assert_eq!(rx.recv_timeout(WATCHDOG).unwrap(), msg(seq));
    }
    assert!(matches!(rx.recv(), Err(RecvError::Disconnected)));
    assert!(matches!(rx.try_recv(), Err(TryRecvError::Disconnected)));
}

pub fn sender_sees_disconnected_and_gets_the_message_back<X: Transport>() {
    if !X::SENDER_SEES_DISCONNECT {
        return;
    }
    let (mut tx, mut rx, _g) = X::pair::<Msg>();
    // Connection-oriented receivers accept on first use.
    let _ = rx.try_recv();
    drop(rx);
    match tx.send(msg(1)) {
        Err(SendError::Disconnected(back)) => assert_eq!(back, msg(1)),
        other => panic!("expected Disconnected, got {other:?}"),
    }
    assert!(tx.try_send(msg(2)).unwrap_err().is_disconnected());
}

pub fn oversized_message_is_refused_naming_the_limit<X: Transport>() {
    let (mut tx, _rx, _g) = X::pair::<Vec<u8>>();
    let big = vec![1u8; tx.max_message_len() + 1];
    match tx.send(big.clone()) {
        Err(SendError::Other(back, Error::MessageTooLarge { max, .. })) => {
            assert_eq!(back, big);
            assert_eq!(max, tx.max_message_len());
        }
        other => panic!("expected MessageTooLarge, got {other:?}"),
    }
}

pub fn errors_convert_into_ipcx_errors<X: Transport>() {
    let (mut tx, mut rx, _g) = X::pair::<Msg>();
    let e: Error = rx.try_recv().unwrap_err().into();
    assert!(matches!(e, Error::Empty { .. }));
    let n = fill(&mut tx);
    let e: Error = tx.try_send(fixed(n)).unwrap_err().into();
    assert!(matches!(e, Error::Full { .. }));
}

pub fn a_message_encoding_to_nothing_travels<X: Transport>() {
    let (mut tx, mut rx, _g) = X::pair::<()>();
    tx.send(()).unwrap();
    rx.recv_timeout(WATCHDOG).unwrap();
}

macro_rules! conformance {
    ($module:ident, $transport:ty) => {
        mod $module {
            use super::*;
            #[test]
            fn messages_arrive_intact_and_in_order() {
                super::messages_arrive_intact_and_in_order::<$transport>();
            }
            #[test]
            fn blocking_transfer_between_threads() {
                super::blocking_transfer_between_threads::<$transport>();
            }
            #[test]
            fn empty_channel_reports_empty_and_times_out() {
                super::empty_channel_reports_empty_and_times_out::<$transport>();
            }
            #[test]
            fn full_channel_hands_the_message_back() {
                super::full_channel_hands_the_message_back::<$transport>();
            }
            #[test]
            fn receiver_sees_disconnected_after_draining() {
                super::receiver_sees_disconnected_after_draining::<$transport>();
            }
            #[test]
            fn sender_sees_disconnected_and_gets_the_message_back() {
                super::sender_sees_disconnected_and_gets_the_message_back::<$transport>();
            }
            #[test]
            fn oversized_message_is_refused_naming_the_limit() {
                super::oversized_message_is_refused_naming_the_limit::<$transport>();
            }
            #[test]
            fn a_message_encoding_to_nothing_travels() {
                super::a_message_encoding_to_nothing_travels::<$transport>();
            }
            #[test]
            fn errors_convert_into_ipcx_errors() {
                super::errors_convert_into_ipcx_errors::<$transport>();
            }
        }
    };
}

conformance!(shm_ring, ShmRing);
conformance!(memfd_ring, MemfdRing);
conformance!(pipe, Pipe);
conformance!(fifo, FifoPath);
conformance!(posix_mq, PosixMq);
conformance!(sysv_mq, SysvMq);
conformance!(unix_seqpacket, SeqPacket);
conformance!(unix_dgram, UnixDgram);
conformance!(unix_stream, UnixStream);
conformance!(tcp, Tcp);

#[test]
fn a_message_that_does_not_decode_is_corrupted() {
    let ring = ipcx::ring::Ring::anonymous(1024).unwrap();
    let mut raw = ring.producer().unwrap();
    let mut rx: Receiver<Msg> = Receiver::from_consumer(ring.consumer().unwrap());
    raw.send(&[0xff; 12]).unwrap();
    assert!(matches!(
        rx.recv(),
        Err(RecvError::Other(Error::Corrupted { .. }))
    ));
}

#[test]
fn unsupported_endpoint_kinds_say_so() {
    let ep: Endpoint = "udp:127.0.0.1:9".parse().unwrap();
    assert!(matches!(
        Sender::<Msg>::open(&ep),
        Err(Error::Unsupported { .. })
    ));
}

/// A hostile producer flips bytes inside a string while the receiver decodes
/// it: every message is either a valid `String` or `Corrupted`, never a
/// `String` holding bytes that are not UTF-8 (decoding the shared bytes in
/// place checked them, then copied them again, changed in between).
#[test]
fn a_producer_changing_a_record_while_it_is_decoded_never_yields_invalid_utf8() {
    use ipcx::shm::memfd::{Memfd, Seals};
    use ipcx::shm::SharedMemory;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let ring = ipcx::ring::Ring::anonymous(4096).unwrap();
    let mut tx: Sender<String> = Sender::from_producer(ring.producer().unwrap());
    let mut rx: Receiver<String> = Receiver::from_consumer(ring.consumer().unwrap());
    // A 2000-byte string: records of 2016 bytes at data offsets 0 and 2016
    // (then padding and 0 again); the string bytes start 10 bytes in.
    let text = "a".repeat(2000);
    // The hostile side: its own mapping of the ring's memfd, written as
    // fast as it can (no system call per write).
    let fd = ring.as_fd().unwrap().try_clone_to_owned().unwrap();
    let hostile = Memfd::from_fd(fd, None, Seals::NONE).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let flipper = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let base = ipcx::ring::HEADER_SIZE;
            let mut byte = 0xffu8;
            while !stop.load(Ordering::Relaxed) {
                for at in [10 + 1000, 2016 + 10 + 1000] {
                    hostile.write_bytes(base + at, &[byte]).unwrap();
                }
                byte = if byte == b'a' { 0xff } else { b'a' };
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    for _ in 0..20_000 {
        tx.send(text.clone()).unwrap();
        match rx.recv() {
            Ok(s) => assert!(
                std::str::from_utf8(s.as_bytes()).is_ok(),
                "a String that is not UTF-8"
            ),
            Err(RecvError::Other(Error::Corrupted { .. })) => {}
            Err(e) => panic!("{e:?}"),
        }
        if Instant::now() > deadline {
            break; // watchdog on a loaded machine; no timing assertion
        }
    }
    stop.store(true, Ordering::Relaxed);
    flipper.join().unwrap();
}
