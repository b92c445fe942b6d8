//! One module per subcommand.

pub mod bench;
pub mod limits;
pub mod lock;
pub mod ls;
pub mod recv;
pub mod rm;
pub mod send;
pub mod serve;
pub mod tour;
