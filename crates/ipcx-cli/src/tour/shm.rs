//! Tour: the seed's System V shared memory scenario. A writer process puts
//! "Shared Memory Example" (NUL-terminated) at offset 0 of a 1024-byte
//! segment with key ftok("shmfile", 65); a reader process prints it and
//! removes the segment. Unlike the seed, the key file exists (in a private
//! temporary directory), the segment has mode 0600, and the tour checks that
//! the segment is really gone afterwards.

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use ipcx::key::Key;
use ipcx::shm::sysv::Segment;
use ipcx::shm::SharedMemory;

use super::{peer_command, wait_peer, Reporter, Scenario};

const TEXT: &str = "Shared Memory Example";
const SIZE: usize = 1024;
const PROJ: u8 = 65;

/// The scenarios of this mechanism.
pub fn scenarios() -> Vec<Scenario> {
    vec![Scenario {
        mechanism: "shm",
        title: "System V shared memory: writer and reader processes",
        run: writer_reader,
    }]
}

/// A private (mode 0700) temporary directory, removed on drop.
struct PrivateDir(std::path::PathBuf);

impl PrivateDir {
    fn new() -> anyhow::Result<PrivateDir> {
        use std::os::unix::fs::DirBuilderExt;
        let path = std::env::temp_dir().join(format!(
            "ipcx-tour-shm-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        ));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .with_context(|| format!("making the private directory {}", path.display()))?;
        Ok(PrivateDir(path))
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Removes the segment if the scenario fails half-way.
struct Cleanup(Key);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Ok(mut seg) = Segment::builder(self.0).open() {
            let _ = seg.remove();
        }
    }
}

fn writer_reader(r: &mut Reporter) -> anyhow::Result<()> {
    let dir = PrivateDir::new()?;
    let keyfile = dir.0.join("shmfile");
    std::fs::write(&keyfile, b"").context("creating the key file")?;
    let key = Key::from_path(&keyfile, PROJ)?;
    let _cleanup = Cleanup(key);
    r.step(format!("key ftok({}, {PROJ}) = {key}", keyfile.display()));
    let path = keyfile.to_string_lossy().into_owned();

    let start = Instant::now();
    let writer = peer_command("shm", "writer", &[&path])?
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting the writer process")?;
    let out = wait_peer(writer, "writer", Duration::from_secs(30))?;
    r.step(format!("writer: {}", out.trim()));
    let st = Segment::builder(key).open()?.stat()?;
    r.step(format!(
        "segment {key}: {} bytes, mode {:o}, created by pid {}, {} attached",
        st.size, st.mode, st.creator_pid, st.attach_count
    ));
    anyhow::ensure!(st.mode == 0o600, "segment mode is {:o}, not 600", st.mode);

    let reader = peer_command("shm", "reader", &[&path])?
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting the reader process")?;
    let out = wait_peer(reader, "reader", Duration::from_secs(30))?;
    let elapsed = start.elapsed();
    r.step(format!("reader: {}", out.trim()));
    anyhow::ensure!(
        out.trim() == format!("Data read from shared memory: {TEXT}"),
        "the reader did not print {TEXT:?}"
    );
    match Segment::builder(key).open() {
        Err(ipcx::Error::NotFound { .. }) => r.step("the reader removed the segment"),
        Ok(_) => anyhow::bail!("the segment still exists after the reader"),
        Err(e) => return Err(e.into()),
    }
    r.fact("bytes", (TEXT.len() + 1).to_string());
    r.fact(
        "writer+reader",
        format!("{:.1} ms", elapsed.as_secs_f64() * 1e3),
    );
    Ok(())
}

/// Runs one peer role of these scenarios.
pub fn peer(role: &str, args: &[String]) -> anyhow::Result<i32> {
    let keyfile = args.first().context("missing key file argument")?;
    let key = Key::from_path(keyfile, PROJ)?;
    match role {
        "writer" => {
            let mut seg = Segment::builder(key).size(SIZE).open_or_create()?;
            seg.keep(); // the reader removes it, as in the seed
            seg.write_bytes(0, TEXT.as_bytes())?;
            seg.write_bytes(TEXT.len(), &[0])?;
            println!("Data written to shared memory");
            Ok(0)
        }
        "reader" => {
            let mut seg = Segment::builder(key).size(SIZE).open()?;
            let mut buf = vec![0u8; seg.len()];
            seg.read_bytes(0, &mut buf)?;
            let end = buf
                .iter()
                .position(|&b| b == 0)
                .ok_or_else(|| anyhow::anyhow!("{}: no NUL terminator", seg.describe()))?;
            println!(
                "Data read from shared memory: {}",
                String::from_utf8_lossy(&buf[..end])
            );
            seg.remove()?;
            Ok(0)
        }
        other => Err(super::unknown_role("shm", other)),
    }
}
