//! Every atomic the ring uses, in one place, so that `--cfg loom` can swap in
//! loom's model-checked versions (see the `loom` test module).

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

/// One round of a busy-wait: a CPU spin hint, or a loom yield under the model.
#[inline]
pub(crate) fn spin_hint() {
    #[cfg(not(loom))]
    std::hint::spin_loop();
    #[cfg(loom)]
    loom::thread::yield_now();
}
