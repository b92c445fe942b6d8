//! The reading side of a ring.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::atomic::Ordering::{Acquire, Release};
use super::claim::{self, Side};
use super::index::{self, Next};
use super::region::Region;
use super::wait::{self, Stop};
use super::WaitStrategy;
use crate::creator::ProcessId;
use crate::deadline::Deadline;
use crate::error::{Error, Result};

/// The one reader of a ring: borrows records in place with
/// [`recv_borrowed`](Consumer::recv_borrowed), or copies them out with
/// [`recv`](Consumer::recv).
///
/// Made by [`Ring::consumer`](super::Ring::consumer). Every index and length
/// it reads from shared memory is validated; a producer that writes nonsense
/// makes calls fail with [`Error::Corrupted`], never read out of bounds.
pub struct Consumer {
    region: Arc<Region>,
    me: ProcessId,
    /// Bytes ever released: this side's own index, never re-read.
    head: u64,
    /// Last tail seen; refreshed when the records before it are used up.
    tail_cache: u64,
    capacity: u64,
    wait: WaitStrategy,
    last_check: Instant,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("ring", &self.region.object)
            .field("capacity", &self.capacity)
            .field("wait", &self.wait)
            .finish()
    }
}

/// A record borrowed from the ring: its payload through `Deref<Target = [u8]>`.
/// Dropping it releases the space to the producer.
///
/// The bytes live in shared memory; a hostile producer could change them
/// while they are borrowed (never their location or length, which were
/// validated). Copy them out before trusting their content twice.
pub struct Record<'a> {
    consumer: &'a mut Consumer,
    next: Next,
}

impl Consumer {
    pub(crate) fn new(region: Arc<Region>, wait: WaitStrategy) -> Result<Consumer> {
        let me = ProcessId::current();
        claim::take(region.claim(false), Side::Consumer, me, &region.object)?;
        let capacity = region.capacity;
        let head = region.head().load(Acquire);
        let consumer = Consumer {
            region,
            me,
            head,
            tail_cache: head,
            capacity,
            wait,
            last_check: Instant::now(),
        };
        if head % super::layout::ALIGN != 0 {
            return Err(Error::Corrupted {
                object: consumer.region.object.clone(),
                detail: format!("head {head} is not a multiple of 8"),
            });
        }
        Ok(consumer)
    }

    /// The ring's data capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.capacity as usize
    }

    /// How this side waits when the ring is empty.
    pub fn wait_strategy(&self) -> WaitStrategy {
        self.wait
    }

    /// Changes how this side waits when the ring is empty.
    pub fn set_wait_strategy(&mut self, wait: WaitStrategy) {
        self.wait = wait;
    }

    /// One look for the next record.
    fn try_next(&mut self) -> Result<Option<Next>> {
        if self.tail_cache == self.head {
            // Acquire: pairs with the producer's Release store of tail, so
            // the record bytes it wrote are visible. Read once per attempt.
            self.tail_cache = self.region.tail().load(Acquire);
        }
        let region = &self.region;
        index::next(self.head, self.tail_cache, self.capacity, |pos| {
            region.word_at(pos)
        })
        .map_err(|v| {
            // Forget the bad snapshot: the next attempt reads tail afresh.
            self.tail_cache = self.head;
            Error::Corrupted {
                object: self.region.object.clone(),
                detail: v.to_string(),
            }
        })
    }

    fn disconnected(&self, reason: String) -> Error {
        Error::Disconnected {
            object: self.region.object.clone(),
            reason,
        }
    }

    fn next_until(&mut self, deadline: Deadline) -> Result<Next> {
        if let Some(n) = self.try_next()? {
            return Ok(n);
        }
        let outcome = if deadline.expired() {
            let expensive = self.last_check.elapsed() >= wait::CHECK_INTERVAL;
            if expensive {
                self.last_check = Instant::now();
            }
            match claim::peer_gone(self.region.claim(true), Side::Producer, expensive) {
                // Everything committed before the end is still delivered.
                Some(why) => self.try_next()?.ok_or(Stop::PeerGone(why)),
                None => Err(Stop::TimedOut),
            }
        } else {
            let region = Arc::clone(&self.region);
            let mut last_check = self.last_check;
            let r = wait::block(
                self.wait,
                region.data_wait(),
                deadline,
                || self.try_next(),
                |expensive| {
                    if expensive {
                        last_check = Instant::now();
                    }
                    claim::peer_gone(region.claim(true), Side::Producer, expensive)
                },
            )?;
            self.last_check = last_check;
            r
        };
        match outcome {
            Ok(n) => Ok(n),
            Err(Stop::PeerGone(why)) => Err(self.disconnected(why)),
            Err(Stop::TimedOut) if deadline.timeout() == Duration::ZERO => Err(Error::Empty {
                object: self.region.object.clone(),
            }),
            Err(Stop::TimedOut) => Err(Error::TimedOut {
                object: self.region.object.clone(),
                waiting_for: "a record".into(),
                timeout: deadline.timeout(),
            }),
        }
    }

    fn borrow(&mut self, deadline: Deadline) -> Result<Record<'_>> {
        let next = self.next_until(deadline)?;
        Ok(Record {
            consumer: self,
            next,
        })
    }

    /// Borrows with a deadline (the channel layer's entry point).
    pub(crate) fn recv_with_deadline(&mut self, deadline: Deadline) -> Result<Record<'_>> {
        self.borrow(deadline)
    }

    /// Borrows the next record in place, waiting while the ring is empty.
    ///
    /// # Errors
    /// [`Error::Disconnected`] when the ring is empty and the producer closed
    /// or died (records committed before are delivered first);
    /// [`Error::Corrupted`] when the producer's index or a record header
    /// makes no sense.
    pub fn recv_borrowed(&mut self) -> Result<Record<'_>> {
        self.borrow(Deadline::NEVER)
    }

    /// Borrows the next record without waiting.
    ///
    /// # Errors
    /// [`Error::Empty`] when no record is there; otherwise as
    /// [`recv_borrowed`](Self::recv_borrowed).
    pub fn try_recv_borrowed(&mut self) -> Result<Record<'_>> {
        self.borrow(Deadline::now())
    }

    /// Borrows the next record, waiting at most `timeout`.
    ///
    /// # Errors
    /// [`Error::TimedOut`] when none came in time; otherwise as
    /// [`recv_borrowed`](Self::recv_borrowed).
    pub fn recv_borrowed_timeout(&mut self, timeout: Duration) -> Result<Record<'_>> {
        self.borrow(Deadline::after(Some(timeout)))
    }

    fn copy_out(&mut self, deadline: Deadline, buf: &mut Vec<u8>) -> Result<usize> {
        let rec = self.borrow(deadline)?;
        buf.clear();
        buf.extend_from_slice(&rec);
        Ok(buf.len())
    }

    /// Copies the next record into `buf` (replacing its contents; no
    /// allocation once `buf` has grown to the largest record), waiting while
    /// the ring is empty. Returns the record length in bytes.
    ///
    /// # Errors
    /// As [`recv_borrowed`](Self::recv_borrowed).
    pub fn recv(&mut self, buf: &mut Vec<u8>) -> Result<usize> {
        self.copy_out(Deadline::NEVER, buf)
    }

    /// Copies the next record into `buf` without waiting.
    ///
    /// # Errors
    /// As [`try_recv_borrowed`](Self::try_recv_borrowed).
    pub fn try_recv(&mut self, buf: &mut Vec<u8>) -> Result<usize> {
        self.copy_out(Deadline::now(), buf)
    }

    /// Copies the next record into `buf`, waiting at most `timeout`.
    ///
    /// # Errors
    /// As [`recv_borrowed_timeout`](Self::recv_borrowed_timeout).
    pub fn recv_timeout(&mut self, buf: &mut Vec<u8>, timeout: Duration) -> Result<usize> {
        self.copy_out(Deadline::after(Some(timeout)), buf)
    }

    /// Copies the next record into the slice `buf`, waiting while the ring is
    /// empty. Returns the record length.
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`] when the record is longer than `buf`; the
    /// record stays in the ring. Otherwise as [`recv_borrowed`](Self::recv_borrowed).
    pub fn recv_into(&mut self, buf: &mut [u8]) -> Result<usize> {
        let object = self.region.object.clone();
        let rec = self.borrow(Deadline::NEVER)?;
        if rec.len() > buf.len() {
            let needed = rec.len();
            rec.keep();
            return Err(Error::BufferTooSmall {
                object,
                needed,
                capacity: buf.len(),
            });
        }
        buf[..rec.len()].copy_from_slice(&rec);
        Ok(rec.len())
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        claim::close(self.region.claim(false), self.me);
        wait::wake_now(self.region.space_wait());
    }
}

impl Record<'_> {
    /// Leaves the record in the ring: the next receive returns it again.
    pub fn keep(self) {
        std::mem::forget(self);
    }
}

impl std::ops::Deref for Record<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: index::next checked payload + len <= capacity (the record
        // lies before the end of the data area) and that it lies between head
        // and tail, which the producer does not write until we release it.
        unsafe {
            std::slice::from_raw_parts(
                self.consumer.region.data().add(self.next.payload as usize),
                self.next.len as usize,
            )
        }
    }
}

impl Drop for Record<'_> {
    fn drop(&mut self) {
        let c = &mut *self.consumer;
        c.head = c.head.wrapping_add(self.next.advance);
        // Release: our reads of the record happen before the producer's
        // Acquire load of head lets it overwrite the bytes.
        c.region.head().store(c.head, Release);
        wait::wake(c.region.space_wait());
    }
}

impl std::fmt::Debug for Record<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Record")
            .field("len", &self.next.len)
            .finish()
    }
}
