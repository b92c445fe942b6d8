//! The seed's shared-memory pattern, generic over the memory and the
//! semaphores: the writer waits until the buffer is free, copies the message
//! in and posts "full"; the reader waits for "full", copies the message out and
//! posts "free". One buffer and one pair of semaphores per direction.

use std::any::Any;

use crate::link::Link;

/// Bytes of shared memory both sides can read and write.
pub(crate) trait Region {
    /// Copies `data` into the region at `offset`.
    fn write(&mut self, offset: usize, data: &[u8]) -> anyhow::Result<()>;
    /// Copies `out.len()` bytes from the region at `offset`.
    fn read(&self, offset: usize, out: &mut [u8]) -> anyhow::Result<()>;
}

/// Four counting semaphores: index `2d` is "full" and `2d + 1` is "free" for
/// direction `d` (0: parent to child, 1: child to parent).
pub(crate) trait Sems {
    /// Decrements semaphore `i`, waiting while it is zero.
    fn wait(&mut self, i: usize) -> anyhow::Result<()>;
    /// Increments semaphore `i`.
    fn post(&mut self, i: usize) -> anyhow::Result<()>;
}

/// Initial values of the four semaphores: full = 0, free = 1.
pub(crate) const INITIAL: [u32; 4] = [0, 1, 0, 1];

/// A [`Link`] over a region and its semaphores. The region holds two buffers
/// of `max` bytes: direction 0 at offset `base`, direction 1 at `base + max`.
pub(crate) struct ShmSem<R, S> {
    pub region: R,
    pub sems: S,
    pub parent: bool,
    pub base: usize,
    pub max: usize,
    /// Whatever must live as long as the link (owners that remove the objects).
    pub _keep: Box<dyn Any>,
}

impl<R: Region, S: Sems> Link for ShmSem<R, S> {
    fn send(&mut self, msg: &[u8]) -> anyhow::Result<()> {
        let d = usize::from(!self.parent);
        self.sems.wait(2 * d + 1)?;
        self.region.write(self.base + d * self.max, msg)?;
        self.sems.post(2 * d)
    }

    fn recv(&mut self, buf: &mut [u8]) -> anyhow::Result<()> {
        let d = usize::from(self.parent);
        self.sems.wait(2 * d)?;
        self.region.read(self.base + d * self.max, buf)?;
        self.sems.post(2 * d + 1)
    }
}
