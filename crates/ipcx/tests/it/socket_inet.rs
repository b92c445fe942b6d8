//! TCP and UDP: size limits, framing over a stream, disconnections,
//! SO_REUSEADDR, and the seed's C programs on port 8080.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ipcx::frame::FrameReader;
use ipcx::socket::addr::UnixAddr;
use ipcx::socket::tcp::{TcpListener, TcpStream};
use ipcx::socket::udp::{UdpSocket, MAX_IPV4_PAYLOAD, MAX_IPV6_PAYLOAD};
use ipcx::socket::unix::UnixListener;
use ipcx::Error;

const WAIT: Duration = Duration::from_secs(20);

#[test]
fn a_udp_datagram_of_65508_bytes_is_message_too_large_and_nothing_is_sent() {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let err = tx
        .send_to(&vec![1u8; MAX_IPV4_PAYLOAD + 1], rx.local_addr())
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::MessageTooLarge {
                len: 65_508,
                max: 65_507,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("65507"), "{err}");
    let mut buf = vec![0u8; 70_000];
    assert!(matches!(
        rx.recv_from_timeout(&mut buf, Duration::from_millis(50)),
        Err(Error::TimedOut { .. })
    ));
    // The largest datagram goes through whole.
    tx.send_to(&vec![2u8; MAX_IPV4_PAYLOAD], rx.local_addr())
        .unwrap();
    let (n, from) = rx.recv_from_timeout(&mut buf, WAIT).unwrap();
    assert_eq!((n, from), (MAX_IPV4_PAYLOAD, tx.local_addr()));
}

#[test]
fn the_ipv6_udp_limit_is_65527_bytes() {
    let Ok(rx) = UdpSocket::bind("[::1]:0") else {
        eprintln!("skipped: no IPv6 loopback on this machine");
        return;
    };
    let tx = UdpSocket::bind("[::1]:0").unwrap();
    let err = tx
        .send_to(&vec![1u8; MAX_IPV6_PAYLOAD + 1], rx.local_addr())
        .unwrap_err();
    assert!(
        matches!(err, Error::MessageTooLarge { max: 65_527, .. }),
        "{err:?}"
    );
    tx.send_to(&vec![2u8; MAX_IPV6_PAYLOAD], rx.local_addr())
        .unwrap();
    let mut buf = vec![0u8; 70_000];
    assert_eq!(
        rx.recv_from_timeout(&mut buf, WAIT).unwrap().0,
        MAX_IPV6_PAYLOAD
    );
}

fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect_timeout(l.local_addr(), WAIT).unwrap();
    let s = l.accept_timeout(WAIT).unwrap();
    (c, s)
}

#[test]
fn a_frame_length_prefix_of_4_gib_is_refused_before_allocation() {
    let (c, s) = tcp_pair();
    c.send_all(&u32::MAX.to_le_bytes()).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let (mut rx, _) = s.frames(1 << 20);
    let err = rx.recv().unwrap_err();
    assert!(
        matches!(err, Error::MessageTooLarge { len, max, .. } if len == u32::MAX as usize && max == 1 << 20),
        "{err:?}"
    );
    assert!(err.to_string().contains("tcp socket"), "{err}");
}

#[test]
fn a_peer_that_disconnects_mid_frame_is_disconnected() {
    for cut in [2usize, 4 + 5] {
        let (c, s) = tcp_pair();
        let mut wire = 10u32.to_le_bytes().to_vec();
        wire.extend_from_slice(b"0123456789");
        c.send_all(&wire[..cut]).unwrap();
        drop(c);
        s.set_read_timeout(Some(WAIT)).unwrap();
        let mut rx = FrameReader::new(&s, 1024).with_name(s.name().to_owned());
        let err = rx.recv().unwrap_err();
        assert!(matches!(err, Error::Disconnected { .. }), "{err:?}");
    }
}

#[test]
fn tcp_frames_round_trip() {
    let (c, s) = tcp_pair();
    let (_, mut tx) = c.frames(1 << 20);
    let (mut rx, _) = s.frames(1 << 20);
    for len in [0usize, 1, 100, 70_000] {
        let msg: Vec<u8> = (0..len).map(|i| i as u8).collect();
        tx.send(&msg).unwrap();
        assert_eq!(rx.recv().unwrap().unwrap(), &msg[..]);
    }
}

#[test]
fn tcp_send_to_a_closed_peer_is_disconnected() {
    let (c, s) = tcp_pair();
    drop(s);
    let mut err = None;
    for _ in 0..200 {
        if let Err(e) = c.send(&[0u8; 1024]) {
            err = Some(e);
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(matches!(err, Some(Error::Disconnected { .. })), "{err:?}");
}

#[test]
fn a_restarted_listener_rebinds_a_port_in_time_wait() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr();
    let c = TcpStream::connect(addr).unwrap();
    let s = l.accept_timeout(WAIT).unwrap();
    // The server closes first, so its side of the connection enters TIME_WAIT.
    drop(s);
    let mut buf = [0u8; 1];
    assert_eq!(c.recv_timeout(&mut buf, WAIT).unwrap(), 0);
    drop(c);
    drop(l);
    let again = TcpListener::bind(addr).unwrap();
    assert_eq!(again.local_addr(), addr);
}

#[test]
fn tcp_timeouts_are_typed() {
    let (c, _s) = tcp_pair();
    let mut buf = [0u8; 1];
    assert!(matches!(c.try_recv(&mut buf), Err(Error::Empty { .. })));
    assert!(matches!(
        c.recv_timeout(&mut buf, Duration::from_millis(10)),
        Err(Error::TimedOut { .. })
    ));
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    assert!(matches!(l.try_accept(), Err(Error::Empty { .. })));
    assert!(matches!(
        l.accept_timeout(Duration::from_millis(10)),
        Err(Error::TimedOut { .. })
    ));
}

/// Serialises the tests (of every ipcx test binary) that use the seed's
/// fixed port 8080: an abstract Unix socket name is held while they run and
/// is released by the kernel even if the holder dies.
pub fn lock_port_8080() -> UnixListener {
    let addr = UnixAddr::new_abstract_name("ipcx-tests-port-8080-lock").unwrap();
    let start = Instant::now();
    loop {
        match UnixListener::bind(&addr) {
            Ok(l) => return l,
            Err(Error::AddrInUse { .. }) if start.elapsed() < Duration::from_secs(300) => {
                std::thread::sleep(Duration::from_millis(50))
            }
            Err(e) => panic!("locking port 8080 for the test: {e}"),
        }
    }
}

/// Waits until 0.0.0.0:8080 can be bound without SO_REUSEADDR (as the seed's
/// tcp_server does), e.g. after an earlier connection's TIME_WAIT ends.
pub fn wait_port_8080_free() {
    use rustix::net::{AddressFamily, SocketFlags, SocketType};
    let addr: SocketAddr = "0.0.0.0:8080".parse().unwrap();
    let start = Instant::now();
    loop {
        let fd = rustix::net::socket_with(
            AddressFamily::INET,
            SocketType::STREAM,
            SocketFlags::CLOEXEC,
            None,
        )
        .unwrap();
        if rustix::net::bind(&fd, &addr).is_ok() {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "port 8080 stayed busy for 2 minutes"
        );
        if start.elapsed() < Duration::from_millis(100) {
            eprintln!("waiting for port 8080 to be free (TIME_WAIT or another program)");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits until something listens on port 8080, read from /proc/net/tcp so
/// that no probe connection steals the seed server's only accept.
pub fn wait_listening_8080(child: &mut std::process::Child) {
    let start = Instant::now();
    loop {
        let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
        if table.lines().skip(1).any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3 && f[1].ends_with(":1F90") && f[3] == "0A"
        }) {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the server exited before listening: {status}");
        }
        assert!(start.elapsed() < WAIT, "nothing listens on port 8080");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn the_seed_tcp_server_greets_an_ipcx_client() {
    let _lock = lock_port_8080();
    wait_port_8080_free();
    let dir = tempfile::tempdir().unwrap();
    let server = crate::util::seed_c(dir.path(), "tcp_server");
    let mut child = Command::new(server).stdout(Stdio::null()).spawn().unwrap();
    wait_listening_8080(&mut child);
    let c = TcpStream::connect_timeout("127.0.0.1:8080", WAIT).unwrap();
    c.set_read_timeout(Some(WAIT)).unwrap();
    let mut got = Vec::new();
    std::io::Read::read_to_end(&mut &c, &mut got).unwrap();
    assert_eq!(got, b"Hello Client!");
    // Close with a reset (SO_LINGER 0) so that no TIME_WAIT holds port 8080,
    // which the next run of the seed's server (no SO_REUSEADDR) needs.
    rustix::net::sockopt::set_socket_linger(&c, Some(Duration::ZERO)).unwrap();
    drop(c);
    assert!(child.wait().unwrap().success());
}

#[test]
fn the_seed_tcp_client_reads_an_ipcx_server() {
    let _lock = lock_port_8080();
    let dir = tempfile::tempdir().unwrap();
    let client = crate::util::seed_c(dir.path(), "tcp_client");
    // Another program may hold the port for a while: retry.
    let start = Instant::now();
    let l = loop {
        match TcpListener::bind("127.0.0.1:8080") {
            Ok(l) => break l,
            Err(Error::AddrInUse { .. }) if start.elapsed() < Duration::from_secs(120) => {
                std::thread::sleep(Duration::from_millis(200))
            }
            Err(e) => panic!("binding 127.0.0.1:8080: {e}"),
        }
    };
    let child = Command::new(client).stdout(Stdio::piped()).spawn().unwrap();
    let s = l.accept_timeout(WAIT).unwrap();
    s.send_all(b"Hello Client!").unwrap();
    // Let the client hang up first, so the TIME_WAIT is on its side.
    let mut buf = [0u8; 16];
    let _ = s.recv_timeout(&mut buf, WAIT);
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("Server says: Hello Client!"), "{text:?}");
}

/// The built example programs (`cargo test` builds them beside `deps/`).
fn example(name: &str) -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let path = exe.parent()?.parent()?.join("examples").join(name);
    path.exists().then_some(path)
}

#[test]
fn the_tcp_server_and_client_examples_talk_on_a_given_port() {
    let (Some(server), Some(client)) = (example("tcp_server"), example("tcp_client")) else {
        eprintln!("skipped: the examples are not built (run `cargo test` without --test filters)");
        return;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut srv = Command::new(server)
        .arg(port.to_string())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The server announces itself on stderr once it listens.
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(srv.stderr.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert!(line.contains("listening"), "{line}");
    let out = Command::new(client).arg(port.to_string()).output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Server says: Hello Client!\n"
    );
    assert!(srv.wait().unwrap().success());
    // A bad port is an error, not a panic.
    let out = Command::new(example("tcp_client").unwrap())
        .arg("http")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}
