//! The writing side of a ring.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::atomic::Ordering::{Acquire, Release};
use super::claim::{self, Side};
use super::index::{self, Placement};
use super::layout::{KIND_DATA, KIND_PAD, RECORD_HEADER};
use super::region::Region;
use super::wait::{self, Stop};
use super::WaitStrategy;
use crate::creator::ProcessId;
use crate::deadline::Deadline;
use crate::error::{Error, Result};

/// The one writer of a ring: reserves space, writes records in place and
/// commits them, or copies a byte slice in with [`send`](Producer::send).
///
/// Made by [`Ring::producer`](super::Ring::producer). Dropping it marks the
/// producer side closed: the consumer receives what was committed, then
/// [`Error::Disconnected`].
pub struct Producer {
    region: Arc<Region>,
    me: ProcessId,
    /// Bytes ever committed: this side's own index, never re-read.
    tail: u64,
    /// Last head seen; refreshed only when it looks too full.
    head_cache: u64,
    capacity: u64,
    wait: WaitStrategy,
    last_check: Instant,
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer")
            .field("ring", &self.region.object)
            .field("capacity", &self.capacity)
            .field("wait", &self.wait)
            .finish()
    }
}

/// Space reserved in the ring for one record; write the payload through
/// `DerefMut<Target = [u8]>`, then [`commit`](Grant::commit). Dropped without
/// a commit, nothing is published.
pub struct Grant<'a> {
    producer: &'a mut Producer,
    place: Placement,
    len: usize,
}

impl Producer {
    pub(crate) fn new(region: Arc<Region>, wait: WaitStrategy) -> Result<Producer> {
        let me = ProcessId::current();
        claim::take(region.claim(true), Side::Producer, me, &region.object)?;
        let capacity = region.capacity;
        // A fresh claim continues after what earlier producers committed.
        let tail = region.tail().load(Acquire);
        let head = region.head().load(Acquire);
        let producer = Producer {
            region,
            me,
            tail,
            head_cache: head,
            capacity,
            wait,
            last_check: Instant::now(),
        };
        index::used(head, tail, capacity).map_err(|v| producer.corrupted(v))?;
        Ok(producer)
    }

    fn corrupted(&self, v: index::Violation) -> Error {
        Error::Corrupted {
            object: self.region.object.clone(),
            detail: v.to_string(),
        }
    }

    /// Largest payload one record can carry, in bytes: half the capacity
    /// less the 8-byte record header.
    pub fn max_record_len(&self) -> usize {
        index::max_payload(self.capacity) as usize
    }

    /// The ring's data capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.capacity as usize
    }

    /// How this side waits when the ring is full.
    pub fn wait_strategy(&self) -> WaitStrategy {
        self.wait
    }

    /// Changes how this side waits when the ring is full.
    pub fn set_wait_strategy(&mut self, wait: WaitStrategy) {
        self.wait = wait;
    }

    fn check_len(&self, len: usize) -> Result<()> {
        let max = self.max_record_len();
        if len > max {
            return Err(Error::MessageTooLarge {
                object: self.region.object.clone(),
                len,
                max,
                limit_source: format!(
                    "ring capacity of {} bytes: a record holds at most half of it less its {RECORD_HEADER}-byte header",
                    self.capacity
                ),
            });
        }
        Ok(())
    }

    /// One attempt to find room; refreshes the head snapshot when needed.
    fn try_place(&mut self, len: usize) -> Result<Option<Placement>> {
        let len = len as u64;
        if let Some(p) = index::place(self.tail, self.head_cache, self.capacity, len)
            .map_err(|v| self.corrupted(v))?
        {
            return Ok(Some(p));
        }
        // Acquire: pairs with the consumer's Release store of head, so its
        // reads of the released bytes happen before we overwrite them.
        self.head_cache = self.region.head().load(Acquire);
        index::place(self.tail, self.head_cache, self.capacity, len).map_err(|v| self.corrupted(v))
    }

    fn disconnected(&self, reason: String) -> Error {
        Error::Disconnected {
            object: self.region.object.clone(),
            reason,
        }
    }

    /// Cheap check every call, `/proc` check at most every 20 ms.
    fn consumer_gone(&mut self) -> Option<String> {
        let expensive = self.last_check.elapsed() >= wait::CHECK_INTERVAL;
        if expensive {
            self.last_check = Instant::now();
        }
        claim::peer_gone(self.region.claim(false), Side::Consumer, expensive)
    }

    fn reserve_until(&mut self, len: usize, deadline: Deadline) -> Result<Grant<'_>> {
        self.check_len(len)?;
        if let Some(why) = self.consumer_gone() {
            return Err(self.disconnected(why));
        }
        let outcome = if deadline.expired() {
            self.try_place(len)?.ok_or(Stop::TimedOut)
        } else {
            let region = Arc::clone(&self.region);
            let mut last_check = self.last_check;
            let r = wait::block(
                self.wait,
                region.space_wait(),
                deadline,
                || self.try_place(len),
                |expensive| {
                    if expensive {
                        last_check = Instant::now();
                    }
                    claim::peer_gone(region.claim(false), Side::Consumer, expensive)
                },
            )?;
            self.last_check = last_check;
            r
        };
        match outcome {
            Ok(place) => Ok(Grant {
                producer: self,
                place,
                len,
            }),
            Err(Stop::PeerGone(why)) => Err(self.disconnected(why)),
            Err(Stop::TimedOut) if deadline.timeout() == Duration::ZERO => Err(Error::Full {
                object: self.region.object.clone(),
            }),
            Err(Stop::TimedOut) => Err(Error::TimedOut {
                object: self.region.object.clone(),
                waiting_for: format!("{} bytes of free space", index::record_size(len as u64)),
                timeout: deadline.timeout(),
            }),
        }
    }

    /// Reserves with a deadline (the channel layer's entry point).
    pub(crate) fn reserve_with_deadline(
        &mut self,
        len: usize,
        deadline: Deadline,
    ) -> Result<Grant<'_>> {
        self.reserve_until(len, deadline)
    }

    /// Reserves `len` bytes for one record, waiting while the ring is full.
    ///
    /// # Errors
    /// [`Error::MessageTooLarge`] when `len` exceeds
    /// [`max_record_len`](Self::max_record_len); [`Error::Disconnected`] when
    /// the consumer closed or died; [`Error::Corrupted`] when the consumer's
    /// index makes no sense.
    pub fn reserve(&mut self, len: usize) -> Result<Grant<'_>> {
        self.reserve_until(len, Deadline::NEVER)
    }

    /// Reserves `len` bytes without waiting.
    ///
    /// # Errors
    /// [`Error::Full`] when there is not enough free space now; otherwise as
    /// [`reserve`](Self::reserve).
    pub fn try_reserve(&mut self, len: usize) -> Result<Grant<'_>> {
        self.reserve_until(len, Deadline::now())
    }

    /// Reserves `len` bytes, waiting at most `timeout`.
    ///
    /// # Errors
    /// [`Error::TimedOut`] when no space came free in time; otherwise as
    /// [`reserve`](Self::reserve).
    pub fn reserve_timeout(&mut self, len: usize, timeout: Duration) -> Result<Grant<'_>> {
        self.reserve_until(len, Deadline::after(Some(timeout)))
    }

    /// Copies `msg` into the ring as one record, waiting while it is full.
    ///
    /// # Errors
    /// As [`reserve`](Self::reserve).
    pub fn send(&mut self, msg: &[u8]) -> Result<()> {
        let mut g = self.reserve(msg.len())?;
        g.copy_from_slice(msg);
        g.commit();
        Ok(())
    }

    /// Copies `msg` into the ring without waiting.
    ///
    /// # Errors
    /// As [`try_reserve`](Self::try_reserve).
    pub fn try_send(&mut self, msg: &[u8]) -> Result<()> {
        let mut g = self.try_reserve(msg.len())?;
        g.copy_from_slice(msg);
        g.commit();
        Ok(())
    }

    /// Copies `msg` into the ring, waiting at most `timeout`.
    ///
    /// # Errors
    /// As [`reserve_timeout`](Self::reserve_timeout).
    pub fn send_timeout(&mut self, msg: &[u8], timeout: Duration) -> Result<()> {
        let mut g = self.reserve_timeout(msg.len(), timeout)?;
        g.copy_from_slice(msg);
        g.commit();
        Ok(())
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        claim::close(self.region.claim(true), self.me);
        wait::wake_now(self.region.data_wait());
    }
}

impl Grant<'_> {
    /// Publishes the whole reserved length.
    pub fn commit(self) {
        let len = self.len;
        self.commit_len(len);
    }

    /// Publishes the first `len` bytes (at most the reserved length; more is
    /// clamped) and returns the rest to the free space.
    pub fn commit_len(self, len: usize) {
        let len = len.min(self.len);
        let p = &mut *self.producer;
        let region = &p.region;
        let mut place = self.place;
        if place.pad != 0 {
            let pad_pos = p.tail & (p.capacity - 1);
            region.set_word(
                pad_pos,
                index::record_word((place.pad - RECORD_HEADER as u64) as u32, KIND_PAD),
            );
        }
        region.set_word(place.pos, index::record_word(len as u32, KIND_DATA));
        place.advance = place.pad + index::record_size(len as u64);
        p.tail = p.tail.wrapping_add(place.advance);
        // Release: the payload and header words written above become visible
        // to the consumer's Acquire load of tail.
        region.tail().store(p.tail, Release);
        wait::wake(region.data_wait());
    }
}

impl std::ops::Deref for Grant<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: place.pos + 8 + len <= capacity (index::place checked the
        // record size against the contiguous space), so the slice is inside
        // the data area; the bytes between tail and head + capacity belong to
        // the producer until it commits, and the grant borrows the producer
        // mutably.
        unsafe {
            std::slice::from_raw_parts(
                self.producer
                    .region
                    .data()
                    .add(self.place.pos as usize + RECORD_HEADER),
                self.len,
            )
        }
    }
}

impl std::ops::DerefMut for Grant<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as for Deref; `&mut self` makes this the only view.
        unsafe {
            std::slice::from_raw_parts_mut(
                self.producer
                    .region
                    .data()
                    .add(self.place.pos as usize + RECORD_HEADER),
                self.len,
            )
        }
    }
}

impl std::fmt::Debug for Grant<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grant").field("len", &self.len).finish()
    }
}
