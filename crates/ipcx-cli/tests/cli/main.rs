//! Integration tests of the `ipcx` command, one module per topic.

mod util;

mod endpoint;
mod limits;
mod ls;
mod mq;
mod ring;
mod rm;
mod fifo;
mod tour;
mod socket;
