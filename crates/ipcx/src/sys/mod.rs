//! The only place that makes raw system calls through libc and rustix.
//!
//! One file per family. Public modules wrap these in safe types; nothing here
//! is public outside the crate. Every `unsafe` block carries a `// SAFETY:`
//! comment naming the invariant it relies on.

pub(crate) mod fifo;
pub(crate) mod futex;
pub(crate) mod mman;
pub(crate) mod mqueue;
pub(crate) mod msg;
pub(crate) mod pipe;
pub(crate) mod pthread;
pub(crate) mod sem;
pub(crate) mod shm;
pub(crate) mod socket;
