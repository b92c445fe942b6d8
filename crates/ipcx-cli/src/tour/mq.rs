//! Tour scenarios for message queues.
//!
//! 1. The seed's System V pair: a sender process puts "Hello Message Queue!"
//!    (type 1, a 100-byte NUL-padded body) on the queue `ftok("progfile", 65)`
//!    and exits; a receiver process takes it, prints `Received: …` and removes
//!    the queue. Unlike the seed, `progfile` exists (in a private temporary
//!    directory), the queue is mode 0600, and the tour checks that the queue
//!    is gone afterwards.
//! 2. POSIX priorities: a sender process sends "one", "five" and "three" with
//!    priorities 1, 5 and 3; a receiver process gets them as 5, 3, 1.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use ipcx::key::Key;
use ipcx::mq::{posix, sysv};

use super::{peer_command, wait_peer, Reporter, Scenario};

/// The seed's message and body size.
const SEED_TEXT: &str = "Hello Message Queue!";
const SEED_BODY: usize = 100;
/// How long a peer may take.
const PEER_TIMEOUT: Duration = Duration::from_secs(20);

/// The scenarios of this mechanism.
pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            mechanism: "mq",
            title: "System V queue: the seed's sender and receiver",
            run: seed_pair,
        },
        Scenario {
            mechanism: "mq",
            title: "POSIX queue: priorities 1, 5, 3 come out 5, 3, 1",
            run: priorities,
        },
    ]
}

/// Runs one peer role of these scenarios.
pub fn peer(role: &str, args: &[String]) -> anyhow::Result<i32> {
    let arg = |i: usize| -> anyhow::Result<&str> {
        args.get(i)
            .map(String::as_str)
            .with_context(|| format!("tour mq {role}: missing argument {}", i + 1))
    };
    match role {
        "sysv-sender" => {
            let key = Key::from_path(Path::new(arg(0)?).join("progfile"), 65)?;
            let mut q = sysv::MessageQueue::builder(key).open_or_create()?;
            // The message must outlive this process: the receiver removes the queue.
            q.keep();
            let mut body = SEED_TEXT.as_bytes().to_vec();
            body.resize(SEED_BODY, 0);
            q.send_timeout(1, &body, PEER_TIMEOUT)?;
            println!("Message Sent!");
            Ok(0)
        }
        "sysv-receiver" => {
            let key = Key::from_path(Path::new(arg(0)?).join("progfile"), 65)?;
            let q = sysv::MessageQueue::builder(key).open_or_create()?;
            let mut body = [0u8; SEED_BODY];
            let m = q.recv_timeout(sysv::TypeSelector::Exactly(1), &mut body, PEER_TIMEOUT)?;
            let text = &body[..m.len];
            let text = &text[..text.iter().position(|&b| b == 0).unwrap_or(text.len())];
            println!("Received: {}", String::from_utf8_lossy(text));
            q.remove()?;
            Ok(0)
        }
        "posix-sender" => {
            let q = posix::MessageQueue::builder(arg(0)?).open()?;
            for (text, prio) in [("one", 1), ("five", 5), ("three", 3)] {
                q.send_timeout(text.as_bytes(), prio, PEER_TIMEOUT)?;
                println!("sent {text:?} with priority {prio}");
            }
            Ok(0)
        }
        "posix-receiver" => {
            let q = posix::MessageQueue::builder(arg(0)?).open()?;
            let mut buf = vec![0u8; q.msgsize()];
            for _ in 0..3 {
                let (len, prio) = q.recv_timeout(&mut buf, PEER_TIMEOUT)?;
                println!("{} {prio}", String::from_utf8_lossy(&buf[..len]));
            }
            Ok(0)
        }
        _ => Err(super::unknown_role("mq", role)),
    }
}

/// A private (0700) temporary directory, removed with its contents on drop.
struct PrivateDir(PathBuf);

impl PrivateDir {
    fn new() -> anyhow::Result<PrivateDir> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path =
            std::env::temp_dir().join(format!("ipcx-tour-mq-{}-{nanos}", std::process::id()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        Ok(PrivateDir(path))
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Removes the queue of `key` if it is still there (a failed run).
struct RemoveOnDrop(Key);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Ok(q) = sysv::MessageQueue::builder(self.0).open() {
            let _ = q.remove();
        }
    }
}

fn run_peer(role: &str, arg: &str, what: &str) -> anyhow::Result<String> {
    let child = peer_command("mq", role, &[arg])?
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting the {what}"))?;
    wait_peer(child, what, PEER_TIMEOUT)
}

fn seed_pair(r: &mut Reporter) -> anyhow::Result<()> {
    let dir = PrivateDir::new()?;
    std::fs::write(dir.0.join("progfile"), b"")?;
    let key = Key::from_path(dir.0.join("progfile"), 65)?;
    let _cleanup = RemoveOnDrop(key);
    r.step(format!(
        "key ftok(\"{}/progfile\", 65) = {key}",
        dir.0.display()
    ));
    let dir_arg = dir
        .0
        .to_str()
        .context("temporary directory path is not UTF-8")?;

    let start = Instant::now();
    let out = run_peer("sysv-sender", dir_arg, "sender process")?;
    r.step(format!("sender process: {}", out.trim()));
    let q = sysv::MessageQueue::builder(key).open()?;
    let st = q.stat()?;
    r.step(format!(
        "queue {key} (id {}): {} message of {} bytes, mode {:o}, last sender pid {}",
        st.id,
        st.messages,
        st.bytes,
        st.mode,
        st.last_sender.map_or("-".into(), |p| p.to_string())
    ));
    anyhow::ensure!(
        st.messages == 1 && st.bytes == SEED_BODY as u64 && st.mode == 0o600,
        "expected one {SEED_BODY}-byte message in a mode 600 queue"
    );
    drop(q);

    let out = run_peer("sysv-receiver", dir_arg, "receiver process")?;
    let elapsed = start.elapsed();
    r.step(format!("receiver process: {}", out.trim()));
    anyhow::ensure!(
        out.trim_end() == format!("Received: {SEED_TEXT}"),
        "the receiver printed {out:?}"
    );
    match sysv::MessageQueue::builder(key).open() {
        Err(ipcx::Error::NotFound { .. }) => r.step("the receiver removed the queue"),
        Ok(_) => anyhow::bail!("the queue {key} is still there after the receiver"),
        Err(e) => return Err(e.into()),
    }
    r.fact("body", format!("{SEED_BODY} bytes"));
    r.fact(
        "two processes",
        format!("{:.1} ms", elapsed.as_secs_f64() * 1e3),
    );
    Ok(())
}

fn priorities(r: &mut Reporter) -> anyhow::Result<()> {
    let name = format!("/ipcx-tour-prio-{}", std::process::id());
    let q = posix::MessageQueue::builder(&name)
        .capacity(3)
        .msgsize(64)
        .create()?;
    r.step(format!(
        "created {name}: capacity {} messages of up to {} bytes",
        q.capacity(),
        q.msgsize()
    ));
    let out = run_peer("posix-sender", &name, "sender process")?;
    for line in out.lines() {
        r.step(format!("sender process: {line}"));
    }
    let queued = q.attributes()?.messages;
    r.step(format!("{queued} messages queued"));
    let out = run_peer("posix-receiver", &name, "receiver process")?;
    let mut prios = Vec::new();
    for line in out.lines() {
        r.step(format!("receiver process: got {line}"));
        let prio = line.rsplit(' ').next().unwrap_or_default();
        prios.push(prio.parse::<u32>().unwrap_or(u32::MAX));
    }
    anyhow::ensure!(
        prios == [5, 3, 1],
        "expected priorities 5, 3, 1, the receiver got {prios:?}"
    );
    r.fact("order", "5, 3, 1");
    Ok(())
    // Dropping `q` unlinks the queue: the tour created it.
}
