//! The seed's `pipe_parent_child.c`, done correctly: the parent writes
//! "Hello from parent!" plus its NUL into a pipe, a child process reads it.
//!
//! Instead of `fork`, the parent starts its own executable again with the
//! argument `child` and hands it the pipe's read end as standard input.
//! Every call is checked, the write is one atomic write of at most
//! `PIPE_BUF` bytes, both ends are close-on-exec (so only the read end
//! reaches the child), and the child's read gives up after a timeout
//! instead of waiting forever.
//!
//! ```sh
//! cargo run -p ipcx --example pipe_parent_child
//! ```

use std::error::Error;
use std::os::fd::AsFd;
use std::process::{Command, ExitCode};
use std::time::Duration;

use ipcx::pipe::{PipeReader, PIPE_BUF};

const TIMEOUT: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pipe_parent_child: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    if std::env::args().nth(1).as_deref() == Some("child") {
        return child();
    }
    let (reader, writer) = ipcx::pipe::pipe()?;
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.arg("child").stdin(reader);
    let mut child = cmd.spawn()?;
    drop(cmd); // close the parent's copy of the read end

    let message = b"Hello from parent!\0";
    let sent = writer.write_message_timeout(message, TIMEOUT);
    drop(writer); // end-of-file for the child
    let status = child.wait()?; // reap the child whatever happened
    sent?;
    if !status.success() {
        return Err(format!("the child failed: {status}").into());
    }
    Ok(())
}

/// The child: reads its standard input (the pipe) to end-of-file.
fn child() -> Result<(), Box<dyn Error>> {
    let reader = PipeReader::from(std::io::stdin().as_fd().try_clone_to_owned()?);
    let mut got = Vec::new();
    let mut buf = [0u8; 100];
    loop {
        let n = reader.read_timeout(&mut buf, TIMEOUT)?;
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
        if got.len() > PIPE_BUF {
            return Err("the parent sent more than expected".into());
        }
    }
    // The message ends at its NUL, as a C string would.
    let text = got.split(|&b| b == 0).next().unwrap_or_default();
    println!("Child received: {}", String::from_utf8_lossy(text));
    Ok(())
}
