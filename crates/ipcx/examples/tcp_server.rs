//! The seed's `tcp_server.c`, correctly: listens on 127.0.0.1:PORT (default
//! 8080) with `SO_REUSEADDR`, sends "Hello Client!" (no NUL) to the first
//! client, then closes every descriptor; every error is reported.
//!
//! ```sh
//! cargo run -p ipcx --example tcp_server -- 8080
//! ```

use std::process::ExitCode;
use std::time::Duration;

use ipcx::socket::tcp::TcpListener;

fn run() -> ipcx::Result<()> {
    let port: u16 = match std::env::args().nth(1) {
        Some(p) => p.parse().map_err(|_| ipcx::Error::InvalidArgument {
            object: format!("port {p:?}"),
            reason: "expected a number from 0 to 65535".into(),
        })?,
        None => 8080,
    };
    // SO_REUSEADDR is set by TcpListener::bind, so a quick restart works.
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    eprintln!("tcp_server: listening on {}", listener.local_addr());
    let client = listener.accept()?;
    client.send_all(b"Hello Client!")?;
    // Give the client a moment to hang up first, so that TIME_WAIT stays on
    // its side; then both descriptors close when they go out of scope.
    client.set_read_timeout(Some(Duration::from_millis(200)))?;
    let mut buf = [0u8; 64];
    while let Ok(n) = client.recv(&mut buf) {
        if n == 0 {
            break;
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tcp_server: {e}");
            ExitCode::FAILURE
        }
    }
}
