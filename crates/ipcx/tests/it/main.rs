//! Integration tests of the ipcx library: one module per family, plus interop
//! with the seed's C programs.

mod inventory;
mod ring;
mod util;
