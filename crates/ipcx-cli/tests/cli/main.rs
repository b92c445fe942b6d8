//! Integration tests of the `ipcx` command, one module per topic.

mod util;

mod bench;
mod cleanup;
mod endpoint;
mod fifo;
mod limits;
mod lock;
mod ls;
mod mq;
mod ring;
mod rm;
mod shm;
mod socket;
mod tour;
