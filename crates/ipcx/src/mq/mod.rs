//! Message queues: System V ([`sysv`]) and POSIX ([`posix`]).

pub mod posix;
pub mod sysv;
