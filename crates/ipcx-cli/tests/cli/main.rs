//! Integration tests of the `ipcx` command, one module per topic.

mod util;

mod cleanup;
mod endpoint;
mod fifo;
mod lock;
mod mq;
mod ring;
mod shm;
mod socket;
mod tour;
