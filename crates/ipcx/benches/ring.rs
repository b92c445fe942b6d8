//! Round trip of a 64-byte record between two processes through a pair of
//! rings, for each wait strategy, next to the physical limit measured in the
//! same run: a raw cache-line ping-pong between two processes busy-waiting on
//! one shared atomic.
//!
//! Run: `cargo bench -p ipcx --bench ring` (the peer process is this bench
//! binary started again with `IPCX_BENCH_PEER`).

use std::process::{Child, Command};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use ipcx::ring::{Ring, WaitStrategy};
use ipcx::shm::posix::Segment;
use ipcx::shm::SharedMemory;

const RECORD: usize = 64;

/// The peer: echoes ring records, or answers the raw ping-pong.
fn peer(role: &str) {
    let parts: Vec<&str> = role.split(':').collect();
    match parts[0] {
        "echo" => {
            let wait: WaitStrategy = parts[3].parse().unwrap();
            let ping = Ring::builder(parts[1]).wait(wait).open().unwrap();
            let pong = Ring::builder(parts[2]).wait(wait).open().unwrap();
            let mut rx = ping.consumer().unwrap();
            let mut tx = pong.producer().unwrap();
            loop {
                let rec = match rx.recv_borrowed() {
                    Ok(rec) => rec,
                    Err(_) => return,
                };
                let mut g = tx.reserve(rec.len()).unwrap();
                g.copy_from_slice(&rec);
                drop(rec);
                g.commit();
            }
        }
        "pingpong" => {
            let seg = Segment::builder(parts[1]).open().unwrap();
            let word = seg.atomic_u64(0).unwrap();
            loop {
                let v = word.load(Ordering::Acquire);
                if v == u64::MAX {
                    return;
                }
                if v % 2 == 1 {
                    word.store(v + 1, Ordering::Release);
                }
                std::hint::spin_loop();
            }
        }
        other => panic!("unknown peer role {other}"),
    }
}

fn spawn_peer(role: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .env("IPCX_BENCH_PEER", role)
        .spawn()
        .unwrap()
}

fn ring_round_trip(c: &mut Criterion) {
    let mut group = c.benchmark_group("round_trip_64B");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));

    // The physical limit: one cache line bouncing between two processes.
    {
        let name = format!("/ipcx-bench-line-{}", std::process::id());
        let seg = Segment::builder(&name).size(4096).create().unwrap();
        let word = seg.atomic_u64(0).unwrap();
        let mut child = spawn_peer(&format!("pingpong:{name}"));
        let mut next = 0u64;
        group.bench_function(BenchmarkId::new("raw_cache_line", "spin"), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    next += 2;
                    word.store(next - 1, Ordering::Release);
                    while word.load(Ordering::Acquire) != next {
                        std::hint::spin_loop();
                    }
                }
                start.elapsed()
            })
        });
        word.store(u64::MAX, Ordering::Release);
        child.wait().unwrap();
    }

    for wait in [
        WaitStrategy::Spin,
        WaitStrategy::Futex,
        WaitStrategy::Adaptive,
    ] {
        let ping_name = format!("/ipcx-bench-ping-{}-{wait}", std::process::id());
        let pong_name = format!("/ipcx-bench-pong-{}-{wait}", std::process::id());
        let ping = Ring::builder(&ping_name)
            .capacity(4096)
            .wait(wait)
            .create()
            .unwrap();
        let pong = Ring::builder(&pong_name)
            .capacity(4096)
            .wait(wait)
            .create()
            .unwrap();
        let mut tx = ping.producer().unwrap();
        let mut rx = pong.consumer().unwrap();
        let mut child = spawn_peer(&format!("echo:{ping_name}:{pong_name}:{wait}"));
        let msg = [7u8; RECORD];
        group.bench_function(BenchmarkId::new("ring", wait), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    let mut g = tx.reserve(RECORD).unwrap();
                    g.copy_from_slice(&msg);
                    g.commit();
                    let rec = rx.recv_borrowed().unwrap();
                    assert_eq!(rec.len(), RECORD);
                }
                start.elapsed()
            })
        });
        drop(tx);
        child.wait().unwrap();
    }
    group.finish();
}

fn main() {
    if let Ok(role) = std::env::var("IPCX_BENCH_PEER") {
        peer(&role);
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    ring_round_trip(&mut c);
    c.final_summary();
}
