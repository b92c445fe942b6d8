//! Shared memory: POSIX ([`posix`]), anonymous memfd ([`memfd`]) and System V ([`sysv`]).

pub mod memfd;
pub mod posix;
pub mod sysv;
