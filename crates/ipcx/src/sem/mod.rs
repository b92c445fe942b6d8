//! Semaphores: System V sets ([`sysv`]) and POSIX semaphores ([`posix`]).

pub mod posix;
pub mod sysv;
