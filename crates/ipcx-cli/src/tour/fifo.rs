//! Tour scenarios for named pipes: the seed's `fifo_writer.c` and
//! `fifo_reader.c`.
//!
//! The tour makes a FIFO (mode 0600) in a private temporary directory, then
//! starts a writer and a reader as two separate processes that share nothing
//! but the path. The writer waits (at most 10 s) for a reader, sends the 16
//! bytes "Hello from FIFO!" and closes; the reader waits for a writer, reads
//! to end-of-file and reports. The tour verifies the reader's report and
//! removes the FIFO and the directory.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anyhow::{bail, Context};
use ipcx::fifo::{Fifo, FifoReader, FifoWriter};

use super::{peer_command, wait_peer, Reporter, Scenario};

/// What the writer sends: the seed's 16 bytes, no NUL.
const MESSAGE: &[u8] = b"Hello from FIFO!";

/// How long each peer waits for the other.
const PEER_TIMEOUT: &str = "10s";

/// How long the tour waits for a peer to finish.
const WAIT: Duration = Duration::from_secs(20);

/// The scenarios of this mechanism.
pub fn scenarios() -> Vec<Scenario> {
    vec![Scenario {
        mechanism: "fifo",
        title: "writer and reader, unrelated processes (fifo_writer.c, fifo_reader.c)",
        run: writer_reader,
    }]
}

/// A directory only this user can enter, removed with its contents on drop.
struct PrivateDir {
    path: PathBuf,
}

impl PrivateDir {
    fn new() -> anyhow::Result<PrivateDir> {
        static N: AtomicU32 = AtomicU32::new(0);
        let base = std::env::temp_dir();
        loop {
            let path = base.join(format!(
                "ipcx-tour-fifo-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            match std::fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return Ok(PrivateDir { path }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(e).with_context(|| format!("making directory {}", path.display()))
                }
            }
        }
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

fn writer_reader(rep: &mut Reporter) -> anyhow::Result<()> {
    let dir = PrivateDir::new()?;
    rep.step(format!(
        "private directory {} (mode 0700)",
        dir.path.display()
    ));
    let path = dir.path.join("myfifo");
    let fifo = Fifo::builder(&path).create()?;
    rep.step(format!(
        "mkfifo {} mode 0600 (owner only); the tour owns it and removes it at the end",
        path.display()
    ));
    let path_arg = path.to_str().context("the temporary path is not UTF-8")?;

    let writer = peer_command("fifo", "writer", &[path_arg, PEER_TIMEOUT])?
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting the writer process")?;
    rep.step(format!(
        "started writer process {} first: it waits up to {PEER_TIMEOUT} for a reader instead of blocking forever",
        writer.id()
    ));
    let reader = match peer_command("fifo", "reader", &[path_arg, PEER_TIMEOUT])?
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(r) => r,
        Err(e) => {
            let _ = wait_peer(writer, "the writer", WAIT);
            return Err(e).context("starting the reader process");
        }
    };
    rep.step(format!(
        "started reader process {}: writer and reader share nothing but the path",
        reader.id()
    ));
    let written = wait_peer(writer, "the writer", WAIT);
    let read = wait_peer(reader, "the reader", WAIT);
    let (written, read) = (written?, read?);
    for line in written.lines() {
        rep.step(format!("writer: {line}"));
    }
    for line in read.lines() {
        rep.step(format!("reader: {line}"));
    }
    let expected =
        "Received: Hello from FIFO!\nRead 16 bytes, then end-of-file: the writer hung up\n";
    if read != expected {
        bail!("the reader reported {read:?}, expected {expected:?}");
    }
    rep.step("verified: the reader got exactly the 16 bytes \"Hello from FIFO!\"");
    fifo.remove()?;
    if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_fifo()) {
        bail!("the FIFO {} is still there after removal", path.display());
    }
    rep.step(format!("removed {}: nothing left behind", path.display()));
    rep.fact("bytes", MESSAGE.len().to_string());
    Ok(())
}

/// Runs one peer role of these scenarios.
pub fn peer(role: &str, args: &[String]) -> anyhow::Result<i32> {
    let (path, timeout) = match args {
        [path, timeout] => (
            Path::new(path),
            crate::cli::parse_duration(timeout).map_err(anyhow::Error::msg)?,
        ),
        _ => bail!("tour fifo {role}: expected PATH TIMEOUT"),
    };
    match role {
        "writer" => writer(path, timeout),
        "reader" => reader(path, timeout),
        _ => Err(super::unknown_role("fifo", role)),
    }
}

/// The writer: waits for a reader, sends the message in one atomic write.
fn writer(path: &Path, timeout: Duration) -> anyhow::Result<i32> {
    let w = FifoWriter::open(path, Some(timeout))?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "a reader opened the FIFO; opened it for writing")?;
    w.write_message_timeout(MESSAGE, timeout)?;
    writeln!(
        stdout,
        "wrote {} bytes \"Hello from FIFO!\" in one atomic write, then closed",
        MESSAGE.len()
    )?;
    Ok(0)
}

/// The reader: waits for a writer, reads to end-of-file.
fn reader(path: &Path, timeout: Duration) -> anyhow::Result<i32> {
    let mut r = FifoReader::open(path, Some(timeout))?;
    let mut got = Vec::new();
    let mut buf = [0u8; 100];
    loop {
        let n = r.read_timeout(&mut buf, timeout)?;
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
        if got.len() > 4096 {
            bail!("the writer sent more than 4096 bytes");
        }
    }
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "Received: {}", String::from_utf8_lossy(&got))?;
    writeln!(
        stdout,
        "Read {} bytes, then end-of-file: the writer hung up",
        got.len()
    )?;
    Ok(0)
}
