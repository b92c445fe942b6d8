//! Named pipes (FIFOs): a one-way byte stream between unrelated processes
//! that meet at a path.
//!
//! [`Fifo`] is the FIFO's name in the file system. [`Fifo::builder`] makes
//! it (`mkfifo`, mode 0600 unless told otherwise) or opens an existing one,
//! as a [`CreationMode`] says; the handle that created the FIFO removes it when
//! dropped, unless told to keep it. [`FifoReader`] and [`FifoWriter`] are the
//! two ends, opened with an optional timeout so that no open hangs forever
//! when the peer never comes: a timeout is [`Error::TimedOut`] saying which
//! side is missing (`a reader to open the FIFO`, `a writer to open the FIFO`).
//!
//! ```
//! use std::io::{Read, Write};
//! use std::time::Duration;
//! use ipcx::fifo::{Fifo, FifoReader, FifoWriter};
//!
//! let dir = tempfile::tempdir()?;
//! let fifo = Fifo::builder(dir.path().join("myfifo")).create()?; // mode 0600
//! let path = fifo.path().to_path_buf();
//! let writer = std::thread::spawn(move || -> ipcx::Result<()> {
//!     let w = FifoWriter::open(&path, Some(Duration::from_secs(10)))?;
//!     w.write_message(b"Hello from FIFO!")
//! });
//! let mut reader = fifo.open_reader(Some(Duration::from_secs(10)))?;
//! let mut got = String::new();
//! reader.read_to_string(&mut got)?;
//! writer.join().unwrap()?;
//! assert_eq!(got, "Hello from FIFO!");
//! drop(fifo); // removes the FIFO: this handle created it
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Safety of names
//!
//! Creating never replaces or follows anything: `mkfifo(3)` fails on any
//! existing name, and opening checks with `lstat` that the name is a FIFO,
//! opens with `O_NOFOLLOW`, and checks again with `fstat` that the open file
//! is the same FIFO. A symbolic link, a regular file or any other non-FIFO is
//! refused with [`Error::InvalidArgument`]. Every descriptor is
//! close-on-exec.
//!
//! # "No writer yet" versus "the writer hung up"
//!
//! A FIFO reader opened while no writer has the FIFO open would see
//! end-of-file at once from a plain `read(2)`. [`FifoReader`] does not: until
//! a writer has shown up (sent data, or opened and closed), reads wait for it,
//! and [`FifoReader::writer_state`] says [`WriterState::NotYetConnected`].
//! After that, `Ok(0)` from a read means every writer has closed the FIFO:
//! [`WriterState::HungUp`]. A non-blocking read with nothing to read is
//! [`Error::Empty`] in both of the waiting states; `writer_state` tells them
//! apart. Timed reads say in the [`Error::TimedOut`] which one it was:
//! `a writer to open the FIFO` or `data from the writer`. The kernel does not
//! tell a reader that a writer has opened the FIFO until it writes or closes,
//! so a writer that opened but has sent nothing yet still counts as not
//! connected.
//!
//! Writes follow [`crate::pipe`]: a write of at most
//! [`PIPE_BUF`](crate::pipe::PIPE_BUF) bytes ([`FifoWriter::write_message`])
//! is atomic among several writers, and a write with no reader left is
//! [`Error::Disconnected`], never a death by `SIGPIPE`.
//!
//! # References
//! [fifo(7)](https://man7.org/linux/man-pages/man7/fifo.7.html),
//! [mkfifo(3)](https://man7.org/linux/man-pages/man3/mkfifo.3.html),
//! [open(2)](https://man7.org/linux/man-pages/man2/open.2.html),
//! [pipe(7)](https://man7.org/linux/man-pages/man7/pipe.7.html)

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustix::event::PollFlags;
use rustix::fs::FileType;
use rustix::io::Errno;

use crate::deadline::{poll_fd, Deadline};
use crate::error::{Error, Result};
use crate::pipe::{self, Wait};
use crate::sys::fifo as sys;
use crate::sys::pipe as sys_pipe;

/// `PATH_MAX`: the longest path the kernel accepts, in bytes, including the
/// terminating NUL.
const PATH_MAX: usize = libc::PATH_MAX as usize;

/// What a writer waits for when it opens a FIFO.
pub const WAITING_FOR_READER: &str = "a reader to open the FIFO";
/// What a reader waits for before any writer has shown up.
pub const WAITING_FOR_WRITER: &str = "a writer to open the FIFO";

/// Whether a FIFO is made, opened, or either.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CreationMode {
    /// Make a new FIFO; an existing name is [`Error::AlreadyExists`]. The
    /// handle owns the FIFO.
    #[default]
    Create,
    /// Open an existing FIFO; a missing one is [`Error::NotFound`]. The
    /// handle never removes it.
    Open,
    /// Open the FIFO if it exists, make it otherwise; the handle owns it only
    /// if it made it.
    OpenOrCreate,
}

/// Builds a [`Fifo`]: set the mode and whether to keep it, then
/// [`create`](Self::create), [`open`](Self::open),
/// [`open_or_create`](Self::open_or_create) or [`build`](Self::build).
#[derive(Debug, Clone)]
pub struct FifoBuilder {
    path: PathBuf,
    mode: u32,
    keep: bool,
}

impl FifoBuilder {
    /// Permission bits for a FIFO this builder makes (default `0o600`,
    /// owner only). They are set exactly, whatever the process umask.
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode;
        self
    }

    /// Keep a FIFO this builder makes when the handle is dropped (default:
    /// remove it).
    pub fn keep(mut self, keep: bool) -> Self {
        self.keep = keep;
        self
    }

    /// `mkfifo`—makes a new FIFO, owned by the returned handle.
    ///
    /// # Errors
    /// As [`build`](Self::build) with [`CreationMode::Create`].
    ///
    /// # References
    /// [mkfifo(3)](https://man7.org/linux/man-pages/man3/mkfifo.3.html)
    #[doc(alias = "mkfifo")]
    pub fn create(self) -> Result<Fifo> {
        self.build(CreationMode::Create)
    }

    /// Opens the name of an existing FIFO (checked with `lstat`); the handle
    /// never removes it.
    ///
    /// # Errors
    /// As [`build`](Self::build) with [`CreationMode::Open`].
    pub fn open(self) -> Result<Fifo> {
        self.build(CreationMode::Open)
    }

    /// Opens the FIFO, making it first if it does not exist.
    ///
    /// # Errors
    /// As [`build`](Self::build) with [`CreationMode::OpenOrCreate`].
    ///
    /// # References
    /// [mkfifo(3)](https://man7.org/linux/man-pages/man3/mkfifo.3.html),
    /// [lstat(2)](https://man7.org/linux/man-pages/man2/lstat.2.html)
    pub fn open_or_create(self) -> Result<Fifo> {
        self.build(CreationMode::OpenOrCreate)
    }

    /// `mkfifo` and/or `lstat`—makes or finds the FIFO as `creation` says.
    ///
    /// # Errors
    /// - [`Error::PathTooLong`] for a path of `PATH_MAX` (4096) bytes or more,
    ///   [`Error::InvalidName`] for an empty path (both checked first);
    /// - [`Error::InvalidArgument`] for a mode above `0o777`;
    /// - [`Error::NotFound`] naming the directory when the parent directory
    ///   is missing, or naming the FIFO when [`CreationMode::Open`] finds
    ///   nothing;
    /// - [`Error::AlreadyExists`] when [`CreationMode::Create`] finds any
    ///   file at the path;
    /// - [`Error::InvalidArgument`] when the path is a symbolic link or any
    ///   other kind of file than a FIFO (never followed, never replaced);
    /// - [`Error::PermissionDenied`] when the directory does not allow it;
    /// - [`Error::Io`] otherwise.
    ///
    /// # References
    /// [mkfifo(3)](https://man7.org/linux/man-pages/man3/mkfifo.3.html),
    /// [lstat(2)](https://man7.org/linux/man-pages/man2/lstat.2.html)
    pub fn build(self, creation: CreationMode) -> Result<Fifo> {
        check_path(&self.path)?;
        if self.mode > 0o777 {
            return Err(Error::InvalidArgument {
                object: object(&self.path),
                reason: format!(
                    "mode {:#o} is not a permission mode from 0o000 to 0o777",
                    self.mode
                ),
            });
        }
        let made = match creation {
            CreationMode::Open => false,
            CreationMode::Create | CreationMode::OpenOrCreate => {
                match sys::mkfifo(&self.path, self.mode) {
                    Ok(()) => true,
                    Err(Errno::EXIST) if creation == CreationMode::OpenOrCreate => false,
                    Err(Errno::NOENT) => return Err(missing_parent(&self.path, "mkfifo")),
                    Err(e) => return Err(Error::os(object(&self.path), "mkfifo", e)),
                }
            }
        };
        let meta = lstat_fifo(&self.path)?;
        let fifo = Fifo {
            path: self.path,
            dev: meta.dev,
            ino: meta.ino,
            owner: made,
            keep: self.keep,
        };
        if made && meta.perm != self.mode {
            // The umask narrowed the mode; set it exactly. `fifo` already owns
            // the name, so an error here removes it again.
            sys::chmod(&fifo.path, self.mode)
                .map_err(|e| Error::os(object(&fifo.path), "chmod", e))?;
        }
        Ok(fifo)
    }
}

/// The error naming the FIFO.
fn object(path: &Path) -> String {
    format!("fifo {}", path.display())
}

/// Length and emptiness checks before any system call.
fn check_path(path: &Path) -> Result<()> {
    let len = path.as_os_str().as_bytes().len();
    if len == 0 {
        return Err(Error::InvalidName {
            name: String::new(),
            reason: "a FIFO path cannot be empty".into(),
        });
    }
    if len >= PATH_MAX {
        return Err(Error::PathTooLong {
            path: abbreviate(&path.display().to_string()),
            len,
            max: PATH_MAX - 1,
            limit: "PATH_MAX",
        });
    }
    Ok(())
}

/// A long path shortened for an error message: its start and end.
fn abbreviate(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= 80 {
        return text.to_string();
    }
    let head: String = chars[..56].iter().collect();
    let tail: String = chars[chars.len() - 20..].iter().collect();
    format!("{head}…{tail}")
}

/// `ENOENT` from `mkfifo`: say which directory is missing.
fn missing_parent(path: &Path, syscall: &'static str) -> Error {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Error::NotFound {
        object: format!("directory {} (for {})", parent.display(), object(path)),
        syscall,
    }
}

/// `lstat`: the path must be a FIFO, not a symlink or anything else.
fn lstat_fifo(path: &Path) -> Result<sys::Meta> {
    let meta = sys::lstat(path).map_err(|e| Error::os(object(path), "lstat", e))?;
    check_kind(path, meta.kind)?;
    Ok(meta)
}

fn check_kind(path: &Path, kind: FileType) -> Result<()> {
    let what = match kind {
        FileType::Fifo => return Ok(()),
        FileType::Symlink => "is a symbolic link; ipcx does not follow symbolic links (O_NOFOLLOW)",
        FileType::RegularFile => "is a regular file, not a FIFO",
        FileType::Directory => "is a directory, not a FIFO",
        FileType::Socket => "is a socket, not a FIFO",
        FileType::CharacterDevice | FileType::BlockDevice => "is a device, not a FIFO",
        _ => "is not a FIFO",
    };
    Err(Error::InvalidArgument {
        object: object(path),
        reason: what.into(),
    })
}

/// Opens `path` non-blocking, after checking it is a FIFO, and checks the
/// open file is still a FIFO (and the same one when `expect` is given).
fn open_checked(path: &Path, write: bool, expect: Option<(u64, u64)>) -> Result<OwnedFd, Errno> {
    let fd = sys::open_nonblocking(path, write)?;
    let meta = sys::fstat(fd.as_fd())?;
    if meta.kind != FileType::Fifo || expect.is_some_and(|id| id != (meta.dev, meta.ino)) {
        // Replaced between lstat and open; report it like a non-FIFO.
        return Err(Errno::STALE);
    }
    Ok(fd)
}

/// A FIFO's name in the file system, removed on drop by the handle that made
/// it unless kept. Open its ends with [`open_reader`](Self::open_reader) and
/// [`open_writer`](Self::open_writer); the ends stay usable after the name is
/// removed.
#[derive(Debug)]
pub struct Fifo {
    path: PathBuf,
    dev: u64,
    ino: u64,
    owner: bool,
    keep: bool,
}

impl Fifo {
    /// Starts building a FIFO at `path`: mode `0o600`, removed on drop by
    /// the handle that makes it.
    pub fn builder(path: impl Into<PathBuf>) -> FifoBuilder {
        FifoBuilder {
            path: path.into(),
            mode: 0o600,
            keep: false,
        }
    }

    /// The FIFO's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether this handle made the FIFO (and so removes it on drop unless
    /// kept).
    pub fn is_owner(&self) -> bool {
        self.owner
    }

    /// Whether the FIFO is kept (not removed) when this handle is dropped.
    pub fn set_keep(&mut self, keep: bool) {
        self.keep = keep;
    }

    /// Opens the read end; see [`FifoReader::open`].
    ///
    /// # Errors
    /// As [`FifoReader::open`]; also [`Error::InvalidArgument`] when the
    /// path now names a different file than the one this handle made or
    /// found.
    ///
    /// # References
    /// [open(2)](https://man7.org/linux/man-pages/man2/open.2.html),
    /// [fifo(7)](https://man7.org/linux/man-pages/man7/fifo.7.html)
    pub fn open_reader(&self, timeout: Option<Duration>) -> Result<FifoReader> {
        let mut r = FifoReader::open_inner(&self.path, Some((self.dev, self.ino)))?;
        r.wait_for_writer(timeout)?;
        Ok(r)
    }

    /// Opens the read end without waiting for a writer; see
    /// [`FifoReader::try_open`].
    ///
    /// # Errors
    /// As [`open_reader`](Self::open_reader), without the timeout.
    ///
    /// # References
    /// [open(2)](https://man7.org/linux/man-pages/man2/open.2.html),
    /// [fifo(7)](https://man7.org/linux/man-pages/man7/fifo.7.html)
    pub fn try_open_reader(&self) -> Result<FifoReader> {
        FifoReader::open_inner(&self.path, Some((self.dev, self.ino)))
    }

    /// Opens the write end; see [`FifoWriter::open`].
    ///
    /// # Errors
    /// As [`FifoWriter::open`].
    ///
    /// # References
    /// [open(2)](https://man7.org/linux/man-pages/man2/open.2.html),
    /// [fifo(7)](https://man7.org/linux/man-pages/man7/fifo.7.html)
    pub fn open_writer(&self, timeout: Option<Duration>) -> Result<FifoWriter> {
        FifoWriter::open_inner(
            &self.path,
            Wait::from_option(timeout),
            Some((self.dev, self.ino)),
        )
    }

    /// Opens the write end if a reader has the FIFO open now; see
    /// [`FifoWriter::try_open`].
    ///
    /// # Errors
    /// As [`FifoWriter::try_open`].
    ///
    /// # References
    /// [open(2)](https://man7.org/linux/man-pages/man2/open.2.html),
    /// [fifo(7)](https://man7.org/linux/man-pages/man7/fifo.7.html)
    pub fn try_open_writer(&self) -> Result<FifoWriter> {
        FifoWriter::open_inner(&self.path, Wait::NonBlocking, Some((self.dev, self.ino)))
    }

    /// `unlink`—removes the FIFO's name now (whoever made it), reporting
    /// errors that drop would ignore. Open ends keep working.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the path now names a different file
    /// (it is left alone); [`Error::NotFound`] when the name is gone;
    /// [`Error::PermissionDenied`] or [`Error::Io`] from `unlink(2)`.
    ///
    /// # References
    /// [unlink(2)](https://man7.org/linux/man-pages/man2/unlink.2.html)
    pub fn remove(mut self) -> Result<()> {
        self.keep = true;
        self.unlink_if_same()
    }

    fn unlink_if_same(&self) -> Result<()> {
        let meta = sys::lstat(&self.path).map_err(|e| Error::os(object(&self.path), "lstat", e))?;
        // Inode numbers are reused at once on some file systems (tmpfs), so
        // the type is checked too.
        if (meta.dev, meta.ino) != (self.dev, self.ino) || meta.kind != FileType::Fifo {
            return Err(Error::InvalidArgument {
                object: object(&self.path),
                reason: "the path now names a different file; it was left alone".into(),
            });
        }
        sys::unlink(&self.path).map_err(|e| Error::os(object(&self.path), "unlink", e))
    }
}

impl Drop for Fifo {
    /// Removes the FIFO if this handle made it and it is not kept, and the
    /// path still names a FIFO with the same device and inode number.
    fn drop(&mut self) {
        if self.owner && !self.keep {
            let _ = self.unlink_if_same();
        }
    }
}

/// What a [`FifoReader`] has seen of the writers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriterState {
    /// No writer has shown up since the reader opened the FIFO (it has
    /// neither sent data nor opened and closed).
    NotYetConnected,
    /// A writer has shown up and the reader has not seen end-of-file since.
    Connected,
    /// Every writer closed the FIFO: a read returned `Ok(0)`.
    HungUp,
}

/// The read end of a FIFO. See the [module documentation](self) for how it
/// tells "no writer yet" from "the writer hung up".
///
/// The descriptor stays in non-blocking mode (`O_NONBLOCK`); blocking reads
/// wait in `poll(2)`.
#[derive(Debug)]
pub struct FifoReader {
    fd: OwnedFd,
    path: PathBuf,
    state: WriterState,
}

impl FifoReader {
    /// `open(O_RDONLY)`—opens the FIFO at `path` for reading, then waits at
    /// most `timeout` (`None`: as long as it takes) for a writer to show up.
    ///
    /// # Errors
    /// - [`Error::TimedOut`] saying `a writer to open the FIFO` when no writer
    ///   came within `timeout`;
    /// - [`Error::NotFound`] when nothing is at `path`;
    /// - [`Error::InvalidArgument`] when `path` is a symbolic link or not a
    ///   FIFO;
    /// - [`Error::PathTooLong`] for a path of `PATH_MAX` bytes or more;
    /// - [`Error::PermissionDenied`] or [`Error::Io`] from `open(2)`.
    ///
    /// # References
    /// [open(2)](https://man7.org/linux/man-pages/man2/open.2.html),
    /// [fifo(7)](https://man7.org/linux/man-pages/man7/fifo.7.html)
    pub fn open(path: impl AsRef<Path>, timeout: Option<Duration>) -> Result<FifoReader> {
        let mut r = FifoReader::try_open(path)?;
        r.wait_for_writer(timeout)?;
        Ok(r)
    }

    /// `open(O_RDONLY | O_NONBLOCK)`—opens the FIFO at `path` for reading
    /// without waiting for a writer; [`writer_state`](Self::writer_state) is
    /// then [`WriterState::NotYetConnected`].
    ///
    /// # Errors
    /// As [`open`](Self::open), without the timeout.
    ///
    /// # References
    /// [open(2)](https://man7.org/linux/man-pages/man2/open.2.html),
    /// [fifo(7)](https://man7.org/linux/man-pages/man7/fifo.7.html)
    pub fn try_open(path: impl AsRef<Path>) -> Result<FifoReader> {
        let path = path.as_ref();
        check_path(path)?;
        let meta = lstat_fifo(path)?;
        FifoReader::open_inner(path, Some((meta.dev, meta.ino)))
    }

    fn open_inner(path: &Path, expect: Option<(u64, u64)>) -> Result<FifoReader> {
        let fd = open_checked(path, false, expect).map_err(|e| open_error(path, e))?;
        Ok(FifoReader {
            fd,
            path: path.to_path_buf(),
            state: WriterState::NotYetConnected,
        })
    }

    fn object(&self) -> String {
        object(&self.path)
    }

    /// The FIFO's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What this reader has seen of the writers so far.
    pub fn writer_state(&self) -> WriterState {
        self.state
    }

    /// `poll`—waits at most `timeout` (`None`: as long as it takes) for a
    /// writer to show up (send data or close); returns at once if one has.
    ///
    /// # Errors
    /// [`Error::TimedOut`] saying `a writer to open the FIFO`;
    /// [`Error::Io`] if `poll(2)` fails.
    ///
    /// # References
    /// [poll(2)](https://man7.org/linux/man-pages/man2/poll.2.html)
    pub fn wait_for_writer(&mut self, timeout: Option<Duration>) -> Result<()> {
        self.await_writer(Wait::from_option(timeout))
    }

    fn await_writer(&mut self, wait: Wait) -> Result<()> {
        if self.state != WriterState::NotYetConnected {
            return Ok(());
        }
        let deadline = match wait {
            Wait::Block => Deadline::NEVER,
            Wait::NonBlocking => Deadline::now(),
            Wait::Until(d) => d,
        };
        match poll_fd(self.fd.as_fd(), PollFlags::IN, deadline) {
            Ok(Some(_)) => {
                self.state = WriterState::Connected;
                Ok(())
            }
            Ok(None) => Err(match wait {
                Wait::Until(d) => Error::TimedOut {
                    object: self.object(),
                    waiting_for: WAITING_FOR_WRITER.into(),
                    timeout: d.timeout(),
                },
                _ => Error::Empty {
                    object: self.object(),
                },
            }),
            Err(e) => Err(Error::os(self.object(), "poll", e)),
        }
    }

    fn read_wait(&mut self, buf: &mut [u8], wait: Wait) -> Result<usize> {
        self.await_writer(wait)?;
        let n = pipe::read_fd(
            self.fd.as_fd(),
            buf,
            wait,
            &|| object(&self.path),
            "data from the writer",
        )?;
        if n > 0 {
            self.state = WriterState::Connected;
        } else if !buf.is_empty() {
            self.state = WriterState::HungUp;
        }
        Ok(n)
    }

    /// `read`—reads what is there now without blocking. `Ok(0)` means every
    /// writer has closed the FIFO ([`WriterState::HungUp`]).
    ///
    /// # Errors
    /// [`Error::Empty`] when there is nothing to read: check
    /// [`writer_state`](Self::writer_state) to tell "no writer yet" from
    /// "the writer has sent nothing more"; [`Error::Io`] for `read(2)`
    /// errors.
    ///
    /// # References
    /// [read(2)](https://man7.org/linux/man-pages/man2/read.2.html)
    pub fn try_read(&mut self, buf: &mut [u8]) -> Result<usize> {
        self.read_wait(buf, Wait::NonBlocking)
    }

    /// `read`—waits at most `timeout` for a writer and data. `Ok(0)` means
    /// every writer has closed the FIFO.
    ///
    /// # Errors
    /// [`Error::TimedOut`] saying `a writer to open the FIFO` when no writer
    /// has shown up, or `data from the writer` when one has but sent
    /// nothing within `timeout`; [`Error::Io`] for `read(2)` errors.
    ///
    /// # References
    /// [read(2)](https://man7.org/linux/man-pages/man2/read.2.html),
    /// [poll(2)](https://man7.org/linux/man-pages/man2/poll.2.html)
    pub fn read_timeout(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize> {
        self.read_wait(buf, Wait::timeout(timeout))
    }

    /// `F_GETPIPE_SZ`—the FIFO's buffer capacity in bytes.
    ///
    /// # Errors
    /// [`Error::Io`] if `fcntl(2)` fails.
    ///
    /// # References
    /// [fcntl(2)](https://man7.org/linux/man-pages/man2/fcntl.2.html)
    #[doc(alias = "F_GETPIPE_SZ")]
    pub fn capacity(&self) -> Result<usize> {
        pipe::capacity_fd(self.fd.as_fd(), &|| self.object())
    }
}

impl Read for FifoReader {
    /// Blocks until a writer has shown up and sent data; `Ok(0)` once every
    /// writer has closed the FIFO.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(self.read_wait(buf, Wait::Block)?)
    }
}

/// Maps the errors of opening an end.
fn open_error(path: &Path, e: Errno) -> Error {
    match e {
        Errno::LOOP => Error::InvalidArgument {
            object: object(path),
            reason: "is a symbolic link; ipcx does not follow symbolic links (O_NOFOLLOW)".into(),
        },
        Errno::STALE => Error::InvalidArgument {
            object: object(path),
            reason: "the path was replaced by a file that is not this FIFO while opening it".into(),
        },
        e => Error::os(object(path), "open", e),
    }
}

/// The write end of a FIFO.
///
/// Writes block while the FIFO is full; a write with no reader left is
/// [`Error::Disconnected`] (kind `BrokenPipe`), never a death by `SIGPIPE`.
#[derive(Debug)]
pub struct FifoWriter {
    fd: OwnedFd,
    path: PathBuf,
}

impl FifoWriter {
    /// `open(O_WRONLY)`—opens the FIFO at `path` for writing, waiting at most
    /// `timeout` (`None`: as long as it takes) for a reader to open it.
    ///
    /// Opening never blocks in the kernel: it is `O_WRONLY | O_NONBLOCK`,
    /// retried (with growing pauses up to 10 ms) while the kernel answers
    /// `ENXIO` (no reader); once open, the descriptor is switched to blocking
    /// mode.
    ///
    /// # Errors
    /// - [`Error::TimedOut`] saying `a reader to open the FIFO` when no reader
    ///   came within `timeout`;
    /// - [`Error::NotFound`], [`Error::InvalidArgument`] (symbolic link, not a
    ///   FIFO), [`Error::PathTooLong`], [`Error::PermissionDenied`],
    ///   [`Error::Io`] as for [`FifoReader::open`].
    ///
    /// # References
    /// [open(2)](https://man7.org/linux/man-pages/man2/open.2.html) (`ENXIO`),
    /// [fifo(7)](https://man7.org/linux/man-pages/man7/fifo.7.html)
    pub fn open(path: impl AsRef<Path>, timeout: Option<Duration>) -> Result<FifoWriter> {
        let path = path.as_ref();
        check_path(path)?;
        let meta = lstat_fifo(path)?;
        FifoWriter::open_inner(path, Wait::from_option(timeout), Some((meta.dev, meta.ino)))
    }

    /// `open(O_WRONLY | O_NONBLOCK)`—opens the FIFO for writing if a reader
    /// has it open now.
    ///
    /// # Errors
    /// [`Error::Disconnected`] when no process has the FIFO open for reading
    /// (`ENXIO`); otherwise as [`open`](Self::open).
    ///
    /// # References
    /// [open(2)](https://man7.org/linux/man-pages/man2/open.2.html),
    /// [fifo(7)](https://man7.org/linux/man-pages/man7/fifo.7.html)
    pub fn try_open(path: impl AsRef<Path>) -> Result<FifoWriter> {
        let path = path.as_ref();
        check_path(path)?;
        let meta = lstat_fifo(path)?;
        FifoWriter::open_inner(path, Wait::NonBlocking, Some((meta.dev, meta.ino)))
    }

    fn open_inner(path: &Path, wait: Wait, expect: Option<(u64, u64)>) -> Result<FifoWriter> {
        let deadline = match wait {
            Wait::Block => Deadline::NEVER,
            Wait::NonBlocking => Deadline::now(),
            Wait::Until(d) => d,
        };
        let mut pause = Duration::from_millis(1);
        let fd = loop {
            match open_checked(path, true, expect) {
                Ok(fd) => break fd,
                Err(Errno::NXIO) => {
                    if deadline.expired() {
                        return Err(match wait {
                            Wait::Until(d) => Error::TimedOut {
                                object: object(path),
                                waiting_for: WAITING_FOR_READER.into(),
                                timeout: d.timeout(),
                            },
                            _ => Error::Disconnected {
                                object: object(path),
                                reason: "no process has the FIFO open for reading (open: ENXIO)"
                                    .into(),
                            },
                        });
                    }
                    let nap = deadline.remaining().map_or(pause, |r| r.min(pause));
                    std::thread::sleep(nap);
                    pause = (pause * 2).min(Duration::from_millis(10));
                }
                Err(e) => return Err(open_error(path, e)),
            }
        };
        sys_pipe::set_nonblocking(fd.as_fd(), false)
            .map_err(|e| Error::os(object(path), "fcntl(F_SETFL)", e))?;
        Ok(FifoWriter {
            fd,
            path: path.to_path_buf(),
        })
    }

    fn object(&self) -> String {
        object(&self.path)
    }

    /// The FIFO's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `write`—writes `msg` atomically, in one `write(2)` of at most
    /// [`PIPE_BUF`](crate::pipe::PIPE_BUF) bytes; blocks while the FIFO has
    /// no room.
    ///
    /// # Errors
    /// [`Error::MessageTooLarge`] naming `PIPE_BUF` for a longer message
    /// (nothing written); [`Error::Disconnected`] when no reader is left;
    /// [`Error::Io`] for other `write(2)` errors.
    ///
    /// # References
    /// [write(2)](https://man7.org/linux/man-pages/man2/write.2.html),
    /// [pipe(7)](https://man7.org/linux/man-pages/man7/pipe.7.html) (`PIPE_BUF`)
    pub fn write_message(&self, msg: &[u8]) -> Result<()> {
        pipe::write_message_fd(
            self.fd.as_fd(),
            msg,
            Wait::Block,
            &|| self.object(),
            "room in the FIFO",
        )
    }

    /// `write`—as [`write_message`](Self::write_message), but waits at most
    /// `timeout` for room.
    ///
    /// # Errors
    /// As [`write_message`](Self::write_message), plus [`Error::TimedOut`]
    /// when the reader did not make room in time (nothing written).
    ///
    /// # References
    /// [write(2)](https://man7.org/linux/man-pages/man2/write.2.html),
    /// [poll(2)](https://man7.org/linux/man-pages/man2/poll.2.html)
    pub fn write_message_timeout(&self, msg: &[u8], timeout: Duration) -> Result<()> {
        pipe::write_message_fd(
            self.fd.as_fd(),
            msg,
            Wait::timeout(timeout),
            &|| self.object(),
            "the reader to make room in the FIFO",
        )
    }

    /// `write`—writes as much of `buf` as fits now; returns the bytes written.
    ///
    /// # Errors
    /// [`Error::Full`] when nothing fits; [`Error::Disconnected`] when no
    /// reader is left; [`Error::Io`] otherwise.
    ///
    /// # References
    /// [write(2)](https://man7.org/linux/man-pages/man2/write.2.html)
    pub fn try_write(&self, buf: &[u8]) -> Result<usize> {
        pipe::write_fd(
            self.fd.as_fd(),
            buf,
            Wait::NonBlocking,
            &|| self.object(),
            "room in the FIFO",
        )
    }

    /// `write`—waits at most `timeout` for room, then writes as much of `buf`
    /// as fits; returns the bytes written.
    ///
    /// # Errors
    /// [`Error::TimedOut`] when no room appeared in time;
    /// [`Error::Disconnected`] when no reader is left; [`Error::Io`]
    /// otherwise.
    ///
    /// # References
    /// [write(2)](https://man7.org/linux/man-pages/man2/write.2.html),
    /// [poll(2)](https://man7.org/linux/man-pages/man2/poll.2.html)
    pub fn write_timeout(&self, buf: &[u8], timeout: Duration) -> Result<usize> {
        pipe::write_fd(
            self.fd.as_fd(),
            buf,
            Wait::timeout(timeout),
            &|| self.object(),
            "the reader to make room in the FIFO",
        )
    }

    /// `write`—writes all of `buf`, waiting at most `timeout` each time the
    /// FIFO is full (an inactivity timeout, not a total one).
    ///
    /// # Errors
    /// As [`write_timeout`](Self::write_timeout); on error an unknown part of
    /// `buf` has been written.
    ///
    /// # References
    /// [write(2)](https://man7.org/linux/man-pages/man2/write.2.html),
    /// [poll(2)](https://man7.org/linux/man-pages/man2/poll.2.html)
    pub fn write_all_timeout(&self, buf: &[u8], timeout: Duration) -> Result<()> {
        let mut rest = buf;
        while !rest.is_empty() {
            let n = self.write_timeout(rest, timeout)?;
            rest = &rest[n..];
        }
        Ok(())
    }

    /// `F_GETPIPE_SZ`—the FIFO's buffer capacity in bytes.
    ///
    /// # Errors
    /// [`Error::Io`] if `fcntl(2)` fails.
    ///
    /// # References
    /// [fcntl(2)](https://man7.org/linux/man-pages/man2/fcntl.2.html)
    #[doc(alias = "F_GETPIPE_SZ")]
    pub fn capacity(&self) -> Result<usize> {
        pipe::capacity_fd(self.fd.as_fd(), &|| self.object())
    }

    /// `F_SETPIPE_SZ`—sets the FIFO's buffer capacity; see
    /// [`PipeReader::set_capacity`](crate::pipe::PipeReader::set_capacity).
    ///
    /// # Errors
    /// As [`PipeReader::set_capacity`](crate::pipe::PipeReader::set_capacity).
    ///
    /// # References
    /// [fcntl(2)](https://man7.org/linux/man-pages/man2/fcntl.2.html)
    #[doc(alias = "F_SETPIPE_SZ")]
    pub fn set_capacity(&self, bytes: usize) -> Result<usize> {
        pipe::set_capacity_fd(self.fd.as_fd(), bytes, &|| self.object())
    }
}

impl Write for &FifoWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(pipe::write_fd(
            self.fd.as_fd(),
            buf,
            Wait::Block,
            &|| object(&self.path),
            "room in the FIFO",
        )?)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for FifoWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

macro_rules! fd_access {
    ($t:ident) => {
        impl AsFd for $t {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.fd.as_fd()
            }
        }

        impl AsRawFd for $t {
            fn as_raw_fd(&self) -> RawFd {
                self.fd.as_raw_fd()
            }
        }

        impl From<$t> for OwnedFd {
            fn from(end: $t) -> OwnedFd {
                end.fd
            }
        }
    };
}

fd_access!(FifoReader);
fd_access!(FifoWriter);
