//! Integration tests of the ipcx library: one module per family, plus interop
//! with the seed's C programs.

mod channel;
mod child;
mod memfd;
mod mq_common;
mod mq_posix;
mod mq_sysv;
mod ring;
mod sem_posix;
mod sem_sysv;
mod shm_posix;
mod shm_sysv;
mod signals;
mod socket_fd;
mod socket_inet;
mod socket_unix;
mod sync;
mod util;

mod fifo;
mod pipe;
