//! The seed's `fifo_reader.c`, done correctly: reads what a writer sends
//! through the FIFO at /tmp/myfifo (or the path given) and prints it.
//!
//! Unlike the seed it does not fail silently when started first: it makes
//! the FIFO (mode 0600) if it does not exist, waits at most 30 seconds (or
//! the seconds given) for a writer and says so if none comes, reads until
//! the writer hangs up, prints only the bytes it received (the seed prints an
//! unterminated buffer), and removes the FIFO afterwards if it made it.
//!
//! ```sh
//! cargo run -p ipcx --example fifo_reader -- [PATH] [TIMEOUT_SECS]
//! ```

use std::error::Error;
use std::process::ExitCode;
use std::time::Duration;

use ipcx::fifo::Fifo;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fifo_reader: {e}");
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
    let timeout = Duration::from_secs(secs);
    let fifo = Fifo::builder(&path).open_or_create()?;
    let mut reader = fifo.open_reader(Some(timeout))?;
    let mut got = Vec::new();
    let mut buf = [0u8; 100];
    loop {
        let n = reader.read_timeout(&mut buf, timeout)?;
        if n == 0 {
            break; // the writer hung up
        }
        got.extend_from_slice(&buf[..n]);
        if got.len() > 1 << 20 {
            return Err("the writer sent more than 1 MiB".into());
        }
    }
    println!("Received: {}", String::from_utf8_lossy(&got));
    Ok(())
}
