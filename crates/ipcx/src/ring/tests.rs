//! In-process tests of the ring (the cross-process ones are in tests/it/ring*.rs).

use std::time::Duration;

use super::*;

#[test]
fn records_of_every_size_wrap_and_arrive_in_order() {
    let ring = Ring::in_process(256);
    let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    let mut buf = Vec::new();
    for round in 0..2000u32 {
        let len = (round as usize * 7) % (ring.max_record_len() + 1);
        let msg: Vec<u8> = (0..len).map(|i| (i as u32 ^ round) as u8).collect();
        tx.try_send(&msg).unwrap();
        rx.try_recv(&mut buf).unwrap();
        assert_eq!(buf, msg, "round {round}");
    }
}

#[test]
fn full_and_empty_are_reported_without_waiting() {
    let ring = Ring::in_process(64);
    let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    let mut buf = Vec::new();
    assert!(matches!(rx.try_recv(&mut buf), Err(Error::Empty { .. })));
    tx.try_send(&[1; 24]).unwrap();
    tx.try_send(&[2; 24]).unwrap();
    assert!(matches!(tx.try_send(&[3]), Err(Error::Full { .. })));
    assert!(matches!(
        tx.send_timeout(&[3], Duration::from_millis(10)),
        Err(Error::TimedOut { .. })
    ));
    assert!(matches!(
        tx.try_send(&[0; 25]),
        Err(Error::MessageTooLarge { max: 24, .. })
    ));
    rx.try_recv(&mut buf).unwrap();
    assert_eq!(buf, [1; 24]);
}

#[test]
fn only_one_producer_and_one_consumer() {
    let ring = Ring::in_process(64);
    let tx = ring.producer().unwrap();
    assert!(matches!(ring.producer(), Err(Error::AddrInUse { .. })));
    let rx = ring.consumer().unwrap();
    assert!(matches!(ring.consumer(), Err(Error::AddrInUse { .. })));
    drop(tx);
    drop(rx);
    // A closed side may be claimed again.
    ring.producer().unwrap();
    ring.consumer().unwrap();
}

#[test]
fn closing_the_producer_delivers_what_was_committed_then_disconnects() {
    let ring = Ring::in_process(256);
    let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    tx.send(b"one").unwrap();
    tx.send(b"two").unwrap();
    drop(tx);
    let mut buf = Vec::new();
    rx.recv(&mut buf).unwrap();
    assert_eq!(buf, b"one");
    rx.recv(&mut buf).unwrap();
    assert_eq!(buf, b"two");
    assert!(matches!(rx.recv(&mut buf), Err(Error::Disconnected { .. })));
}

#[test]
fn closing_the_consumer_disconnects_the_producer() {
    let ring = Ring::in_process(64);
    let (mut tx, rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    drop(rx);
    assert!(matches!(tx.send(b"x"), Err(Error::Disconnected { .. })));
}

#[test]
fn uncommitted_grant_publishes_nothing_and_commit_len_shrinks() {
    let ring = Ring::in_process(128);
    let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    {
        let _abandoned = tx.reserve(10).unwrap();
    }
    assert!(matches!(rx.try_recv_borrowed(), Err(Error::Empty { .. })));
    let mut g = tx.reserve(10).unwrap();
    g[..3].copy_from_slice(b"abc");
    g.commit_len(3);
    assert_eq!(&*rx.try_recv_borrowed().unwrap(), b"abc");
}

#[test]
fn recv_into_a_short_slice_keeps_the_record() {
    let ring = Ring::in_process(128);
    let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    tx.send(b"hello").unwrap();
    let mut small = [0u8; 2];
    assert!(matches!(
        rx.recv_into(&mut small),
        Err(Error::BufferTooSmall { needed: 5, .. })
    ));
    let mut big = [0u8; 8];
    assert_eq!(rx.recv_into(&mut big).unwrap(), 5);
    assert_eq!(&big[..5], b"hello");
}

#[test]
fn blocking_transfer_between_threads_with_each_wait_strategy() {
    for wait in [
        WaitStrategy::Spin,
        WaitStrategy::Futex,
        WaitStrategy::Adaptive,
    ] {
        let mut ring = Ring::in_process(256);
        ring.set_wait_strategy(wait);
        let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
        let n = 20_000u64;
        let t = std::thread::spawn(move || {
            for i in 0..n {
                tx.send(&i.to_le_bytes()[..(i % 9) as usize]).unwrap();
            }
        });
        let mut buf = Vec::new();
        for i in 0..n {
            rx.recv_timeout(&mut buf, Duration::from_secs(30)).unwrap();
            assert_eq!(buf, &i.to_le_bytes()[..(i % 9) as usize], "{wait}");
        }
        t.join().unwrap();
        assert!(matches!(rx.recv(&mut buf), Err(Error::Disconnected { .. })));
    }
}

#[test]
fn memfd_ring_opens_through_its_descriptor() {
    let ring = Ring::anonymous(1000).unwrap();
    assert_eq!(ring.capacity(), 1024);
    let fd = ring.as_fd().unwrap().try_clone_to_owned().unwrap();
    let other = Ring::from_fd(fd).unwrap();
    let mut tx = ring.producer().unwrap();
    let mut rx = other.consumer().unwrap();
    tx.send(b"via memfd").unwrap();
    let mut buf = Vec::new();
    rx.recv(&mut buf).unwrap();
    assert_eq!(buf, b"via memfd");
}
