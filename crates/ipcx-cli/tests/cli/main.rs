//! Integration tests of the `ipcx` command, one module per topic.

mod util;

mod endpoint;
mod fifo;
mod limits;
mod ls;
mod mq;
mod ring;
mod rm;
mod socket;
mod tour;
