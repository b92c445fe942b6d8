//! The seed's `mq_receiver.c`, correctly: receives one message of type 1 from
//! the System V queue `ftok("progfile", 65)`, prints `Received: TEXT`, and
//! removes the queue.
//!
//! Unlike the C program it stops with an error naming the file when
//! `progfile` is missing, creates the queue owner-only (0600) if the sender has
//! not run yet, prints the text only up to its NUL (the C sender's bytes after
//! it are undefined), refuses a message longer than its 100-byte buffer
//! instead of printing garbage, gives up after 10 s, and removes the queue
//! even when receiving failed.
//!
//! ```sh
//! touch progfile && cargo run --example mq_sender && cargo run --example mq_receiver
//! ```

use std::process::ExitCode;
use std::time::Duration;

use ipcx::key::Key;
use ipcx::mq::sysv::{MessageQueue, TypeSelector};

/// The C program's `char msg_text[100]`.
const BODY: usize = 100;

fn run() -> ipcx::Result<()> {
    let key_file = std::env::args().nth(1).unwrap_or_else(|| "progfile".into());
    let key = Key::from_path(&key_file, 65)?;
    let queue = MessageQueue::builder(key).open_or_create()?;
    let mut body = [0u8; BODY];
    let received = queue.recv_timeout(TypeSelector::Exactly(1), &mut body, Duration::from_secs(10));
    // Remove the queue as the C receiver does, whatever happened.
    let removed = queue.remove();
    let m = received?;
    removed?;
    let text = &body[..m.len];
    let text = &text[..text.iter().position(|&b| b == 0).unwrap_or(text.len())];
    println!("Received: {}", String::from_utf8_lossy(text));
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mq_receiver: {e}");
            ExitCode::FAILURE
        }
    }
}
