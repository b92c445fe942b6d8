//! # ipcx: Linux inter-process communication, safe and fast
//!
//! ipcx gives safe, leak-free access to the six Linux IPC mechanisms — pipes,
//! named pipes (FIFOs), message queues, shared memory, semaphores and sockets —
//! with one error type ([`Error`]) that names the object, the system call and,
//! for limits, the limit's value and source.
//!
//! Every module follows the same rules:
//! - whoever creates a named object owns it and removes it on drop, unless told
//!   to keep it; openers never remove;
//! - objects are created with mode 0600 and `O_EXCL`, never following a
//!   symlink; every file descriptor is close-on-exec from birth;
//! - writes to a closed peer are errors ([`Error::Disconnected`]), never a
//!   death by `SIGPIPE`; the library never changes signal dispositions;
//! - blocking calls retry `EINTR` against a monotonic deadline and have
//!   non-blocking and timed forms.
//!
//! Endpoints name a mechanism in one grammar shared with the `ipcx` command;
//! see [`Endpoint`].
#![deny(unsafe_code)]
#![warn(rust_2018_idioms)]

pub mod channel;
pub mod creator;
pub mod deadline;
pub mod endpoint;
pub mod error;
pub mod fifo;
pub mod frame;
pub mod inventory;
pub mod key;
pub mod limits;
pub mod mq;
pub mod pipe;
#[allow(unsafe_code)]
pub mod ring;
pub mod sem;
pub mod shm;
pub mod socket;
pub mod sync;
#[allow(unsafe_code)]
mod sys;

pub use endpoint::Endpoint;
pub use error::{Error, Result};
