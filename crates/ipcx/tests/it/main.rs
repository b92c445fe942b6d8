//! Integration tests of the ipcx library: one module per family, plus interop
//! with the seed's C programs.

mod socket_fd;
mod socket_inet;
mod socket_unix;
mod util;
