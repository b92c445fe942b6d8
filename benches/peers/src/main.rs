//! ipcx's ring and typed channel side by side with iceoryx2, ipc-channel and
//! interprocess: the same 64-byte ping-pong and 1 MiB one-way stream between
//! two processes, in one run, with ratios to ipcx.
//!
//! Run: `cargo run --release` in this directory (`-- --quick` for a short run).

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use hdrhistogram::Histogram;

/// Message size of the latency scenario, bytes.
const LAT_SIZE: usize = 64;
/// Message size of the throughput scenario, bytes.
const TPUT_SIZE: usize = 1 << 20;

/// Iteration counts, passed to the peer on its command line.
#[derive(Clone, Copy)]
struct Counts {
    warm: u64,
    lat: u64,
    twarm: u64,
    tput: u64,
}

impl Counts {
    fn args(&self) -> Vec<String> {
        [self.warm, self.lat, self.twarm, self.tput]
            .iter()
            .map(|n| n.to_string())
            .collect()
    }
    fn parse(a: &[String]) -> Result<Counts> {
        let n = |i: usize| -> Result<u64> { Ok(a.get(i).context("missing count")?.parse()?) };
        Ok(Counts {
            warm: n(0)?,
            lat: n(1)?,
            twarm: n(2)?,
            tput: n(3)?,
        })
    }
}

/// One process's end of a two-way message link.
trait Side {
    fn send(&mut self, msg: &[u8]) -> Result<()>;
    /// Receives one message of exactly `buf.len()` bytes into `buf`.
    fn recv(&mut self, buf: &mut [u8]) -> Result<()>;
}

fn check_len(got: usize, want: usize) -> Result<()> {
    if got != want {
        bail!("received {got} bytes, expected {want}");
    }
    Ok(())
}

struct Results {
    p50: u64,
    p99: u64,
    bytes_per_sec: f64,
}

/// The measuring side: ping-pong, then the stream.
fn measure(side: &mut dyn Side, c: Counts) -> Result<Results> {
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)?;
    let mut msg = vec![0xa5u8; LAT_SIZE];
    let mut buf = vec![0u8; LAT_SIZE];
    for i in 0..c.warm + c.lat {
        msg[0] = i as u8;
        let t = Instant::now();
        side.send(&msg)?;
        side.recv(&mut buf)?;
        let ns = t.elapsed().as_nanos() as u64;
        if buf[0] != msg[0] {
            bail!("round trip {i}: wrong echo");
        }
        if i >= c.warm {
            hist.saturating_record(ns.max(1));
        }
    }
    let big = vec![0x5au8; TPUT_SIZE];
    let mut ack = [0u8; 1];
    for _ in 0..c.twarm {
        side.send(&big)?;
    }
    side.recv(&mut ack)?;
    let t = Instant::now();
    for _ in 0..c.tput {
        side.send(&big)?;
    }
    side.recv(&mut ack)?;
    let secs = t.elapsed().as_secs_f64();
    Ok(Results {
        p50: hist.value_at_quantile(0.5),
        p99: hist.value_at_quantile(0.99),
        bytes_per_sec: (c.tput as f64 * TPUT_SIZE as f64) / secs,
    })
}

/// The peer side: echo, then receive the stream and acknowledge it.
fn echo(side: &mut dyn Side, c: Counts) -> Result<()> {
    let mut buf = vec![0u8; LAT_SIZE];
    for _ in 0..c.warm + c.lat {
        side.recv(&mut buf)?;
        side.send(&buf)?;
    }
    let mut big = vec![0u8; TPUT_SIZE];
    for _ in 0..c.twarm {
        side.recv(&mut big)?;
    }
    side.send(&[1])?;
    for _ in 0..c.tput {
        side.recv(&mut big)?;
    }
    side.send(&[1])?;
    Ok(())
}

// ---------------------------------------------------------------------------
// ipcx: the ring (Producer/Consumer) and the typed channel, over named rings.

fn ring_capacity() -> usize {
    (2 * TPUT_SIZE + 64).next_power_of_two()
}

struct IpcxRing {
    tx: ipcx::ring::Producer,
    rx: ipcx::ring::Consumer,
}

impl Side for IpcxRing {
    fn send(&mut self, msg: &[u8]) -> Result<()> {
        Ok(self.tx.send(msg)?)
    }
    fn recv(&mut self, buf: &mut [u8]) -> Result<()> {
        let rec = self.rx.recv_borrowed()?;
        check_len(rec.len(), buf.len())?;
        buf.copy_from_slice(&rec);
        Ok(())
    }
}

fn ipcx_rings(name: &str, create: bool) -> Result<(ipcx::ring::Ring, ipcx::ring::Ring)> {
    let (a, b) = (format!("/{name}-a"), format!("/{name}-b"));
    if create {
        Ok((
            ipcx::ring::Ring::builder(&a).capacity(ring_capacity() + 64).create()?,
            ipcx::ring::Ring::builder(&b).capacity(ring_capacity() + 64).create()?,
        ))
    } else {
        Ok((ipcx::ring::Ring::builder(&a).open()?, ipcx::ring::Ring::builder(&b).open()?))
    }
}

fn ipcx_ring_side(
    name: &str,
    parent: bool,
    wait: ipcx::ring::WaitStrategy,
) -> Result<(IpcxRing, (ipcx::ring::Ring, ipcx::ring::Ring))> {
    let (a, b) = ipcx_rings(name, parent)?;
    let (tx_ring, rx_ring) = if parent { (&a, &b) } else { (&b, &a) };
    let mut tx = tx_ring.producer()?;
    let mut rx = rx_ring.consumer()?;
    tx.set_wait_strategy(wait);
    rx.set_wait_strategy(wait);
    Ok((IpcxRing { tx, rx }, (a, b)))
}

/// The channel's message on the sending side: shared bytes, so that sending
/// allocates nothing.
struct OutBytes(Arc<Vec<u8>>);

impl serde::Serialize for OutBytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

/// The channel's message on the receiving side.
struct InBytes(Vec<u8>);

impl<'de> serde::Deserialize<'de> for InBytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = InBytes;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> std::result::Result<InBytes, E> {
                Ok(InBytes(v.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> std::result::Result<InBytes, E> {
                Ok(InBytes(v))
            }
        }
        d.deserialize_byte_buf(V)
    }
}

struct IpcxChannel {
    tx: ipcx::channel::Sender<OutBytes>,
    rx: ipcx::channel::Receiver<InBytes>,
    out: Arc<Vec<u8>>,
}

impl Side for IpcxChannel {
    fn send(&mut self, msg: &[u8]) -> Result<()> {
        let out = Arc::get_mut(&mut self.out).context("message still held")?;
        out.clear();
        out.extend_from_slice(msg);
        self.tx
            .send(OutBytes(self.out.clone()))
            .map_err(|e| anyhow::anyhow!("channel send: {e}"))
    }
    fn recv(&mut self, buf: &mut [u8]) -> Result<()> {
        let m = self.rx.recv().map_err(|e| anyhow::anyhow!("channel recv: {e}"))?;
        check_len(m.0.len(), buf.len())?;
        buf.copy_from_slice(&m.0);
        Ok(())
    }
}

fn ipcx_channel_side(name: &str, parent: bool) -> Result<(IpcxChannel, (ipcx::ring::Ring, ipcx::ring::Ring))> {
    let (ring, keep) = ipcx_ring_side(name, parent, ipcx::ring::WaitStrategy::default())?;
    Ok((
        IpcxChannel {
            tx: ipcx::channel::Sender::from_producer(ring.tx),
            rx: ipcx::channel::Receiver::from_consumer(ring.rx),
            out: Arc::new(Vec::with_capacity(TPUT_SIZE)),
        },
        keep,
    ))
}

// ---------------------------------------------------------------------------
// iceoryx2: two publish-subscribe services of byte slices, busy-polled.

mod ice {
    use super::*;
    use iceoryx2::port::publisher::Publisher;
    use iceoryx2::port::subscriber::Subscriber;
    use iceoryx2::prelude::*;

    pub struct Ice {
        tx: Publisher<ipc::Service, [u8], ()>,
        rx: Subscriber<ipc::Service, [u8], ()>,
        _node: Node<ipc::Service>,
    }

    impl Side for Ice {
        fn send(&mut self, msg: &[u8]) -> Result<()> {
            let s = self
                .tx
                .loan_slice_uninit(msg.len())
                .map_err(|e| anyhow::anyhow!("iceoryx2 loan: {e:?}"))?;
            let s = s.write_from_slice(msg);
            s.send().map_err(|e| anyhow::anyhow!("iceoryx2 send: {e:?}"))?;
            Ok(())
        }
        fn recv(&mut self, buf: &mut [u8]) -> Result<()> {
            let deadline = Instant::now() + Duration::from_secs(30);
            let mut spins = 0u32;
            loop {
                if let Some(s) = self
                    .rx
                    .receive()
                    .map_err(|e| anyhow::anyhow!("iceoryx2 receive: {e:?}"))?
                {
                    check_len(s.payload().len(), buf.len())?;
                    buf.copy_from_slice(s.payload());
                    return Ok(());
                }
                std::hint::spin_loop();
                spins = spins.wrapping_add(1);
                if spins % (1 << 20) == 0 && Instant::now() > deadline {
                    bail!("iceoryx2: nothing arrived within 30 s");
                }
            }
        }
    }

    pub fn side(name: &str, parent: bool) -> Result<Ice> {
        set_log_level(LogLevel::Error);
        let node = NodeBuilder::new()
            .create::<ipc::Service>()
            .map_err(|e| anyhow::anyhow!("iceoryx2 node: {e:?}"))?;
        let service = |dir: &str| -> Result<_> {
            let sname: ServiceName = format!("ipcx-peers/{name}/{dir}")
                .as_str()
                .try_into()
                .map_err(|e| anyhow::anyhow!("iceoryx2 service name: {e:?}"))?;
            node.service_builder(&sname)
                .publish_subscribe::<[u8]>()
                .enable_safe_overflow(false)
                .subscriber_max_buffer_size(4)
                .history_size(0)
                .open_or_create()
                .map_err(|e| anyhow::anyhow!("iceoryx2 service: {e:?}"))
        };
        let (out_dir, in_dir) = if parent { ("ping", "pong") } else { ("pong", "ping") };
        let out = service(out_dir)?;
        let inp = service(in_dir)?;
        let tx = out
            .publisher_builder()
            .initial_max_slice_len(TPUT_SIZE)
            .backpressure_strategy(BackpressureStrategy::RetryUntilDelivered)
            .create()
            .map_err(|e| anyhow::anyhow!("iceoryx2 publisher: {e:?}"))?;
        let rx = inp
            .subscriber_builder()
            .buffer_size(4)
            .create()
            .map_err(|e| anyhow::anyhow!("iceoryx2 subscriber: {e:?}"))?;
        Ok(Ice { tx, rx, _node: node })
    }

    /// Makes the publisher see a subscriber that arrived after it.
    pub fn connect(ice: &Ice) -> Result<()> {
        use iceoryx2::port::update_connections::UpdateConnections;
        ice.tx
            .update_connections()
            .map_err(|e| anyhow::anyhow!("iceoryx2 connect: {e:?}"))
    }
}

// ---------------------------------------------------------------------------
// ipc-channel: byte channels, one per direction, set up through a one-shot
// server.

struct IpcChannel {
    tx: ipc_channel::ipc::IpcBytesSender,
    rx: ipc_channel::ipc::IpcBytesReceiver,
}

impl Side for IpcChannel {
    fn send(&mut self, msg: &[u8]) -> Result<()> {
        Ok(self.tx.send(msg)?)
    }
    fn recv(&mut self, buf: &mut [u8]) -> Result<()> {
        let v = self.rx.recv().map_err(|e| anyhow::anyhow!("ipc-channel recv: {e:?}"))?;
        check_len(v.len(), buf.len())?;
        buf.copy_from_slice(&v);
        Ok(())
    }
}

type Handshake = (ipc_channel::ipc::IpcBytesSender, ipc_channel::ipc::IpcBytesReceiver);

// ---------------------------------------------------------------------------
// interprocess: a local socket (a Unix stream socket in the abstract namespace).

struct Interprocess(interprocess::local_socket::Stream);

impl Side for Interprocess {
    fn send(&mut self, msg: &[u8]) -> Result<()> {
        Ok(self.0.write_all(msg)?)
    }
    fn recv(&mut self, buf: &mut [u8]) -> Result<()> {
        Ok(self.0.read_exact(buf)?)
    }
}

fn local_name(name: &str) -> Result<interprocess::local_socket::Name<'static>> {
    use interprocess::local_socket::{GenericNamespaced, ToNsName};
    Ok(format!("{name}.sock").to_ns_name::<GenericNamespaced>()?.into_owned())
}

// ---------------------------------------------------------------------------
// Orchestration.

const LIBS: &[(&str, &str)] = &[
    ("ipcx-ring-spin", "ipcx ring, busy-wait"),
    ("ipcx-ring-adaptive", "ipcx ring, spin then futex"),
    ("ipcx-channel", "ipcx typed channel (adaptive)"),
    ("iceoryx2", "iceoryx2 0.10 publish-subscribe, busy-poll"),
    ("ipc-channel", "ipc-channel 0.23 IpcBytesSender/Receiver"),
    ("interprocess", "interprocess 2.4 local socket stream"),
];

fn pin(cpu: usize) -> bool {
    let mut set = rustix::thread::CpuSet::new();
    set.set(cpu);
    rustix::thread::sched_setaffinity(None, &set).is_ok()
}

fn spawn_peer(lib: &str, name: &str, c: Counts) -> Result<(Child, BufReader<std::process::ChildStdout>)> {
    let mut child = Command::new(std::env::current_exe()?)
        .arg("--peer")
        .arg(lib)
        .arg(name)
        .args(c.args())
        .stdout(Stdio::piped())
        .spawn()?;
    let out = BufReader::new(child.stdout.take().context("peer stdout")?);
    Ok((child, out))
}

fn wait_line(out: &mut BufReader<std::process::ChildStdout>, want: &str) -> Result<()> {
    let mut line = String::new();
    out.read_line(&mut line)?;
    if line.trim() != want {
        bail!("peer said {line:?}, expected {want:?}");
    }
    Ok(())
}

fn run_parent(lib: &str, c: Counts) -> Result<Results> {
    let name = format!("ipcx-peers-{}-{lib}", std::process::id());
    let result = match lib {
        "ipcx-ring-spin" | "ipcx-ring-adaptive" | "ipcx-channel" => {
            let wait = if lib == "ipcx-ring-spin" {
                ipcx::ring::WaitStrategy::Spin
            } else {
                ipcx::ring::WaitStrategy::Adaptive
            };
            let (mut side, _keep): (Box<dyn Side>, _) = if lib == "ipcx-channel" {
                let (s, k) = ipcx_channel_side(&name, true)?;
                (Box::new(s), k)
            } else {
                let (s, k) = ipcx_ring_side(&name, true, wait)?;
                (Box::new(s), k)
            };
            let (child, mut out) = spawn_peer(lib, &name, c)?;
            wait_line(&mut out, "ready")?;
            finish(child, measure(side.as_mut(), c))
        }
        "iceoryx2" => {
            let mut side = ice::side(&name, true)?;
            let (child, mut out) = spawn_peer(lib, &name, c)?;
            wait_line(&mut out, "ready")?;
            ice::connect(&side)?;
            finish(child, measure(&mut side, c))
        }
        "ipc-channel" => {
            let (server, server_name) = ipc_channel::ipc::IpcOneShotServer::<Handshake>::new()?;
            let (child, _out) = spawn_peer(lib, &server_name, c)?;
            let (_, (tx, rx)) = server
                .accept()
                .map_err(|e| anyhow::anyhow!("ipc-channel accept: {e:?}"))?;
            let mut side = IpcChannel { tx, rx };
            finish(child, measure(&mut side, c))
        }
        "interprocess" => {
            use interprocess::local_socket::{prelude::*, ListenerOptions};
            let listener = ListenerOptions::new().name(local_name(&name)?).create_sync()?;
            let (child, _out) = spawn_peer(lib, &name, c)?;
            let mut side = Interprocess(listener.accept()?);
            finish(child, measure(&mut side, c))
        }
        other => bail!("unknown library {other}"),
    };
    result
}

fn finish(mut child: Child, r: Result<Results>) -> Result<Results> {
    if r.is_err() {
        let _ = child.kill();
    }
    let status = child.wait()?;
    let r = r?;
    if !status.success() {
        bail!("peer exited with {status}");
    }
    Ok(r)
}

fn run_peer(lib: &str, name: &str, c: Counts) -> Result<()> {
    let ready = || -> Result<()> {
        let mut so = std::io::stdout().lock();
        writeln!(so, "ready")?;
        so.flush()?;
        Ok(())
    };
    match lib {
        "ipcx-ring-spin" | "ipcx-ring-adaptive" => {
            let wait = if lib == "ipcx-ring-spin" {
                ipcx::ring::WaitStrategy::Spin
            } else {
                ipcx::ring::WaitStrategy::Adaptive
            };
            let (mut side, _keep) = ipcx_ring_side(name, false, wait)?;
            ready()?;
            echo(&mut side, c)
        }
        "ipcx-channel" => {
            let (mut side, _keep) = ipcx_channel_side(name, false)?;
            ready()?;
            echo(&mut side, c)
        }
        "iceoryx2" => {
            let mut side = ice::side(name, false)?;
            ice::connect(&side)?;
            ready()?;
            echo(&mut side, c)
        }
        "ipc-channel" => {
            let (to_child_tx, to_child_rx) = ipc_channel::ipc::bytes_channel()?;
            let (to_parent_tx, to_parent_rx) = ipc_channel::ipc::bytes_channel()?;
            let boot = ipc_channel::ipc::IpcSender::<Handshake>::connect(name.to_string())?;
            boot.send((to_child_tx, to_parent_rx))
                .map_err(|e| anyhow::anyhow!("ipc-channel handshake: {e:?}"))?;
            let mut side = IpcChannel {
                tx: to_parent_tx,
                rx: to_child_rx,
            };
            echo(&mut side, c)
        }
        "interprocess" => {
            use interprocess::local_socket::{prelude::*, Stream};
            let mut side = Interprocess(Stream::connect(local_name(name)?)?);
            echo(&mut side, c)
        }
        other => bail!("unknown library {other}"),
    }
}

fn fmt_ns(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{:.2} ms", ns / 1e6)
    }
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--peer") {
        if let Ok(cpu) = std::env::var("IPCX_PEERS_CPU") {
            pin(cpu.parse()?);
        }
        return run_peer(&args[2], &args[3], Counts::parse(&args[4..])?);
    }
    let quick = args.iter().any(|a| a == "--quick");
    let c = if quick {
        Counts { warm: 200, lat: 2_000, twarm: 4, tput: 50 }
    } else {
        Counts { warm: 2_000, lat: 20_000, twarm: 20, tput: 500 }
    };
    let cpus: Vec<usize> = rustix::thread::sched_getaffinity(None)
        .map(|s| (0..rustix::thread::CpuSet::MAX_CPU).filter(|&i| s.is_set(i)).collect())
        .unwrap_or_default();
    if cpus.len() >= 2 && pin(cpus[0]) {
        std::env::set_var("IPCX_PEERS_CPU", cpus[1].to_string());
        println!("pinned: measuring process on CPU {}, peer on CPU {}", cpus[0], cpus[1]);
    } else {
        println!("not pinned: {} CPU(s) allowed", cpus.len());
    }
    println!(
        "64 B ping-pong: {} round trips after {} warm-up; 1 MiB stream: {} messages after {} warm-up\n",
        c.lat, c.warm, c.tput, c.twarm
    );
    let mut rows = Vec::new();
    for (lib, label) in LIBS {
        eprint!("{lib}… ");
        let r = run_parent(lib, c);
        eprintln!("{}", if r.is_ok() { "done" } else { "FAILED" });
        rows.push((lib, label, r));
    }
    let base_lat = rows
        .iter()
        .find(|r| *r.0 == "ipcx-ring-spin")
        .and_then(|r| r.2.as_ref().ok())
        .map(|r| r.p50 as f64);
    let base_chan = rows
        .iter()
        .find(|r| *r.0 == "ipcx-channel")
        .and_then(|r| r.2.as_ref().ok())
        .map(|r| r.p50 as f64);
    let base_tput = rows
        .iter()
        .find(|r| *r.0 == "ipcx-ring-adaptive")
        .and_then(|r| r.2.as_ref().ok())
        .map(|r| r.bytes_per_sec);
    println!(
        "{:<20} {:>12} {:>12} {:>14} {:>16} {:>14} {:>16}",
        "library", "RT p50", "RT p99", "p50/ring-spin", "p50/ipcx-channel", "1 MiB stream", "ring-adaptive/x"
    );
    for (lib, label, r) in &rows {
        match r {
            Ok(r) => {
                let ratio = |b: Option<f64>| b.map(|b| format!("{:.2}×", r.p50 as f64 / b)).unwrap_or_default();
                println!(
                    "{:<20} {:>12} {:>12} {:>14} {:>16} {:>10.2} GiB/s {:>16}",
                    lib,
                    fmt_ns(r.p50 as f64),
                    fmt_ns(r.p99 as f64),
                    ratio(base_lat),
                    ratio(base_chan),
                    r.bytes_per_sec / (1u64 << 30) as f64,
                    base_tput.map(|b| format!("{:.2}×", b / r.bytes_per_sec)).unwrap_or_default(),
                );
            }
            Err(e) => println!("{lib:<20} FAILED ({label}): {e:#}"),
        }
    }
    println!("\nRT = round trip of a 64-byte message; p50/x > 1 means slower than ipcx; ring-adaptive/x > 1 means ipcx streams faster.");
    Ok(())
}
