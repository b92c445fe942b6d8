//! The seed's `fifo_writer.c`, done correctly: sends the 16 bytes
//! "Hello from FIFO!" through the FIFO at /tmp/myfifo (or the path given).
//!
//! Unlike the seed it makes the FIFO with mode 0600 (not 0666) if it does
//! not exist, refuses anything at the path that is not a FIFO (a symlink or
//! a regular file), waits at most 30 seconds (or the seconds given) for a
//! reader instead of blocking forever in `open`, and removes the FIFO
//! afterwards if it made it.
//!
//! ```sh
//! cargo run -p ipcx --example fifo_writer -- [PATH] [TIMEOUT_SECS]
//! ```

use std::error::Error;
use std::process::ExitCode;
use std::time::Duration;

use ipcx::fifo::Fifo;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fifo_writer: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| "/tmp/myfifo".into());
    let secs: u64 = match args.next() {
        Some(s) => s
            .parse()
            .map_err(|_| format!("{s:?} is not a number of seconds"))?,
        None => 30,
    };
    // Made with mode 0600 if missing; removed when `fifo` is dropped if this
    // program made it.
    let fifo = Fifo::builder(&path).open_or_create()?;
    let writer = fifo.open_writer(Some(Duration::from_secs(secs)))?;
    writer.write_message(b"Hello from FIFO!")?;
    println!("Sent: Hello from FIFO!");
    Ok(())
}
