//! Steady state on the ring allocates nothing per message: a counting global
//! allocator (process-global, hence this test binary of its own) counts each
//! thread's allocations after a warm-up.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use serde::{Deserialize, Serialize};

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: defers every call to the system allocator unchanged; the counter is
// a const-initialised thread-local Cell, which itself never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract for `dealloc` is passed on as is.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: the caller's contract for `realloc` is passed on as is.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCS.with(|c| c.get())
}

/// A message whose decoding needs no heap.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Tick {
    seq: u64,
    price: f64,
    flags: [u8; 16],
}

const WARM_UP: u64 = 1_000;
const N: u64 = 100_000;

#[test]
fn ring_and_typed_channel_allocate_nothing_per_message() {
    use ipcx::ring::{Ring, WaitStrategy};
    // Raw ring: copying send and recv into a reused buffer, and zero-copy.
    let mut ring = Ring::anonymous(64 * 1024).unwrap();
    ring.set_wait_strategy(WaitStrategy::Adaptive);
    let mut tx = ring.producer().unwrap();
    let mut rx = ring.consumer().unwrap();
    let consumer = std::thread::spawn(move || {
        let mut buf = Vec::with_capacity(64);
        for _ in 0..WARM_UP {
            rx.recv(&mut buf).unwrap();
        }
        let before = allocations();
        for i in 0..N {
            if i % 2 == 0 {
                rx.recv(&mut buf).unwrap();
                assert_eq!(buf[0], (WARM_UP + i) as u8);
            } else {
                let rec = rx.recv_borrowed().unwrap();
                assert_eq!(rec[0], (WARM_UP + i) as u8);
            }
        }
        allocations() - before
    });
    let mut msg = [0u8; 64];
    for i in 0..WARM_UP {
        msg[0] = i as u8;
        tx.send(&msg).unwrap();
    }
    let before = allocations();
    for i in WARM_UP..WARM_UP + N {
        msg[0] = i as u8;
        if i % 2 == 0 {
            tx.send(&msg).unwrap();
        } else {
            let mut g = tx.reserve(64).unwrap();
            g.copy_from_slice(&msg);
            g.commit();
        }
    }
    let producer_allocs = allocations() - before;
    let consumer_allocs = consumer.join().unwrap();
    assert_eq!(producer_allocs, 0, "producer allocations over {N} records");
    assert_eq!(consumer_allocs, 0, "consumer allocations over {N} records");

    // Typed channel over the ring.
    let (mut tx, mut rx) = ipcx::channel::ring::<Tick>(64 * 1024).unwrap();
    let tick = |seq| Tick {
        seq,
        price: seq as f64 / 3.0,
        flags: [seq as u8; 16],
    };
    let consumer = std::thread::spawn(move || {
        for seq in 0..WARM_UP {
            assert_eq!(rx.recv().unwrap(), tick(seq));
        }
        let before = allocations();
        for seq in WARM_UP..WARM_UP + N {
            assert_eq!(rx.recv().unwrap(), tick(seq));
        }
        allocations() - before
    });
    for seq in 0..WARM_UP {
        tx.send(tick(seq)).unwrap();
    }
    let before = allocations();
    for seq in WARM_UP..WARM_UP + N {
        tx.send(tick(seq)).unwrap();
    }
    let producer_allocs = allocations() - before;
    let consumer_allocs = consumer.join().unwrap();
    assert_eq!(
        producer_allocs, 0,
        "typed sender allocations over {N} messages"
    );
    assert_eq!(
        consumer_allocs, 0,
        "typed receiver allocations over {N} messages"
    );
}
