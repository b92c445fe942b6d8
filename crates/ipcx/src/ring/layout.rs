//! The shared header of a ring: where each field lives and what it means.
//!
//! ```text
//! offset  size  line  written by   contents
//!      0    48     0  creator      identity: magic, version, header size,
//!                                  capacity, record header size, line size,
//!                                  creator pid + start time
//!    128    16     1  producer     producer claim: state word, start time
//!    256    16     2  consumer     consumer claim: state word, start time
//!    384     8     3  producer     tail: bytes ever committed
//!    512     8     4  consumer     head: bytes ever released
//!    640     8     5  both         data wait word: futex sequence, consumer-sleeping flag
//!    768     8     6  both         space wait word: futex sequence, producer-sleeping flag
//!   1024  cap        producer     data: 8-byte aligned records
//! ```
//!
//! Head and tail sit on separate 128-byte lines (two 64-byte lines, so the
//! adjacent-line prefetcher of x86 does not make them share). Everything in
//! the header is an atomic: the other process may write any byte at any time.
//!
//! A record is an 8-byte header word (payload length in the low 32 bits, kind
//! in the high 32 bits) followed by the payload, rounded up to 8 bytes. A
//! record never wraps: when it does not fit before the end of the data area,
//! the producer writes a padding record covering the rest and puts the record
//! at offset 0, committing both at once.

use super::atomic::{AtomicU32, AtomicU64};

/// `IPCXRING` in little-endian.
pub(crate) const MAGIC: u64 = u64::from_le_bytes(*b"IPCXRING");
/// The layout version this library speaks.
pub(crate) const VERSION: u32 = 1;
/// Bytes before the data area.
pub(crate) const HEADER_SIZE: usize = 1024;
/// Bytes of a record's header word.
pub(crate) const RECORD_HEADER: usize = 8;
/// Alignment of records and padding unit, in bytes.
pub(crate) const ALIGN: u64 = 8;
/// Cache-line spacing of the hot fields, in bytes.
pub(crate) const LINE: usize = 128;
/// Smallest data capacity, in bytes.
pub(crate) const MIN_CAPACITY: u64 = 64;
/// Largest data capacity, in bytes (16 GiB).
pub(crate) const MAX_CAPACITY: u64 = 1 << 34;

pub(crate) const OFF_PRODUCER: usize = LINE;
pub(crate) const OFF_CONSUMER: usize = 2 * LINE;
pub(crate) const OFF_TAIL: usize = 3 * LINE;
pub(crate) const OFF_HEAD: usize = 4 * LINE;
pub(crate) const OFF_DATA_WAIT: usize = 5 * LINE;
pub(crate) const OFF_SPACE_WAIT: usize = 6 * LINE;

/// Record kind: a payload.
pub(crate) const KIND_DATA: u32 = 0x4441_5441; // "DATA"
/// Record kind: padding to the end of the data area.
pub(crate) const KIND_PAD: u32 = 0x5041_4444; // "PADD"

/// Line 0: what the ring is, written once by its creator before `magic`.
#[repr(C)]
pub(crate) struct Identity {
    pub(crate) magic: AtomicU64,
    pub(crate) version: AtomicU32,
    pub(crate) header_size: AtomicU32,
    pub(crate) capacity: AtomicU64,
    pub(crate) record_header: AtomicU32,
    pub(crate) line: AtomicU32,
    pub(crate) creator_pid: AtomicU32,
    pub(crate) _reserved: AtomicU32,
    pub(crate) creator_start: AtomicU64,
}

/// A side's claim: at most one live holder.
///
/// `state` packs the holder's pid (high 32 bits) and a [`ClaimState`] (low 32
/// bits), so that taking the claim is one compare-and-swap; `start_time` is
/// the holder's process start time, written while the state says `CLAIMING`.
#[repr(C)]
pub(crate) struct Claim {
    pub(crate) state: AtomicU64,
    pub(crate) start_time: AtomicU64,
}

/// Claim states (low 32 bits of [`Claim::state`]).
pub(crate) const CLAIM_FREE: u32 = 0;
pub(crate) const CLAIM_CLAIMING: u32 = 1;
pub(crate) const CLAIM_HELD: u32 = 2;
pub(crate) const CLAIM_CLOSED: u32 = 3;

pub(crate) fn claim_word(pid: u32, state: u32) -> u64 {
    (u64::from(pid) << 32) | u64::from(state)
}

pub(crate) fn split_claim(word: u64) -> (u32, u32) {
    ((word >> 32) as u32, word as u32)
}

/// A futex word and the sleeping flag of the one side that waits on it.
#[repr(C)]
pub(crate) struct WaitWord {
    /// Bumped by the waking side before `FUTEX_WAKE`.
    pub(crate) seq: AtomicU32,
    /// Non-zero while the waiting side is (about to be) asleep.
    pub(crate) sleeping: AtomicU32,
    /// Under loom, a mutex and condition variable model the futex.
    #[cfg(loom)]
    pub(crate) model: (loom::sync::Mutex<()>, loom::sync::Condvar),
}

impl WaitWord {
    #[cfg(loom)]
    pub(crate) fn new() -> WaitWord {
        WaitWord {
            seq: AtomicU32::new(0),
            sleeping: AtomicU32::new(0),
            model: (loom::sync::Mutex::new(()), loom::sync::Condvar::new()),
        }
    }
}

#[cfg(not(loom))]
const _: () = {
    assert!(std::mem::size_of::<Identity>() == 48);
    assert!(std::mem::size_of::<Claim>() == 16);
    assert!(std::mem::size_of::<WaitWord>() == 8);
    assert!(OFF_SPACE_WAIT + LINE <= HEADER_SIZE);
};

/// The identity fields decoded from header bytes (little-endian), for
/// validation and `ipcx ls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawIdentity {
    pub(crate) magic: u64,
    pub(crate) version: u32,
    pub(crate) header_size: u32,
    pub(crate) capacity: u64,
    pub(crate) record_header: u32,
    pub(crate) line: u32,
    pub(crate) creator_pid: u32,
    pub(crate) creator_start: u64,
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

impl RawIdentity {
    /// Decodes line 0 from at least 48 bytes; `None` when shorter.
    pub(crate) fn from_bytes(b: &[u8]) -> Option<RawIdentity> {
        if b.len() < 48 {
            return None;
        }
        Some(RawIdentity {
            magic: le_u64(b, 0),
            version: le_u32(b, 8),
            header_size: le_u32(b, 12),
            capacity: le_u64(b, 16),
            record_header: le_u32(b, 24),
            line: le_u32(b, 28),
            creator_pid: le_u32(b, 32),
            creator_start: le_u64(b, 40),
        })
    }

    /// Reads the identity of a live header.
    pub(crate) fn load(id: &Identity) -> RawIdentity {
        use super::atomic::Ordering::{Acquire, Relaxed};
        RawIdentity {
            // Acquire: pairs with the creator's Release store of `magic`, so
            // the other identity fields written before it are visible.
            magic: id.magic.load(Acquire),
            version: id.version.load(Relaxed),
            header_size: id.header_size.load(Relaxed),
            capacity: id.capacity.load(Relaxed),
            record_header: id.record_header.load(Relaxed),
            line: id.line.load(Relaxed),
            creator_pid: id.creator_pid.load(Relaxed),
            creator_start: id.creator_start.load(Relaxed),
        }
    }

    /// Checks the identity against this library's layout; returns the
    /// capacity in bytes.
    ///
    /// `file_size` is the size of the backing object when known.
    pub(crate) fn validate(&self, object: &str, file_size: Option<u64>) -> crate::Result<u64> {
        use crate::Error;
        if self.magic != MAGIC {
            return Err(Error::Corrupted {
                object: object.to_owned(),
                detail: format!(
                    "not an ipcx ring: magic {:#018x}, expected {MAGIC:#018x}",
                    self.magic
                ),
            });
        }
        if self.version != VERSION {
            return Err(Error::VersionMismatch {
                object: object.to_owned(),
                expected: VERSION,
                found: self.version,
            });
        }
        let layout_ok = self.header_size as usize == HEADER_SIZE
            && self.record_header as usize == RECORD_HEADER
            && self.line as usize == LINE;
        if !layout_ok {
            return Err(Error::InvalidSize {
                object: object.to_owned(),
                expected: format!(
                    "header of {HEADER_SIZE} bytes, record header of {RECORD_HEADER} bytes, line of {LINE} bytes"
                ),
                actual: u64::from(self.header_size),
            });
        }
        let cap = self.capacity;
        if !(MIN_CAPACITY..=MAX_CAPACITY).contains(&cap) || !cap.is_power_of_two() {
            return Err(Error::InvalidSize {
                object: object.to_owned(),
                expected: format!(
                    "a data capacity that is a power of two from {MIN_CAPACITY} to {MAX_CAPACITY} bytes"
                ),
                actual: cap,
            });
        }
        if let Some(size) = file_size {
            let want = HEADER_SIZE as u64 + cap;
            if size != want {
                return Err(Error::InvalidSize {
                    object: object.to_owned(),
                    expected: format!("{want} bytes ({HEADER_SIZE}-byte header + {cap}-byte data)"),
                    actual: size,
                });
            }
        }
        Ok(cap)
    }
}
