//! The index protocol under the loom model checker: every interleaving (up to
//! the preemption bound) of a producer and a consumer thread moving records
//! through a tiny heap ring, with the futex modelled by a mutex and condition
//! variable so that a lost wake-up shows up as a deadlock.
//!
//! Run with:
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p ipcx --release --lib ring::loom`

use super::*;

fn payload(i: u8) -> Vec<u8> {
    vec![i; [20usize, 3, 24][i as usize % 3]]
}

#[test]
fn records_arrive_intact_and_in_order_then_disconnect() {
    loom::model(|| {
        let ring = Ring::in_process(64);
        let mut tx = ring.producer().unwrap();
        let mut rx = ring.consumer().unwrap();
        let t = loom::thread::spawn(move || {
            for i in 0..3u8 {
                tx.send(&payload(i)).unwrap();
            }
        });
        let mut buf = Vec::new();
        for i in 0..3u8 {
            rx.recv(&mut buf).unwrap();
            assert_eq!(buf, payload(i));
        }
        assert!(matches!(
            rx.recv(&mut buf),
            Err(crate::Error::Disconnected { .. })
        ));
        t.join().unwrap();
    });
}

#[test]
fn a_full_ring_wakes_the_producer() {
    loom::model(|| {
        let ring = Ring::in_process(64);
        let mut tx = ring.producer().unwrap();
        let mut rx = ring.consumer().unwrap();
        // Two 24-byte records fill the 64-byte ring.
        tx.send(&[1; 24]).unwrap();
        tx.send(&[2; 24]).unwrap();
        let t = loom::thread::spawn(move || {
            tx.send(&[3; 24]).unwrap();
        });
        let mut buf = Vec::new();
        for i in 1..=3u8 {
            rx.recv(&mut buf).unwrap();
            assert_eq!(buf, [i; 24]);
        }
        t.join().unwrap();
    });
}
