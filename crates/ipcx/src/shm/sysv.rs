//! System V shared memory segments: `shmget`, `shmat`, `shmdt`, `shmctl`.
//!
//! A [`Segment`] is a segment found by a [`Key`] and attached to this
//! process; it is detached (`shmdt`) on drop, and the creator also marks it
//! for removal (`IPC_RMID`) on drop unless [`Segment::keep`] was called.
//! Openers never remove it.
//!
//! ```
//! use ipcx::key::Key;
//! use ipcx::shm::{sysv::Segment, SharedMemory};
//!
//! // IPC_PRIVATE always makes a new segment; shared keys come from
//! // Key::from_path (ftok) or Key::from_raw.
//! let seg = Segment::builder(Key::PRIVATE).size(1024).create()?;
//! seg.write_bytes(0, b"Shared Memory Example\0")?;
//! let st = seg.stat()?;
//! assert_eq!(st.size, 1024);
//! assert_eq!(st.attach_count, 1);
//! assert_eq!(st.mode, 0o600);
//! # Ok::<(), ipcx::Error>(())
//! ```
//!
//! # Checks before the call
//! - A size over `/proc/sys/kernel/shmmax` is [`Error::LimitExceeded`]
//!   naming that file (the kernel would answer a bare `EINVAL`).
//! - Opening with a size different from the segment's real size (read with
//!   `IPC_STAT` after `shmget`) is [`Error::InvalidSize`].
//! - Key 0 is `IPC_PRIVATE`: only [`Key::PRIVATE`] asks for it, and it can
//!   only be created, never opened.
//!
//! # References
//! - [shmget(2)](https://man7.org/linux/man-pages/man2/shmget.2.html),
//!   [shmat(2)](https://man7.org/linux/man-pages/man2/shmat.2.html) (and
//!   `shmdt`), [shmctl(2)](https://man7.org/linux/man-pages/man2/shmctl.2.html)
//! - [sysvipc(7)](https://man7.org/linux/man-pages/man7/sysvipc.7.html),
//!   [proc_sys_kernel(5)](https://man7.org/linux/man-pages/man5/proc_sys_kernel.5.html)

use super::{CreationMode, Region, Sealed, SharedMemory};
use crate::error::{Error, Result};
use crate::key::Key;
use crate::limits::SHMMAX;
use crate::sys::shm as sys;

/// Default mode of created segments: owner read and write only.
pub const DEFAULT_MODE: u32 = 0o600;

/// `SHM_DEST` in `shm_perm.mode`: the segment is marked for removal.
const SHM_DEST: u32 = 0o1000;

fn describe(key: Key, id: Option<i32>) -> String {
    match id {
        Some(id) => format!("System V shared memory {key} (id {id})"),
        None => format!("System V shared memory {key}"),
    }
}

/// Statistics of a segment, from `shmctl(IPC_STAT)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stat {
    /// The key (`IPC_PRIVATE` shows as 0).
    pub key: i32,
    /// Size in bytes, as requested at creation (`shm_segsz`).
    pub size: u64,
    /// Processes attached now (`shm_nattch`).
    pub attach_count: u64,
    /// Pid of the creator (`shm_cpid`).
    pub creator_pid: u32,
    /// Pid of the last `shmat`/`shmdt` (`shm_lpid`).
    pub last_pid: u32,
    /// Permission bits (`shm_perm.mode & 0o777`).
    pub mode: u32,
    /// Owner uid.
    pub uid: u32,
    /// Creator uid.
    pub creator_uid: u32,
    /// Whether `IPC_RMID` was done: the segment goes when the last process
    /// detaches (`SHM_DEST`).
    pub marked_for_removal: bool,
}

/// Builds a [`Segment`]; see the [module documentation](self).
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until .create(), .open() or .open_or_create()"]
pub struct SegmentBuilder {
    key: Key,
    size: Option<usize>,
    mode: u32,
    read_only: bool,
}

impl SegmentBuilder {
    /// Size in bytes. Required to create; when opening, the segment's real
    /// size must equal it (else [`Error::InvalidSize`]).
    pub fn size(mut self, bytes: usize) -> Self {
        self.size = Some(bytes);
        self
    }

    /// Permission bits for a created segment (default 0600).
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode;
        self
    }

    /// Attach read-only (`SHM_RDONLY`); writes are then
    /// [`Error::PermissionDenied`].
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    /// `shmget(IPC_CREAT | IPC_EXCL)`—creates a new segment and attaches it;
    /// the caller owns it and marks it for removal on drop.
    ///
    /// # Errors
    /// - [`Error::InvalidArgument`]: no size, size 0, mode over 0o777.
    /// - [`Error::LimitExceeded`]: size over `shmmax`
    ///   (`/proc/sys/kernel/shmmax`).
    /// - [`Error::AlreadyExists`]: a segment with this key exists.
    /// - [`Error::NoSpace`]: `shmall` or `shmmni` is exhausted (`ENOSPC`).
    ///
    /// # References
    /// [shmget(2)](https://man7.org/linux/man-pages/man2/shmget.2.html)
    #[doc(alias = "shmget")]
    pub fn create(self) -> Result<Segment> {
        self.build(CreationMode::Create)
    }

    /// `shmget` of an existing segment, then `shmat`.
    ///
    /// # Errors
    /// - [`Error::InvalidArgument`]: the key is `IPC_PRIVATE`.
    /// - [`Error::NotFound`]: no segment with this key.
    /// - [`Error::PermissionDenied`]: its mode forbids the access.
    /// - [`Error::InvalidSize`]: its size differs from [`SegmentBuilder::size`].
    ///
    /// # References
    /// [shmget(2)](https://man7.org/linux/man-pages/man2/shmget.2.html), [shmat(2)](https://man7.org/linux/man-pages/man2/shmat.2.html)
    #[doc(alias = "shmget")]
    #[doc(alias = "shmat")]
    pub fn open(self) -> Result<Segment> {
        self.build(CreationMode::Open)
    }

    /// Opens the segment if it exists, else creates it.
    ///
    /// # Errors
    /// As [`SegmentBuilder::create`] and [`SegmentBuilder::open`].
    pub fn open_or_create(self) -> Result<Segment> {
        self.build(CreationMode::OpenOrCreate)
    }

    /// Builds with an explicit [`CreationMode`].
    ///
    /// # Errors
    /// As [`SegmentBuilder::create`] and [`SegmentBuilder::open`].
    pub fn build(self, how: CreationMode) -> Result<Segment> {
        let object = describe(self.key, None);
        if self.mode > 0o777 {
            return Err(Error::InvalidArgument {
                object,
                reason: format!("mode {:o} is over 0o777", self.mode),
            });
        }
        if let Some(size) = self.size {
            check_shmmax(&object, size)?;
        }
        match how {
            CreationMode::Create => self.do_create(),
            CreationMode::Open => self.do_open(),
            CreationMode::OpenOrCreate => {
                if self.key.is_private() {
                    return self.do_create();
                }
                for _ in 0..100 {
                    match self.do_create() {
                        Err(Error::AlreadyExists { .. }) => {}
                        other => return other,
                    }
                    match self.do_open() {
                        Err(Error::NotFound { .. }) => {}
                        other => return other,
                    }
                }
                self.do_open()
            }
        }
    }

    fn do_create(&self) -> Result<Segment> {
        let object = describe(self.key, None);
        let size = match self.size {
            Some(0) | None => {
                return Err(Error::InvalidArgument {
                    object,
                    reason: "creating a segment needs a size of at least 1 byte".into(),
                })
            }
            Some(s) => s,
        };
        if self.read_only {
            return Err(Error::InvalidArgument {
                object,
                reason: "a read-only segment can only be opened, not created".into(),
            });
        }
        let flags = libc::IPC_CREAT | libc::IPC_EXCL | self.mode as i32;
        let id = sys::shmget(self.key.raw(), size, flags).map_err(|e| map_get_err(&object, e))?;
        let object = describe(self.key, Some(id));
        let attach = sys::ShmAttach::attach(id, size, true).map_err(|e| {
            let _ = sys::shm_rmid(id);
            Error::os(&object, "shmat", e)
        })?;
        Ok(Segment {
            key: self.key,
            id,
            attach,
            owner: true,
        })
    }

    fn do_open(&self) -> Result<Segment> {
        let object = describe(self.key, None);
        if self.key.is_private() {
            return Err(Error::InvalidArgument {
                object,
                reason:
                    "IPC_PRIVATE (key 0) segments cannot be opened by key; a shared key was meant"
                        .into(),
            });
        }
        let id = sys::shmget(self.key.raw(), 0, 0).map_err(|e| map_get_err(&object, e))?;
        attach_id(self.key, id, self.size, self.read_only)
    }
}

fn attach_id(key: Key, id: i32, size: Option<usize>, read_only: bool) -> Result<Segment> {
    let object = describe(key, Some(id));
    let st = sys::shm_stat(id).map_err(|e| Error::os(&object, "shmctl(IPC_STAT)", e))?;
    super::posix::check_size(&object, st.size, size)?;
    let len = usize::try_from(st.size).map_err(|_| Error::InvalidSize {
        object: object.clone(),
        expected: "a size that fits in the address space".into(),
        actual: st.size,
    })?;
    let attach =
        sys::ShmAttach::attach(id, len, !read_only).map_err(|e| Error::os(&object, "shmat", e))?;
    Ok(Segment {
        key,
        id,
        attach,
        owner: false,
    })
}

fn map_get_err(object: &str, e: std::io::Error) -> Error {
    match e.raw_os_error() {
        Some(libc::EINVAL) => Error::InvalidArgument {
            object: object.to_owned(),
            reason: "shmget refused the size (EINVAL): below SHMMIN, over shmmax, or larger than the existing segment".into(),
        },
        _ => Error::os(object, "shmget", e),
    }
}

/// Checks a size against `/proc/sys/kernel/shmmax` before `shmget`.
fn check_shmmax(object: &str, size: usize) -> Result<()> {
    let max = SHMMAX.read()?;
    if size as u64 > max {
        return Err(Error::LimitExceeded {
            object: object.to_owned(),
            what: "segment size".into(),
            requested: size as u64,
            limit: SHMMAX.name.into(),
            max,
            source_path: SHMMAX.path.into(),
        });
    }
    Ok(())
}

/// A System V shared memory segment attached to this process.
///
/// Byte and typed access come from the [`SharedMemory`] trait.
#[derive(Debug)]
pub struct Segment {
    key: Key,
    id: i32,
    attach: sys::ShmAttach,
    owner: bool,
}

impl Segment {
    /// Starts building a segment for `key`, mode 0600, read-write.
    pub fn builder(key: Key) -> SegmentBuilder {
        SegmentBuilder {
            key,
            size: None,
            mode: DEFAULT_MODE,
            read_only: false,
        }
    }

    /// Attaches a segment by id (as `ipcs -m` shows it), e.g. one made with
    /// `IPC_PRIVATE` by a parent. Never removes it.
    ///
    /// # Errors
    /// As [`SegmentBuilder::open`]; [`Error::Io`] (`EINVAL`) for an id that
    /// does not exist.
    ///
    /// # References
    /// [shmat(2)](https://man7.org/linux/man-pages/man2/shmat.2.html)
    #[doc(alias = "shmat")]
    pub fn attach_id(id: i32, size: Option<usize>, read_only: bool) -> Result<Segment> {
        let object = describe(Key::PRIVATE, Some(id));
        let st = sys::shm_stat(id).map_err(|e| Error::os(&object, "shmctl(IPC_STAT)", e))?;
        let key = Key::from_raw(st.key).unwrap_or(Key::PRIVATE);
        attach_id(key, id, size, read_only)
    }

    /// The key.
    pub fn key(&self) -> Key {
        self.key
    }

    /// The segment id (`shmid`).
    pub fn id(&self) -> i32 {
        self.id
    }

    /// The attached length in bytes.
    pub fn len(&self) -> usize {
        self.attach.len()
    }

    /// Always `false`: segments are at least one byte.
    pub fn is_empty(&self) -> bool {
        self.attach.len() == 0
    }

    /// Whether this handle is attached read-only.
    pub fn is_read_only(&self) -> bool {
        !self.attach.is_writable()
    }

    /// Whether this handle created the segment (and removes it on drop).
    pub fn is_owner(&self) -> bool {
        self.owner
    }

    /// Leaves the segment in place on drop (only detaches).
    pub fn keep(&mut self) {
        self.owner = false;
    }

    /// `shmctl(IPC_STAT)`—size, attach count, creator and last pids, mode.
    ///
    /// # Errors
    /// [`Error::Removed`] when the segment is gone;
    /// [`Error::PermissionDenied`] without read permission.
    ///
    /// # References
    /// [shmctl(2)](https://man7.org/linux/man-pages/man2/shmctl.2.html)
    #[doc(alias = "shmctl")]
    #[doc(alias = "IPC_STAT")]
    pub fn stat(&self) -> Result<Stat> {
        let object = describe(self.key, Some(self.id));
        let st = sys::shm_stat(self.id).map_err(|e| match e.raw_os_error() {
            Some(libc::EINVAL) | Some(libc::EIDRM) => Error::Removed {
                object: object.clone(),
                syscall: "shmctl(IPC_STAT)",
            },
            _ => Error::os(&object, "shmctl(IPC_STAT)", e),
        })?;
        Ok(Stat {
            key: st.key,
            size: st.size,
            attach_count: st.nattch,
            creator_pid: st.cpid as u32,
            last_pid: st.lpid as u32,
            mode: st.mode & 0o777,
            uid: st.uid,
            creator_uid: st.cuid,
            marked_for_removal: st.mode & SHM_DEST != 0,
        })
    }

    /// `shmctl(IPC_RMID)`—marks the segment for removal: its key is free at
    /// once, the memory goes when the last process detaches. This handle
    /// stays attached until dropped.
    ///
    /// # Errors
    /// [`Error::PermissionDenied`] when not the owner or creator;
    /// [`Error::Removed`] when already gone.
    ///
    /// # References
    /// [shmctl(2)](https://man7.org/linux/man-pages/man2/shmctl.2.html)
    #[doc(alias = "IPC_RMID")]
    pub fn remove(&mut self) -> Result<()> {
        self.owner = false;
        sys::shm_rmid(self.id).map_err(|e| match e.raw_os_error() {
            Some(libc::EINVAL) | Some(libc::EIDRM) => Error::Removed {
                object: describe(self.key, Some(self.id)),
                syscall: "shmctl(IPC_RMID)",
            },
            _ => Error::os(describe(self.key, Some(self.id)), "shmctl(IPC_RMID)", e),
        })
    }
}

impl Sealed for Segment {}
impl SharedMemory for Segment {
    fn region(&self) -> Region<'_> {
        Region::of_attach(&self.attach)
    }
    fn describe(&self) -> String {
        describe(self.key, Some(self.id))
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        if self.owner {
            let _ = sys::shm_rmid(self.id);
        }
        // `attach` detaches when dropped, after this.
    }
}
