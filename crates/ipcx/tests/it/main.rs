//! Integration tests of the ipcx library: one module per family, plus interop
//! with the seed's C programs.

mod mq_common;
mod mq_posix;
mod mq_sysv;
mod util;
