//! Tour scenarios for sockets.
//!
//! 1. The seed's TCP server and client, as two processes, on an ephemeral
//!    loopback port: the server sends `Hello Client!`, the client prints
//!    `Server says: Hello Client!`.
//! 2. File-descriptor passing: this process opens a temporary file and hands
//!    the open descriptor over a Unix socket (`SCM_RIGHTS`) to another
//!    process, which reads the file through it; the peer's credentials
//!    (`SO_PEERCRED`) name the process that connected. The socket lives in a
//!    private temporary directory and is gone afterwards.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsFd;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use ipcx::socket::addr::UnixAddr;
use ipcx::socket::tcp::{TcpListener, TcpStream};
use ipcx::socket::unix::{UnixListener, UnixStream};

use super::{peer_command, unknown_role, wait_peer, Reporter, Scenario};

const GREETING: &str = "Hello Client!";
const FILE_TEXT: &str = "This text was read through a descriptor passed with SCM_RIGHTS.\n";
const WAIT: Duration = Duration::from_secs(20);

/// The scenarios of this mechanism.
pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            mechanism: "socket",
            title: "TCP server and client (the seed's tcp_server/tcp_client)",
            run: tcp_scenario,
        },
        Scenario {
            mechanism: "socket",
            title: "passing an open file descriptor over a Unix socket (SCM_RIGHTS)",
            run: fd_scenario,
        },
    ]
}

fn tcp_scenario(r: &mut Reporter) -> anyhow::Result<()> {
    let mut server = peer_command("socket", "tcp-server", &[])?
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting the TCP server process")?;
    // The server prints its port once it listens.
    let mut line = String::new();
    let stdout = server.stdout.take().context("server stdout")?;
    let mut reader = BufReader::new(stdout);
    reader
        .read_line(&mut line)
        .context("reading the server's port")?;
    let port: u16 = match line.trim().parse() {
        Ok(p) => p,
        Err(_) => {
            let _ = server.kill();
            let _ = server.wait();
            anyhow::bail!("the server did not report a port (got {line:?})");
        }
    };
    r.step(format!(
        "server process {} listens on 127.0.0.1:{port} (SO_REUSEADDR)",
        server.id()
    ));
    let client = peer_command("socket", "tcp-client", &[&port.to_string()])?
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting the TCP client process")?;
    let client_id = client.id();
    let out = wait_peer(client, "the TCP client", WAIT)?;
    drop(reader);
    wait_peer(server, "the TCP server", WAIT)?;
    r.step(format!(
        "client process {client_id} printed: {}",
        out.trim_end()
    ));
    let expected = format!("Server says: {GREETING}");
    anyhow::ensure!(
        out.trim_end() == expected,
        "expected {expected:?}, got {:?}",
        out.trim_end()
    );
    r.fact("bytes", GREETING.len().to_string());
    Ok(())
}

fn fd_scenario(r: &mut Reporter) -> anyhow::Result<()> {
    let dir = PrivateDir::new()?;
    let file_path = dir.path().join("secret.txt");
    std::fs::write(&file_path, FILE_TEXT).context("writing the temporary file")?;
    let sock_path = dir.path().join("fd.sock");
    let addr = UnixAddr::path(&sock_path)?;
    let listener = UnixListener::bind(&addr)?;
    r.step(format!(
        "listening on unix:{} (mode 0600)",
        sock_path.display()
    ));
    let child = peer_command("socket", "fd-receiver", &[&sock_path.to_string_lossy()])?
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting the receiving process")?;
    let child_pid = child.id();
    let conn = match listener.accept_timeout(WAIT) {
        Ok(c) => c,
        Err(e) => {
            let _ = wait_peer(child, "the receiver", Duration::from_millis(1));
            return Err(e.into());
        }
    };
    let cred = conn.peer_cred();
    r.step(format!(
        "accepted a client; SO_PEERCRED says pid {} uid {} gid {}",
        cred.pid, cred.uid, cred.gid
    ));
    let file = std::fs::File::open(&file_path).context("opening the temporary file")?;
    conn.send_with_fds(b"F", &[file.as_fd()])?;
    drop(file);
    // The temporary file's name can go too: the receiver holds it open.
    std::fs::remove_file(&file_path).context("removing the temporary file")?;
    r.step("sent the open descriptor with SCM_RIGHTS, closed ours and unlinked the file");
    let out = wait_peer(child, "the receiver", WAIT)?;
    r.step(format!("the receiver read through it: {:?}", out));
    anyhow::ensure!(
        out == FILE_TEXT,
        "the receiver read {out:?}, expected {FILE_TEXT:?}"
    );
    anyhow::ensure!(
        cred.pid == child_pid as i32,
        "SO_PEERCRED names pid {}, the receiver is {child_pid}",
        cred.pid
    );
    r.fact("peer pid matches", "yes");
    drop(conn);
    drop(listener);
    anyhow::ensure!(!sock_path.exists(), "the socket file was left behind");
    r.step("the listener removed its socket file");
    Ok(())
}

/// A directory only this user can enter, removed with its contents on drop.
struct PrivateDir(std::path::PathBuf);

impl PrivateDir {
    fn new() -> anyhow::Result<PrivateDir> {
        use std::os::unix::fs::DirBuilderExt;
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "ipcx-tour-socket-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        Ok(PrivateDir(path))
    }

    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs one peer role of these scenarios.
pub fn peer(role: &str, args: &[String]) -> anyhow::Result<i32> {
    match role {
        "tcp-server" => {
            // The seed's tcp_server, correctly: SO_REUSEADDR, every descriptor closed.
            let listener = TcpListener::bind("127.0.0.1:0")?;
            println!("{}", listener.local_addr().port());
            std::io::stdout().flush()?;
            let client = listener.accept_timeout(WAIT)?;
            client.send_all(GREETING.as_bytes())?;
            Ok(0)
        }
        "tcp-client" => {
            let port: u16 = args
                .first()
                .and_then(|p| p.parse().ok())
                .context("tcp-client needs a port")?;
            let conn = TcpStream::connect_timeout(("127.0.0.1", port), WAIT)?;
            conn.set_read_timeout(Some(WAIT))?;
            let mut buf = Vec::new();
            (&conn).read_to_end(&mut buf)?;
            println!("Server says: {}", String::from_utf8_lossy(&buf));
            Ok(0)
        }
        "fd-receiver" => {
            let path = args.first().context("fd-receiver needs a socket path")?;
            let conn = UnixStream::connect_timeout(&UnixAddr::path(path)?, WAIT)?;
            conn.set_read_timeout(Some(WAIT))?;
            let mut tag = [0u8; 1];
            let got = conn.recv_with_fds(&mut tag, 1)?;
            let fd = got
                .fds
                .into_iter()
                .next()
                .context("no descriptor arrived")?;
            let mut text = String::new();
            std::fs::File::from(fd).read_to_string(&mut text)?;
            print!("{text}");
            Ok(0)
        }
        _ => Err(unknown_role("socket", role)),
    }
}
