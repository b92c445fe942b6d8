//! The seed's `shm_writer.c`, correctly: writes "Shared Memory Example"
//! (NUL-terminated, like the C reader expects) at offset 0 of the 1024-byte
//! System V segment with key ftok("shmfile", 65), and leaves the segment for
//! the reader, which removes it.
//!
//! Differences from the seed: a missing `shmfile` is an error naming it (not
//! key 0xffffffff), the segment is created with mode 0600 (not 0666), an
//! existing segment of another size is refused instead of overrun, and every
//! call is checked.
//!
//! Run in a directory containing `shmfile`:
//! `touch shmfile && cargo run --example shm_writer && cargo run --example shm_reader`

use ipcx::key::Key;
use ipcx::shm::sysv::Segment;
use ipcx::shm::SharedMemory;

fn main() -> Result<(), ipcx::Error> {
    let key = Key::from_path("shmfile", 65)?;
    let mut seg = Segment::builder(key).size(1024).open_or_create()?;
    // The data must outlive this process: the reader removes the segment.
    seg.keep();
    let text = b"Shared Memory Example\0";
    seg.write_bytes(0, text)?;
    println!("Data written to shared memory");
    Ok(())
}
