//! Integration tests of the `ipcx` command, one module per topic.

mod util;

mod bench;
mod endpoint;
mod fifo;
mod lock;
mod mq;
mod shm;
mod socket;
mod tour;
