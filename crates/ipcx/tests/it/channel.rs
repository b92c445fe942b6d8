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
    /// A connected pair, and a guard that removes what the endpoint made.
    fn pair<T: Serialize + DeserializeOwned>() -> (Sender<T>, Receiver<T>, Box<dyn Any>);
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
    // Draining one makes room again.
    assert_eq!(rx.recv_timeout(WATCHDOG).unwrap(), fixed(0));
    tx.send_timeout(fixed(n), WATCHDOG).unwrap();
    for seq in 1..=n {
        assert_eq!(rx.recv_timeout(WATCHDOG).unwrap(), fixed(seq));
    }
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
    let (mut tx, rx, _g) = X::pair::<Msg>();
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
            fn errors_convert_into_ipcx_errors() {
                super::errors_convert_into_ipcx_errors::<$transport>();
            }
        }
    };
}

conformance!(shm_ring, ShmRing);
conformance!(memfd_ring, MemfdRing);

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
