//! Tour scenarios for anonymous pipes: the seed's `pipe_parent_child.c`.
//!
//! The parent makes a pipe, starts a child process with the read end as its
//! standard input, writes "Hello from parent!" plus its NUL in one atomic
//! write and closes the write end; the child reads to end-of-file and
//! reports what it got. Unlike the seed, every call is checked, the child's
//! wait is bounded, and no end leaks into the child by accident (both ends
//! are close-on-exec; only the read end is handed over, as stdin).

use std::io::Write;
use std::os::fd::{AsFd, AsRawFd};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context};
use ipcx::pipe::{PipeReader, PIPE_BUF};

use super::{peer_command, wait_peer, Reporter, Scenario};

/// What the parent sends: the seed's text and its terminating NUL.
const MESSAGE: &[u8] = b"Hello from parent!\0";

/// How long either side waits for the other.
const PEER_TIMEOUT: Duration = Duration::from_secs(10);

/// The scenarios of this mechanism.
pub fn scenarios() -> Vec<Scenario> {
    vec![Scenario {
        mechanism: "pipe",
        title: "parent writes, child reads (pipe_parent_child.c)",
        run: parent_child,
    }]
}

fn parent_child(rep: &mut Reporter) -> anyhow::Result<()> {
    let (reader, writer) = ipcx::pipe::pipe()?;
    rep.step(format!(
        "pipe2(O_CLOEXEC): read end fd {}, write end fd {}, capacity {} bytes",
        reader.as_raw_fd(),
        writer.as_raw_fd(),
        writer.capacity()?
    ));
    let mut cmd = peer_command("pipe", "child", &[])?;
    cmd.stdin(Stdio::from(reader))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().context("starting the child process")?;
    drop(cmd); // the parent's copy of the read end
    rep.step(format!(
        "started child process {} with the read end as its stdin; the parent closed its copy of the read end",
        child.id()
    ));
    let sent = writer.write_message_timeout(MESSAGE, PEER_TIMEOUT);
    if let Err(e) = sent {
        let _ = wait_peer(child, "the child", PEER_TIMEOUT);
        return Err(e.into());
    }
    rep.step(format!(
        "parent wrote {} bytes (\"Hello from parent!\" plus its NUL) in one write of at most PIPE_BUF = {PIPE_BUF} bytes: atomic",
        MESSAGE.len()
    ));
    drop(writer);
    rep.step("parent closed the write end: the child sees end-of-file after the message");
    let out = wait_peer(child, "the child", PEER_TIMEOUT)?;
    for line in out.lines() {
        rep.step(format!("child: {line}"));
    }
    let expected = format!(
        "Child received: Hello from parent!\nChild read {} bytes, NUL-terminated, then end-of-file\n",
        MESSAGE.len()
    );
    if out != expected {
        bail!("the child reported {out:?}, expected {expected:?}");
    }
    rep.step("verified: the child received exactly the parent's 19 bytes");
    rep.fact("bytes", MESSAGE.len().to_string());
    Ok(())
}

/// Runs one peer role of these scenarios.
pub fn peer(role: &str, _args: &[String]) -> anyhow::Result<i32> {
    match role {
        "child" => child(),
        _ => Err(super::unknown_role("pipe", role)),
    }
}

/// The child: reads its stdin (the pipe) to end-of-file.
fn child() -> anyhow::Result<i32> {
    let fd = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .context("taking the pipe from stdin")?;
    let reader = PipeReader::from(fd);
    let mut got = Vec::new();
    let mut buf = [0u8; 128];
    loop {
        let n = reader.read_timeout(&mut buf, PEER_TIMEOUT)?;
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
        if got.len() > PIPE_BUF {
            bail!("the parent sent more than {PIPE_BUF} bytes");
        }
    }
    let Some((&0, text)) = got.split_last() else {
        bail!("the message is not NUL-terminated: {got:?}");
    };
    let text = String::from_utf8_lossy(text);
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "Child received: {text}")?;
    writeln!(
        stdout,
        "Child read {} bytes, NUL-terminated, then end-of-file",
        got.len()
    )?;
    Ok(0)
}
