//! The seed's `mq_sender.c`, correctly: sends "Hello Message Queue!" as a
//! message of type 1 with a 100-byte NUL-padded body (what the C receiver
//! expects) to the System V queue `ftok("progfile", 65)`.
//!
//! Unlike the C program it stops with an error naming the file when
//! `progfile` is missing (instead of using key 0xffffffff), creates the queue
//! owner-only (0600) rather than 0666, checks every call, and waits at most
//! 10 s for room in the queue.
//!
//! Run it in a directory holding `progfile` (or pass the key file's path),
//! then `mq_receiver` (this crate's or the seed's C one):
//!
//! ```sh
//! touch progfile && cargo run --example mq_sender && cargo run --example mq_receiver
//! ```

use std::process::ExitCode;
use std::time::Duration;

use ipcx::key::Key;
use ipcx::mq::sysv::MessageQueue;

/// The C program's `char msg_text[100]`.
const BODY: usize = 100;

fn run() -> ipcx::Result<()> {
    let key_file = std::env::args().nth(1).unwrap_or_else(|| "progfile".into());
    let key = Key::from_path(&key_file, 65)?;
    let mut queue = MessageQueue::builder(key).open_or_create()?;
    // The message must outlive this process; the receiver removes the queue.
    queue.keep();
    let mut body = b"Hello Message Queue!".to_vec();
    body.resize(BODY, 0);
    queue.send_timeout(1, &body, Duration::from_secs(10))?;
    println!("Message Sent!");
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mq_sender: {e}");
            ExitCode::FAILURE
        }
    }
}
