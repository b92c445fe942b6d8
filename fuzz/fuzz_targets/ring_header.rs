//! Fuzzes the ring's validation of a shared header and its records
//! (`ipcx::ring::validate_image`): whatever the bytes, it must answer
//! (Ok or an error), never panic, read out of bounds or loop forever.
//!
//! Most random inputs would fail at the magic number, so the first byte
//! chooses: odd → the bytes as they are; even → a valid identity line for a
//! capacity of 64 << (second byte % 4) bytes followed by the input as the
//! rest of the header (claims, indices, wait words) and the data area.
#![no_main]

use libfuzzer_sys::fuzz_target;

fn identity(capacity: u64) -> Vec<u8> {
    let mut b = Vec::with_capacity(1024 + capacity as usize);
    b.extend_from_slice(b"IPCXRING");
    b.extend_from_slice(&1u32.to_le_bytes());
    b.extend_from_slice(&1024u32.to_le_bytes());
    b.extend_from_slice(&capacity.to_le_bytes());
    b.extend_from_slice(&8u32.to_le_bytes());
    b.extend_from_slice(&128u32.to_le_bytes());
    b.resize(48, 0);
    b
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 1 {
        let _ = ipcx::ring::validate_image(rest);
        return;
    }
    let Some((&shift, rest)) = rest.split_first() else {
        return;
    };
    let capacity = 64u64 << (shift % 4);
    let mut image = identity(capacity);
    let want = 1024 + capacity as usize;
    let take = rest.len().min(want - image.len());
    image.extend_from_slice(&rest[..take]);
    // Short inputs: pad with zeros so the image has the right size most of
    // the time (a wrong size must be an error too, so keep some short ones).
    if mode & 2 == 0 {
        image.resize(want, 0);
    }
    let _ = ipcx::ring::validate_image(&image);
});
