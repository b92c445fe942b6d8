//! The seed's `tcp_client.c`, correctly: connects to 127.0.0.1:PORT (default
//! 8080), reads the server's whole message (not just one `recv` into an
//! unterminated buffer) and prints `Server says: …`; every error is reported
//! and the descriptor is closed.
//!
//! ```sh
//! cargo run -p ipcx --example tcp_client -- 8080
//! ```

use std::io::Read;
use std::process::ExitCode;
use std::time::Duration;

use ipcx::socket::tcp::TcpStream;

fn run() -> ipcx::Result<()> {
    let port: u16 = match std::env::args().nth(1) {
        Some(p) => p.parse().map_err(|_| ipcx::Error::InvalidArgument {
            object: format!("port {p:?}"),
            reason: "expected a number from 1 to 65535".into(),
        })?,
        None => 8080,
    };
    let stream = TcpStream::connect_timeout(("127.0.0.1", port), Duration::from_secs(10))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut message = Vec::new();
    (&stream)
        .read_to_end(&mut message)
        .map_err(|e| ipcx::Error::os(stream.name(), "recv", e))?;
    println!("Server says: {}", String::from_utf8_lossy(&message));
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tcp_client: {e}");
            ExitCode::FAILURE
        }
    }
}
