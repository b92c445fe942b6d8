//! The seed's `shm_reader.c`, correctly: prints the NUL-terminated text at
//! offset 0 of the System V segment with key ftok("shmfile", 65), then
//! removes the segment.
//!
//! Differences from the seed: it does not create an empty segment when the
//! writer has not run (that is an error), it never reads past the segment
//! when no NUL is present (that is an error too), and it attaches read-only.
//!
//! Run after `shm_writer` in the same directory.

use ipcx::key::Key;
use ipcx::shm::sysv::Segment;
use ipcx::shm::SharedMemory;

fn main() -> Result<(), ipcx::Error> {
    let key = Key::from_path("shmfile", 65)?;
    let mut seg = Segment::builder(key).size(1024).read_only().open()?;
    let mut buf = vec![0u8; seg.len()];
    seg.read_bytes(0, &mut buf)?;
    let Some(end) = buf.iter().position(|&b| b == 0) else {
        return Err(ipcx::Error::Corrupted {
            object: seg.describe(),
            detail: "no NUL terminator in the segment".into(),
        });
    };
    println!(
        "Data read from shared memory: {}",
        String::from_utf8_lossy(&buf[..end])
    );
    seg.remove()?;
    Ok(())
}
