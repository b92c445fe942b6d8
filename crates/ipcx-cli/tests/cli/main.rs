//! Integration tests of the `ipcx` command, one module per topic.

mod util;

mod bench;
mod endpoint;
mod mq;
