//! The index protocol as pure functions: where the producer puts a record, and
//! what the consumer may believe about the bytes at its head.
//!
//! `head` and `tail` count bytes ever released and committed; they only grow
//! (wrapping at 2^64) and the position in the data area is `index % capacity`.
//! Each side keeps its own index in a local variable and reads only the other
//! side's from shared memory, once per attempt; every value read is checked
//! here with wrapping arithmetic before it is used, so a hostile peer can make
//! an operation fail with [`Violation`] but never reach outside the data area.

use super::layout::{ALIGN, KIND_DATA, KIND_PAD, RECORD_HEADER};

/// Why the shared state cannot be right; becomes [`Error::Corrupted`](crate::Error::Corrupted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Violation {
    /// `tail - head` is more than the capacity, or not a multiple of 8.
    Used { head: u64, tail: u64, capacity: u64 },
    /// A record header word that no producer writes.
    Record { pos: u64, word: u64, used: u64 },
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Violation::Used {
                head,
                tail,
                capacity,
            } => write!(
                f,
                "head {head} and tail {tail} are {} bytes apart, but the ring holds at most {capacity} bytes in 8-byte units",
                tail.wrapping_sub(*head)
            ),
            Violation::Record { pos, word, used } => {
                let (len, kind) = (*word as u32, (*word >> 32) as u32);
                write!(
                    f,
                    "record at offset {pos} has kind {kind:#010x} and length {len}, which does not fit the {used} committed bytes before the end of the data area"
                )
            }
        }
    }
}

/// Bytes a record of `len` payload bytes takes: header plus payload rounded up to 8.
#[inline]
pub(crate) fn record_size(len: u64) -> u64 {
    RECORD_HEADER as u64 + len.div_ceil(ALIGN) * ALIGN
}

/// Largest payload a ring of `capacity` bytes accepts: half the capacity less
/// the record header, so that a record fits whatever the position once the
/// ring is empty.
#[inline]
pub(crate) fn max_payload(capacity: u64) -> u64 {
    capacity / 2 - RECORD_HEADER as u64
}

/// Bytes committed and not yet released, checked.
#[inline]
pub(crate) fn used(head: u64, tail: u64, capacity: u64) -> Result<u64, Violation> {
    let used = tail.wrapping_sub(head);
    if used > capacity || used % ALIGN != 0 {
        return Err(Violation::Used {
            head,
            tail,
            capacity,
        });
    }
    Ok(used)
}

/// Where the producer writes a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Placement {
    /// Offset of the record header in the data area.
    pub(crate) pos: u64,
    /// Bytes of padding written before it at the old position (0 when it did not wrap).
    pub(crate) pad: u64,
    /// Bytes the tail advances on commit: padding plus record.
    pub(crate) advance: u64,
}

/// Finds room for `len` payload bytes at the producer's `tail`, given a
/// snapshot of the consumer's `head`; `Ok(None)` when the ring is too full.
/// `len` must be at most [`max_payload`].
#[inline]
pub(crate) fn place(
    tail: u64,
    head: u64,
    capacity: u64,
    len: u64,
) -> Result<Option<Placement>, Violation> {
    let free = capacity - used(head, tail, capacity)?;
    let size = record_size(len);
    let pos = tail & (capacity - 1);
    let contiguous = capacity - pos;
    if size <= contiguous {
        return Ok((size <= free).then_some(Placement {
            pos,
            pad: 0,
            advance: size,
        }));
    }
    let advance = contiguous + size;
    Ok((advance <= free).then_some(Placement {
        pos: 0,
        pad: contiguous,
        advance,
    }))
}

/// The header word of a record.
#[inline]
pub(crate) fn record_word(len: u32, kind: u32) -> u64 {
    (u64::from(kind) << 32) | u64::from(len)
}

/// What the consumer found at a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Found {
    /// A payload of `len` bytes starting 8 bytes after the position; the head
    /// advances by `size`.
    Data { len: u64, size: u64 },
    /// Padding to the end of the data area: skip `size` bytes, the next record is at 0.
    Pad { size: u64 },
}

/// Checks the header `word` found at `pos` when `used` bytes are committed
/// from `pos` on.
#[inline]
pub(crate) fn parse(word: u64, pos: u64, used: u64, capacity: u64) -> Result<Found, Violation> {
    let bad = || Violation::Record { pos, word, used };
    let (len, kind) = (u64::from(word as u32), (word >> 32) as u32);
    // pos is the consumer's own index modulo a power-of-two capacity, 8-aligned.
    let contiguous = capacity - pos;
    match kind {
        KIND_DATA => {
            if len > max_payload(capacity) {
                return Err(bad());
            }
            let size = record_size(len);
            if size > used || size > contiguous {
                return Err(bad());
            }
            Ok(Found::Data { len, size })
        }
        KIND_PAD => {
            // Padding always runs to the end and is followed by a record in
            // the same commit; padding at offset 0 would cover the whole ring.
            if pos == 0 || contiguous >= used || len != contiguous - RECORD_HEADER as u64 {
                return Err(bad());
            }
            Ok(Found::Pad { size: contiguous })
        }
        _ => Err(bad()),
    }
}

/// The consumer's view of the next record: offset and length of its payload
/// and how far the head moves when it is released.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Next {
    pub(crate) payload: u64,
    pub(crate) len: u64,
    pub(crate) advance: u64,
}

/// Finds the next record at `head` given a `tail` snapshot, reading header
/// words through `word_at` (offset in the data area, 8-aligned and in
/// bounds). `Ok(None)` when the ring is empty. Reads at most two words.
#[inline]
pub(crate) fn next(
    head: u64,
    tail: u64,
    capacity: u64,
    mut word_at: impl FnMut(u64) -> u64,
) -> Result<Option<Next>, Violation> {
    let used = used(head, tail, capacity)?;
    if used == 0 {
        return Ok(None);
    }
    let pos = head & (capacity - 1);
    match parse(word_at(pos), pos, used, capacity)? {
        Found::Data { len, size } => Ok(Some(Next {
            payload: pos + RECORD_HEADER as u64,
            len,
            advance: size,
        })),
        Found::Pad { size: pad } => {
            let rest = used - pad;
            match parse(word_at(0), 0, rest, capacity)? {
                Found::Data { len, size } => Ok(Some(Next {
                    payload: RECORD_HEADER as u64,
                    len,
                    advance: pad + size,
                })),
                // parse() refuses padding at offset 0.
                Found::Pad { .. } => Err(Violation::Record {
                    pos: 0,
                    word: word_at(0),
                    used: rest,
                }),
            }
        }
    }
}

/// Validates a whole header-plus-data image the way a consumer would walk it:
/// decodes the identity, then follows records from the shared head to the
/// shared tail. Used by the fuzz target and the property test; returns the
/// number of records found.
///
/// # Errors
/// [`Corrupted`](crate::Error::Corrupted), [`VersionMismatch`](crate::Error::VersionMismatch)
/// or [`InvalidSize`](crate::Error::InvalidSize) for whatever is wrong first.
pub fn validate_image(image: &[u8]) -> crate::Result<usize> {
    use super::layout::{RawIdentity, HEADER_SIZE, OFF_HEAD, OFF_TAIL};
    let object = "ring image";
    let id = RawIdentity::from_bytes(image).ok_or_else(|| crate::Error::InvalidSize {
        object: object.into(),
        expected: format!("at least {HEADER_SIZE} bytes"),
        actual: image.len() as u64,
    })?;
    if image.len() < HEADER_SIZE {
        return Err(crate::Error::InvalidSize {
            object: object.into(),
            expected: format!("at least {HEADER_SIZE} bytes"),
            actual: image.len() as u64,
        });
    }
    let capacity = id.validate(object, Some(image.len() as u64))?;
    let data = &image[HEADER_SIZE..];
    let read = |at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&image[at..at + 8]);
        u64::from_le_bytes(w)
    };
    let mut head = read(OFF_HEAD);
    let tail = read(OFF_TAIL);
    let corrupted = |v: Violation| crate::Error::Corrupted {
        object: object.into(),
        detail: v.to_string(),
    };
    if head % ALIGN != 0 {
        return Err(crate::Error::Corrupted {
            object: object.into(),
            detail: format!("head {head} is not a multiple of {ALIGN}"),
        });
    }
    let mut records = 0;
    // Each step consumes at least 8 bytes of at most `capacity`: bounded.
    while let Some(n) = next(head, tail, capacity, |pos| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&data[pos as usize..pos as usize + 8]);
        u64::from_le_bytes(w)
    })
    .map_err(corrupted)?
    {
        let end = (n.payload + n.len) as usize;
        assert!(end <= data.len(), "validated record must be in bounds");
        records += 1;
        head = head.wrapping_add(n.advance);
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_round_up_to_eight_bytes_plus_header() {
        assert_eq!(record_size(0), 8);
        assert_eq!(record_size(1), 16);
        assert_eq!(record_size(8), 16);
        assert_eq!(record_size(9), 24);
        assert_eq!(max_payload(64), 24);
    }

    #[test]
    fn place_wraps_with_padding_and_refuses_when_full() {
        // Empty ring of 64 at position 48: a 24-byte record (size 32) wraps.
        let p = place(48, 48, 64, 24).unwrap().unwrap();
        assert_eq!(
            p,
            Placement {
                pos: 0,
                pad: 16,
                advance: 48
            }
        );
        // Fits without wrapping.
        assert_eq!(place(0, 0, 64, 8).unwrap().unwrap().advance, 16);
        // Full.
        assert_eq!(place(64, 0, 64, 0).unwrap(), None);
        // Head ahead of tail by a hostile consumer.
        assert!(place(0, 8, 64, 0).is_err());
        assert!(place(u64::MAX - 7, 0, 64, 0).is_err());
    }

    #[test]
    fn used_wraps_at_u64_max() {
        assert_eq!(used(u64::MAX - 7, 8, 64).unwrap(), 16);
        assert!(used(0, 65, 128).is_err());
        assert!(used(0, 4, 128).is_err());
    }

    #[test]
    fn next_skips_padding_and_rejects_nonsense() {
        let mut data = [0u64; 8]; // 64-byte ring
        data[6] = record_word(8, KIND_PAD); // pos 48, pad 16 => len 8
        data[0] = record_word(3, KIND_DATA);
        let n = next(48, 48 + 16 + 16, 64, |p| data[p as usize / 8])
            .unwrap()
            .unwrap();
        assert_eq!(
            n,
            Next {
                payload: 8,
                len: 3,
                advance: 32
            }
        );
        // Length 2^31.
        data[0] = record_word(1 << 31, KIND_DATA);
        assert!(next(0, 16, 64, |p| data[p as usize / 8]).is_err());
        // Unknown kind.
        data[0] = 0xdead_beef;
        assert!(next(0, 16, 64, |p| data[p as usize / 8]).is_err());
        // Padding at 0.
        data[0] = record_word(56, KIND_PAD);
        assert!(next(0, 16, 64, |p| data[p as usize / 8]).is_err());
        // Empty.
        assert_eq!(next(8, 8, 64, |_| 0).unwrap(), None);
    }
}
