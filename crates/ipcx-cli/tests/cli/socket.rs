//! `ipcx send` / `recv` / `serve` / `tour socket` over socket endpoints:
//! interop with the seed's C programs and socat, many concurrent clients,
//! bad input, and a cross-namespace TCP connection.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ipcx::socket::addr::UnixAddr;
use ipcx::socket::unix::{UnixListener, UnixStream};
use ipcx::Error;

use crate::util::{ipcx, ipcx_std, seed_c, unique};

const WAIT: Duration = Duration::from_secs(30);

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("ipcx-cli-sock-")
        .tempdir()
        .unwrap()
}

/// A background process whose output is drained by threads from the
/// start (so a full pipe never blocks it); killed on drop unless it exited.
struct Bg {
    child: Child,
    name: String,
    out: Option<JoinHandle<Vec<u8>>>,
    err: Option<JoinHandle<String>>,
}

fn drain(mut r: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = r.read_to_end(&mut v);
        v
    })
}

impl Bg {
    fn spawn(cmd: &mut Command, name: &str) -> Bg {
        Bg::spawn_lined(cmd, name, false).0
    }

    /// Spawns; with `first_line`, reads stdout's first line before draining
    /// the rest, and returns it (empty if the process printed nothing).
    fn spawn_lined(cmd: &mut Command, name: &str, first_line: bool) -> (Bg, String) {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        let stderr = child.stderr.take().unwrap();
        let err = std::thread::spawn(move || {
            String::from_utf8_lossy(&drain(stderr).join().unwrap()).into_owned()
        });
        let stdout: ChildStdout = child.stdout.take().unwrap();
        let mut line = String::new();
        let out = if first_line {
            let mut reader = BufReader::new(stdout);
            let _ = reader.read_line(&mut line);
            drain(reader)
        } else {
            drain(stdout)
        };
        let bg = Bg {
            child,
            name: name.to_owned(),
            out: Some(out),
            err: Some(err),
        };
        (bg, line)
    }

    /// Waits (bounded) for the process to exit; returns status, stdout, stderr.
    fn finish(mut self) -> (std::process::ExitStatus, Vec<u8>, String) {
        let start = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if start.elapsed() > WAIT {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("{} did not finish within {WAIT:?}", self.name);
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let out = self
            .out
            .take()
            .map(|h| h.join().unwrap())
            .unwrap_or_default();
        let err = self
            .err
            .take()
            .map(|h| h.join().unwrap())
            .unwrap_or_default();
        (status, out, err)
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `ipcx serve ARGS…`, started and read up to its `listening on` line. A
/// fixed port another program holds is retried for a while.
fn serve(args: &[&str]) -> (Bg, String) {
    let start = Instant::now();
    let (bg, line) = loop {
        let (bg, line) = Bg::spawn_lined(ipcx_std().arg("serve").args(args), "ipcx serve", true);
        if !line.is_empty() {
            break (bg, line);
        }
        let (_, _, err) = bg.finish();
        if err.contains("address in use") && start.elapsed() < Duration::from_secs(120) {
            std::thread::sleep(Duration::from_millis(200));
            continue;
        }
        panic!("ipcx serve {args:?} did not start: {err}");
    };
    let endpoint = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    (bg, endpoint)
}

fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < WAIT, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits until a Unix socket at `name` (a path, or `@NAME`) listens: the
/// file appears at bind(2), a moment before listen(2), so its presence is
/// not enough. Read from /proc/net/unix (flag `__SO_ACCEPTCON`).
fn wait_unix_listening(name: &str) {
    wait_until(&format!("{name} to listen"), || unix_listening(name));
}

fn unix_listening(name: &str) -> bool {
    std::fs::read_to_string("/proc/net/unix")
        .unwrap_or_default()
        .lines()
        .any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 7 && f[7] == name && f[3] == "00010000"
        })
}

fn wait_socket_file(path: &Path) {
    wait_unix_listening(&path.to_string_lossy());
}

fn wait_abstract(name: &str) {
    wait_unix_listening(&format!("@{name}"));
}

/// Whether something listens on TCP `port`, from /proc/net/tcp{,6} (no probe
/// connection that would steal a one-client server's accept).
fn tcp_listening(port: u16) -> bool {
    let suffix = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|f| {
        std::fs::read_to_string(f)
            .unwrap_or_default()
            .lines()
            .skip(1)
            .any(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.len() > 3 && f[1].ends_with(&suffix) && f[3] == "0A"
            })
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn have(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Runs ipcx with `args` (and `stdin`), expects exit status 1 and exactly
/// one line on stderr starting with `ipcx: `; returns that line.
fn one_line_error(args: &[&str], stdin: &[u8]) -> String {
    let out = ipcx()
        .args(args)
        .write_stdin(stdin.to_vec())
        .timeout(WAIT)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert!(err.starts_with("ipcx: "), "{err}");
    err
}

// ---------------------------------------------------------------- port 8080

/// Serialises the tests that use the seed's fixed port 8080 (also across
/// the test binaries): an abstract socket name, freed by the kernel even if
/// the holder dies.
fn lock_port_8080() -> UnixListener {
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

/// Waits until 0.0.0.0:8080 binds without SO_REUSEADDR, as the seed's
/// tcp_server needs (an earlier connection may hold TIME_WAIT for a minute).
fn wait_port_8080_free() {
    use rustix::net::{AddressFamily, SocketFlags, SocketType};
    let addr: SocketAddr = "0.0.0.0:8080".parse().unwrap();
    let start = Instant::now();
    let mut said = false;
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
        if !said {
            eprintln!("waiting for port 8080 to be free (TIME_WAIT or another program)");
            said = true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A private network namespace (own loopback, own port 8080, own
/// TIME_WAIT table), deleted on drop; `None` where the machine refuses.
struct PortNs(String);

impl PortNs {
    fn new() -> Option<PortNs> {
        let name = unique("ipcx-8080");
        ip(&["netns", "add", &name]).ok()?;
        let ns = PortNs(name);
        ip(&["-n", &ns.0, "link", "set", "lo", "up"]).ok()?;
        Some(ns)
    }
}

impl Drop for PortNs {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// `program` run inside `ns` (through `ip netns exec`), or here.
fn in_ns(ns: &Option<PortNs>, program: &Path) -> Command {
    match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", &ns.0]).arg(program);
            c
        }
        None => Command::new(program),
    }
}

/// Port 8080 for the seed's programs: a private network namespace when the
/// machine allows (nothing to share, nothing to wait for), else this host's
/// port under a lock shared by the test binaries.
fn port_8080() -> (Option<PortNs>, Option<UnixListener>) {
    match PortNs::new() {
        Some(ns) => (Some(ns), None),
        None => {
            eprintln!("note: no network namespace; using this host's port 8080");
            (None, Some(lock_port_8080()))
        }
    }
}

fn listening_8080(ns: &Option<PortNs>) -> bool {
    let table = match ns {
        Some(ns) => Command::new("ip")
            .args(["netns", "exec", &ns.0, "cat", "/proc/net/tcp"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default(),
        None => std::fs::read_to_string("/proc/net/tcp").unwrap_or_default(),
    };
    table.lines().skip(1).any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() > 3 && f[1].ends_with(":1F90") && f[3] == "0A"
    })
}

#[test]
fn seed_tcp_server_then_ipcx_recv_connect_prints_hello_client() {
    let (ns, _lock) = port_8080();
    if ns.is_none() {
        wait_port_8080_free();
    }
    let dir = tmp();
    let server = seed_c(dir.path(), "tcp_server");
    let c_server = Bg::spawn(&mut in_ns(&ns, &server), "tcp_server");
    wait_until("tcp_server to listen on 8080", || listening_8080(&ns));
    let exe = assert_cmd::cargo::cargo_bin("ipcx");
    // --count 13: hang up as soon as the greeting is in.
    let out = in_ns(&ns, &exe)
        .args(["recv", "tcp:127.0.0.1:8080", "--connect", "--count", "13"])
        .args(["--timeout", "20s"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Hello Client!");
    let (status, _, _) = c_server.finish();
    assert!(status.success());
}

#[test]
fn ipcx_serve_message_then_seed_tcp_client_prints_server_says() {
    let (ns, _lock) = port_8080();
    let dir = tmp();
    let client = seed_c(dir.path(), "tcp_client");
    let exe = assert_cmd::cargo::cargo_bin("ipcx");
    let (server, line) = Bg::spawn_lined(
        in_ns(&ns, &exe).args([
            "serve",
            "tcp:127.0.0.1:8080",
            "--message",
            "Hello Client!",
            "--clients",
            "1",
            "--timeout",
            "30s",
        ]),
        "ipcx serve",
        true,
    );
    assert_eq!(line.trim(), "listening on tcp:127.0.0.1:8080");
    let out = in_ns(&ns, &client).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    // The C client prints its receive buffer with %s, without terminating
    // it: what follows the greeting is whatever was in its stack.
    assert!(text.starts_with("Server says: Hello Client!"), "{text:?}");
    let (status, _, err) = server.finish();
    assert!(status.success(), "{err}");
}

// -------------------------------------------------------------------- socat

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[test]
fn socat_and_ipcx_interoperate_on_unix_sockets_both_ways() {
    if !have("socat", "-V") {
        eprintln!("skipped: socat is not installed (apt-get install socat)");
        return;
    }
    let dir = tmp();
    let data = payload(100_000);

    // socat connects, ipcx listens.
    let p1 = dir.path().join("a.sock");
    let rx = Bg::spawn(
        ipcx_std().args([
            "recv",
            &format!("unix:{}", p1.display()),
            "--timeout",
            "20s",
        ]),
        "ipcx recv",
    );
    wait_socket_file(&p1);
    let mut socat = Command::new("socat")
        .args(["-u", "STDIN", &format!("UNIX-CONNECT:{}", p1.display())])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    socat.stdin.take().unwrap().write_all(&data).unwrap();
    assert!(socat.wait().unwrap().success());
    let (status, out, err) = rx.finish();
    assert!(status.success(), "{err}");
    assert!(out == data, "ipcx recv got {} bytes", out.len());
    assert!(!p1.exists(), "ipcx recv left its socket file");

    // ipcx connects, socat listens.
    let p2 = dir.path().join("b.sock");
    let socat = Bg::spawn(
        Command::new("socat").args(["-u", &format!("UNIX-LISTEN:{}", p2.display()), "STDOUT"]),
        "socat",
    );
    wait_socket_file(&p2);
    let out = ipcx()
        .args([
            "send",
            &format!("unix:{}", p2.display()),
            "--timeout",
            "20s",
        ])
        .write_stdin(data.clone())
        .timeout(WAIT)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (status, got, _) = socat.finish();
    assert!(status.success());
    assert!(got == data, "socat got {} bytes", got.len());

    // Abstract names: socat finds ipcx's exact-length name.
    let name = unique("ipcx-cli-abstract");
    let rx = Bg::spawn(
        ipcx_std().args(["recv", &format!("unix:@{name}"), "--timeout", "20s"]),
        "ipcx recv",
    );
    wait_abstract(&name);
    let out = Command::new("socat")
        .args(["-u", "OPEN:/dev/null", &format!("ABSTRACT-CONNECT:{name}")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (status, got, err) = rx.finish();
    assert!(status.success(), "{err}");
    assert!(got.is_empty());
}

#[test]
fn socat_and_ipcx_interoperate_on_tcp_both_ways() {
    if !have("socat", "-V") {
        eprintln!("skipped: socat is not installed (apt-get install socat)");
        return;
    }
    let data = payload(200_000);

    // socat connects, ipcx listens.
    let port = free_port();
    let rx = Bg::spawn(
        ipcx_std().args(["recv", &format!("tcp:127.0.0.1:{port}"), "--timeout", "20s"]),
        "ipcx recv",
    );
    wait_until("ipcx recv to listen", || tcp_listening(port));
    let mut socat = Command::new("socat")
        .args(["-u", "STDIN", &format!("TCP:127.0.0.1:{port}")])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    socat.stdin.take().unwrap().write_all(&data).unwrap();
    assert!(socat.wait().unwrap().success());
    let (status, out, err) = rx.finish();
    assert!(status.success(), "{err}");
    assert!(out == data, "ipcx recv got {} bytes", out.len());

    // ipcx connects, socat listens.
    let port = free_port();
    let socat = Bg::spawn(
        Command::new("socat").args([
            "-u",
            &format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr"),
            "STDOUT",
        ]),
        "socat",
    );
    wait_until("socat to listen", || tcp_listening(port));
    let out = ipcx()
        .args(["send", &format!("tcp:127.0.0.1:{port}"), "--timeout", "20s"])
        .write_stdin(data.clone())
        .timeout(WAIT)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (status, got, _) = socat.finish();
    assert!(status.success());
    assert!(got == data, "socat got {} bytes", got.len());

    // socat as a client of ipcx serve --echo: the bytes come back.
    let (server, endpoint) = serve(&["tcp:127.0.0.1:0", "--echo", "--clients", "1"]);
    let addr = endpoint.strip_prefix("tcp:").unwrap();
    let out = Command::new("socat")
        .args(["-t", "10", "-", &format!("TCP:{addr}")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(b"echo me\0\xff")?;
            c.wait_with_output()
        })
        .unwrap();
    assert_eq!(out.stdout, b"echo me\0\xff");
    let (status, _, err) = server.finish();
    assert!(status.success(), "{err}");
}

// ------------------------------------------------------------- concurrency

/// Deterministic message `i` of client `c`: 0 to 300 bytes of varied values.
fn message(c: u64, i: u64) -> Vec<u8> {
    let mut x = (c << 32 | i).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let len = (next() % 301) as usize;
    (0..len).map(|_| next() as u8).collect()
}

#[test]
fn serve_echo_answers_200_concurrent_clients_with_1000_framed_messages_each() {
    const CLIENTS: u64 = 200;
    const MESSAGES: u64 = 1000;
    const BATCH: u64 = 50;
    let dir = tmp();
    let path = dir.path().join("echo.sock");
    let (server, _) = serve(&[
        &format!("unix:{}", path.display()),
        "--echo",
        "--clients",
        &CLIENTS.to_string(),
    ]);
    let addr = UnixAddr::path(&path).unwrap();
    let handles: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let addr = addr.clone();
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || -> Result<u64, String> {
                    let s = UnixStream::connect_timeout(&addr, WAIT).map_err(|e| e.to_string())?;
                    s.set_read_timeout(Some(Duration::from_secs(120)))
                        .map_err(|e| e.to_string())?;
                    let (mut rx, mut tx) = s.frames(4096);
                    let mut echoed = 0;
                    for batch in 0..MESSAGES / BATCH {
                        let ids = batch * BATCH..(batch + 1) * BATCH;
                        for i in ids.clone() {
                            tx.send(&message(c, i)).map_err(|e| e.to_string())?;
                        }
                        for i in ids {
                            let got = rx
                                .recv()
                                .map_err(|e| format!("client {c} message {i}: {e}"))?
                                .ok_or_else(|| format!("client {c}: server closed at {i}"))?;
                            if got != message(c, i) {
                                return Err(format!("client {c} message {i} differs"));
                            }
                            echoed += 1;
                        }
                    }
                    Ok(echoed)
                })
                .unwrap()
        })
        .collect();
    let mut total = 0;
    for h in handles {
        total += h.join().unwrap().unwrap();
    }
    assert_eq!(total, CLIENTS * MESSAGES);
    let (status, _, err) = server.finish();
    assert!(status.success(), "{err}");
    assert!(!path.exists(), "ipcx serve left its socket file");
}

// ------------------------------------------------------- messages, options

fn udp_bound(port: u16) -> bool {
    let suffix = format!(":{port:04X}");
    std::fs::read_to_string("/proc/net/udp")
        .unwrap_or_default()
        .lines()
        .skip(1)
        .any(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|a| a.ends_with(&suffix))
        })
}

#[test]
fn datagram_seqpacket_and_udp_keep_one_message_per_send() {
    let dir = tmp();
    let dgram = dir.path().join("d.sock");
    let seq = unique("ipcx-cli-seq");
    let port = free_port();
    let cases: [(String, Box<dyn Fn() -> bool>); 3] = [
        (
            format!("unix-dgram:{}", dgram.display()),
            Box::new(|| ipcx::socket::unix::is_socket_file(&dgram)),
        ),
        (
            format!("unix-seqpacket:@{seq}"),
            Box::new(|| unix_listening(&format!("@{seq}"))),
        ),
        (
            format!("udp:127.0.0.1:{port}"),
            Box::new(move || udp_bound(port)),
        ),
    ];
    for (endpoint, bound) in &cases {
        let rx = Bg::spawn(
            ipcx_std().args([
                "recv",
                endpoint,
                "--count",
                "3",
                "--lines",
                "--timeout",
                "20s",
            ]),
            "ipcx recv",
        );
        wait_until(endpoint, bound);
        let out = ipcx()
            .args(["send", endpoint, "--lines", "--timeout", "5s"])
            .write_stdin("first\nsecond message\nthird\n")
            .timeout(WAIT)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{endpoint}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (status, out, err) = rx.finish();
        assert!(status.success(), "{endpoint}: {err}");
        assert_eq!(
            String::from_utf8_lossy(&out),
            "first\nsecond message\nthird\n",
            "{endpoint}"
        );
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "a socket file was left"
    );
}

#[test]
fn allow_uid_admits_only_the_kernel_reported_uid() {
    let me = rustix::process::getuid().as_raw();
    // Another uid: the client (this process) is refused, with a log line.
    let name = unique("ipcx-cli-uid");
    let (server, _) = serve(&[
        &format!("unix:@{name}"),
        "--echo",
        "--allow-uid",
        &(me + 1).to_string(),
        "--clients",
        "1",
    ]);
    let c = UnixStream::connect(&UnixAddr::new_abstract_name(&name).unwrap()).unwrap();
    c.set_read_timeout(Some(WAIT)).unwrap();
    let _ = c.send_all(b"let me in");
    let mut buf = [0u8; 16];
    let got = c.recv(&mut buf);
    assert!(
        matches!(got, Ok(0) | Err(Error::Disconnected { .. })),
        "{got:?}"
    );
    let (status, _, err) = server.finish();
    assert!(status.success());
    assert!(
        err.contains(&format!("refused a client with uid {me}")),
        "{err}"
    );

    // Our own uid: admitted and echoed.
    let name = unique("ipcx-cli-uid");
    let (server, endpoint) = serve(&[
        &format!("unix:@{name}"),
        "--echo",
        "--allow-uid",
        &me.to_string(),
        "--clients",
        "1",
    ]);
    let out = ipcx()
        .args([
            "send",
            &endpoint,
            "--message",
            "welcome",
            "--timeout",
            "20s",
        ])
        .timeout(WAIT)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"welcome");
    let (status, _, err) = server.finish();
    assert!(status.success(), "{err}");
}

#[test]
fn serve_binds_loopback_only_unless_public() {
    let err = one_line_error(&["serve", "tcp:0.0.0.0:0", "--echo"], b"");
    assert!(
        err.contains("not a loopback address") && err.contains("--public"),
        "{err}"
    );
    let err = one_line_error(
        &["serve", "tcp:127.0.0.1:0", "--echo", "--allow-uid", "0"],
        b"",
    );
    assert!(err.contains("SO_PEERCRED"), "{err}");
}

// --------------------------------------------------------------- bad input

#[test]
fn bad_socket_input_is_a_one_line_error() {
    let dir = tmp();
    let base = dir.path().to_string_lossy().len() + 1;
    for len in [108usize, 200] {
        let path = dir.path().join("p".repeat(len - base));
        let endpoint = format!("unix:{}", path.display());
        let err = one_line_error(&["recv", &endpoint], b"");
        assert!(
            err.contains(&format!("is {len} bytes, over the limit of 107 bytes")),
            "{err}"
        );
        let err = one_line_error(&["send", &endpoint, "-m", "x"], b"");
        assert!(err.contains(&format!("{len} bytes")), "{err}");
        assert!(!path.exists());
    }

    // Binding over a live socket: refused, and the live server keeps serving.
    let live = dir.path().join("live.sock");
    let live_ep = format!("unix:{}", live.display());
    let (server, _) = serve(&[&live_ep, "--echo"]);
    let err = one_line_error(&["recv", &live_ep, "--timeout", "5s"], b"");
    assert!(err.contains("address in use"), "{err}");
    let out = ipcx()
        .args(["send", &live_ep, "-m", "still serving", "--timeout", "20s"])
        .timeout(WAIT)
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"still serving");
    drop(server);

    // Binding over a regular file: refused, the file untouched.
    let file = dir.path().join("file.txt");
    std::fs::write(&file, b"keep me").unwrap();
    let err = one_line_error(
        &["serve", &format!("unix:{}", file.display()), "--echo"],
        b"",
    );
    assert!(err.contains("not a socket"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me");

    // Connecting to a missing socket.
    let missing = dir.path().join("missing.sock");
    let err = one_line_error(
        &["send", &format!("unix:{}", missing.display()), "-m", "x"],
        b"",
    );
    assert!(err.contains("not found"), "{err}");
    let err = one_line_error(
        &[
            "recv",
            &format!("unix-seqpacket:{}", missing.display()),
            "--connect",
        ],
        b"",
    );
    assert!(err.contains("not found"), "{err}");

    // A UDP datagram of 65,508 bytes.
    let port = free_port();
    let err = one_line_error(
        &["send", &format!("udp:127.0.0.1:{port}")],
        &vec![b'u'; 65_508],
    );
    assert!(
        err.contains("65508 bytes") && err.contains("65507"),
        "{err}"
    );

    // Connecting to a TCP port nobody listens on.
    let err = one_line_error(
        &["send", &format!("tcp:127.0.0.1:{}", free_port()), "-m", "x"],
        b"",
    );
    assert!(err.contains("nobody is listening"), "{err}");
}

// ------------------------------------------------------------------ tour

#[test]
fn tour_socket_passes_and_leaves_no_socket_file() {
    let dir = tmp();
    let out = ipcx()
        .args(["tour", "socket"])
        .env("TMPDIR", dir.path())
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Server says: Hello Client!"), "{stdout}");
    assert!(stdout.contains("SCM_RIGHTS"), "{stdout}");
    assert!(stdout.contains("2 passed, 0 failed"), "{stdout}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

// ------------------------------------------------------------- cross-host

/// Two network namespaces joined by a veth pair; deleted on drop.
struct Netns {
    names: Vec<String>,
}

impl Drop for Netns {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = Command::new("ip").args(["netns", "del", n]).status();
        }
    }
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

#[test]
fn tcp_crosses_a_veth_link_between_two_network_namespaces() {
    let id = std::process::id();
    let (a, b) = (format!("ipcx-a-{id}"), format!("ipcx-b-{id}"));
    // Interface names are at most 15 bytes.
    let (va, vb) = (
        format!("ixa{}", id % 1_000_000),
        format!("ixb{}", id % 1_000_000),
    );
    let subnet = id % 64 * 4;
    let (addr_a, addr_b) = (
        format!("10.213.{}.{}", id / 64 % 256, subnet + 1),
        format!("10.213.{}.{}", id / 64 % 256, subnet + 2),
    );
    if let Err(e) = ip(&["netns", "add", &a]) {
        eprintln!("skipped: this machine refuses network namespaces ({e})");
        return;
    }
    let mut ns = Netns {
        names: vec![a.clone()],
    };
    ip(&["netns", "add", &b]).unwrap();
    ns.names.push(b.clone());
    let (cidr_a, cidr_b) = (format!("{addr_a}/30"), format!("{addr_b}/30"));
    let setup = [
        vec![
            "link", "add", &va, "netns", &a, "type", "veth", "peer", "name", &vb, "netns", &b,
        ],
        vec!["-n", &a, "addr", "add", &cidr_a, "dev", &va],
        vec!["-n", &b, "addr", "add", &cidr_b, "dev", &vb],
        vec!["-n", &a, "link", "set", &va, "up"],
        vec!["-n", &b, "link", "set", &vb, "up"],
        vec!["-n", &a, "link", "set", "lo", "up"],
        vec!["-n", &b, "link", "set", "lo", "up"],
    ];
    for args in &setup {
        if let Err(e) = ip(args) {
            eprintln!("skipped: cannot set up the veth link ({e})");
            return;
        }
    }
    let exe = assert_cmd::cargo::cargo_bin("ipcx");
    let endpoint = format!("tcp:{addr_a}:7070");

    // Without --public the server refuses the non-loopback address.
    let out = Command::new("ip")
        .args(["netns", "exec", &a])
        .arg(&exe)
        .args(["serve", &endpoint, "--echo"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--public"));

    let (server, line) = Bg::spawn_lined(
        Command::new("ip")
            .args(["netns", "exec", &a])
            .arg(&exe)
            .args([
                "serve",
                &endpoint,
                "--public",
                "--echo",
                "--clients",
                "1",
                "--timeout",
                "30s",
            ]),
        "ipcx serve in namespace A",
        true,
    );
    assert_eq!(line.trim(), format!("listening on {endpoint}"));
    let data = payload(50_000);
    let out = Command::new("ip")
        .args(["netns", "exec", &b])
        .arg(&exe)
        .args(["send", &endpoint, "--timeout", "20s"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(&data)?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout == data,
        "echo from namespace A: {} bytes",
        out.stdout.len()
    );
    let (status, _, err) = server.finish();
    assert!(status.success(), "{err}");
    drop(ns);
    // Cleaned up: neither namespace remains.
    let list = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(!list.contains(&a) && !list.contains(&b), "{list}");
}

#[test]
fn send_listens_and_recv_connects_when_asked() {
    for scheme in ["unix", "unix-seqpacket"] {
        let name = unique("ipcx-cli-listen");
        let endpoint = format!("{scheme}:@{name}");
        let tx = Bg::spawn(
            ipcx_std().args(["send", &endpoint, "--listen", "-m", "from the listener"]),
            "ipcx send --listen",
        );
        wait_abstract(&name);
        let out = ipcx()
            .args(["recv", &endpoint, "--connect", "--timeout", "20s"])
            .timeout(WAIT)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{endpoint}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, b"from the listener", "{endpoint}");
        let (status, _, err) = tx.finish();
        assert!(status.success(), "{endpoint}: {err}");
    }
}
