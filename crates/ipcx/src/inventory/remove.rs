//! `ipcx rm`: naming an object ([`Target`]), finding it ([`find`]) and
//! removing it ([`remove`]).

use std::ffi::OsStr;
use std::fs;
use std::os::fd::AsFd;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::{files, list_with, Inventory, Kind, Object, Options};
use crate::error::{Error, Result};
use crate::key::{validate_posix_name, KeySpec};
use crate::sys::inventory::{mq_unlink, sysv_lookup, sysv_rmid, SysvTable};

/// The forms [`Target`] accepts, for error messages.
pub const ACCEPTED_FORMS: &str = "sysvmq:KEY, sysvshm:KEY, sysvsem:KEY (KEY = 0xHEX, decimal, PATH@PROJ or key=KEY), sysvmq:id=N (also sysvshm:, sysvsem:), a bare System V id N, shm:/NAME, ring:/NAME, sem:/NAME, mq:/NAME, unix:PATH, unix:@NAME, fifo:PATH";

/// An object named on the command line of `ipcx rm`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A System V object by key: `sysvmq:0x4100c04d`, `sysvshm:key=12`,
    /// `sysvsem:progfile@65`.
    SysvKey {
        /// `sysvmq`, `sysvshm` or `sysvsem`.
        kind: Kind,
        /// The key.
        key: KeySpec,
    },
    /// A System V object by id: `sysvmq:id=32768`, or a bare `32768` whose
    /// kind is found (and must be unique) among the three tables.
    SysvId {
        /// The kind, when given.
        kind: Option<Kind>,
        /// The id as `ipcs` shows it.
        id: i32,
    },
    /// A named object: `shm:/NAME`, `ring:/NAME`, `sem:/NAME`, `mq:/NAME`,
    /// `unix:PATH`, `unix:@NAME`, `fifo:PATH`.
    Named {
        /// The kind.
        kind: Kind,
        /// The POSIX name, path or `@abstract` name.
        name: String,
    },
}

impl FromStr for Target {
    type Err = Error;

    /// Parses one of the forms in [`ACCEPTED_FORMS`].
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] quoting the text and listing the accepted
    /// forms; [`Error::InvalidName`] for a bad POSIX name.
    fn from_str(s: &str) -> Result<Target> {
        let bad = |why: &str| Error::InvalidArgument {
            object: format!("object {s:?}"),
            reason: format!("{why}; expected one of: {ACCEPTED_FORMS}"),
        };
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            let id = s.parse().map_err(|_| bad("id out of range"))?;
            return Ok(Target::SysvId { kind: None, id });
        }
        let Some((kind, rest)) = s.split_once(':') else {
            return Err(bad("no kind"));
        };
        let kind: Kind = kind.parse().map_err(|_| bad("unknown kind"))?;
        if rest.is_empty() {
            return Err(bad("nothing after the kind"));
        }
        match kind {
            Kind::SysvMq | Kind::SysvShm | Kind::SysvSem => {
                if let Some(id) = rest.strip_prefix("id=") {
                    let id = id
                        .parse::<i32>()
                        .ok()
                        .filter(|&i| i >= 0)
                        .ok_or_else(|| bad("id is not a non-negative number"))?;
                    return Ok(Target::SysvId {
                        kind: Some(kind),
                        id,
                    });
                }
                let key_text = rest.strip_prefix("key=").unwrap_or(rest);
                let key = key_text.parse::<KeySpec>()?;
                Ok(Target::SysvKey { kind, key })
            }
            Kind::Shm | Kind::Ring | Kind::Sem | Kind::Mq => {
                validate_posix_name(rest)?;
                Ok(Target::Named {
                    kind,
                    name: rest.to_owned(),
                })
            }
            Kind::Unix | Kind::Fifo => Ok(Target::Named {
                kind,
                name: rest.to_owned(),
            }),
        }
    }
}

/// Finds the object `target` names, in `inventory` (or, for a file outside
/// the scanned directories, by looking at the file itself).
///
/// # Errors
/// - [`Error::NotFound`] when no such object exists (for a System V key:
///   `msgget`/`shmget`/`semget` says `ENOENT`);
/// - [`Error::InvalidArgument`] when a bare id matches objects of several
///   kinds, a name matches several files (names that differ only in bytes
///   that are not UTF-8), or a path is not a socket or FIFO;
/// - [`Error::NotFound`]/[`Error::InvalidArgument`] from resolving a
///   `PATH@PROJ` key ([`KeySpec::resolve`]).
pub fn find(inventory: &Inventory, target: &Target) -> Result<Object> {
    match target {
        Target::SysvKey { kind, key } => {
            let key = key.resolve()?;
            let table = kind.sysv_table().expect("System V kind");
            let object = format!("{} {key}", kind.describe());
            let call = match table {
                SysvTable::Msg => "msgget",
                SysvTable::Shm => "shmget",
                SysvTable::Sem => "semget",
            };
            let id = sysv_lookup(table, key.raw()).map_err(|e| Error::os(&object, call, e))?;
            inventory
                .objects
                .iter()
                .find(|o| o.kind == *kind && o.id == Some(id as u64))
                .cloned()
                .ok_or(Error::NotFound {
                    object,
                    syscall: call,
                })
        }
        Target::SysvId { kind, id } => {
            let hits: Vec<&Object> = inventory
                .objects
                .iter()
                .filter(|o| {
                    o.kind.sysv_table().is_some()
                        && kind.is_none_or(|k| k == o.kind)
                        && o.id == Some(*id as u64)
                })
                .collect();
            match hits.as_slice() {
                [one] => Ok((*one).clone()),
                [] => Err(Error::NotFound {
                    object: match kind {
                        Some(k) => format!("{} id {id}", k.describe()),
                        None => format!("System V object id {id}"),
                    },
                    syscall: "/proc/sysvipc",
                }),
                many => Err(Error::InvalidArgument {
                    object: format!("System V id {id}"),
                    reason: format!(
                        "several objects have this id ({}); name one, e.g. {}",
                        many.iter()
                            .map(|o| o.kind.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        many[0].spec()
                    ),
                }),
            }
        }
        Target::Named { kind, name } => {
            let same_kind = |k: Kind| {
                k == *kind
                    || matches!(
                        (k, *kind),
                        (Kind::Shm, Kind::Ring) | (Kind::Ring, Kind::Shm)
                    )
            };
            let object = format!("{} {}", kind.describe(), super::printable(name));
            let hits: Vec<&Object> = inventory
                .objects
                .iter()
                .filter(|o| same_kind(o.kind) && o.name == *name)
                .collect();
            match hits.as_slice() {
                [one] => return Ok((*one).clone()),
                [] => {}
                _ => {
                    // Names replace bytes that are not UTF-8 by U+FFFD, so
                    // several files can show the same name.
                    return Err(Error::InvalidArgument {
                        object,
                        reason: format!(
                            "{} files have this name once bytes that are not UTF-8 are replaced; remove them with rm(1) by their real names",
                            hits.len()
                        ),
                    });
                }
            }
            match kind {
                Kind::Unix | Kind::Fifo => find_file(*kind, name, &object),
                Kind::Mq if !files::mqueue_mounted() => {
                    // Not visible without the mqueue mount and not open
                    // anywhere we can see: nobody uses it, mq_unlink decides.
                    let mut o = Object::new(Kind::Mq, name.clone());
                    o.set_liveness(false, "not open in any process this user can inspect");
                    Ok(o)
                }
                Kind::Shm | Kind::Ring | Kind::Sem => Err(Error::NotFound {
                    object,
                    syscall: if *kind == Kind::Sem {
                        "sem_open"
                    } else {
                        "shm_open"
                    },
                }),
                _ => Err(Error::NotFound {
                    object,
                    syscall: "mq_open",
                }),
            }
        }
    }
}

/// A socket file or FIFO outside the scanned directories.
fn find_file(kind: Kind, name: &str, object: &str) -> Result<Object> {
    if kind == Kind::Unix && name.starts_with('@') {
        return Err(Error::NotFound {
            object: object.to_owned(),
            syscall: "/proc/net/unix",
        });
    }
    let path = Path::new(name);
    let md = fs::symlink_metadata(path).map_err(|e| Error::os(object, "lstat", e))?;
    let ok = match kind {
        Kind::Unix => md.file_type().is_socket(),
        _ => md.file_type().is_fifo(),
    };
    if !ok {
        return Err(Error::InvalidArgument {
            object: object.to_owned(),
            reason: format!(
                "{} is not a {}",
                super::printable(name),
                if kind == Kind::Unix { "socket" } else { "FIFO" }
            ),
        });
    }
    let abs = fs::canonicalize(
        path.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new(".")),
    )
    .map_err(|e| Error::os(object, "realpath", e))?;
    let full: PathBuf = abs.join(path.file_name().unwrap_or_default());
    let inv = list_with(&Options {
        scan_dirs: vec![abs.clone()],
    });
    inv.objects
        .into_iter()
        .find(|o| o.kind == kind && o.path.as_deref() == Some(full.as_path()))
        .ok_or(Error::NotFound {
            object: object.to_owned(),
            syscall: "lstat",
        })
}

/// Removes `object`: `IPC_RMID` for System V objects, `shm_unlink`,
/// `sem_unlink` (the `/dev/shm/sem.NAME` file), `mq_unlink`, or `unlink` of
/// a socket file or FIFO. An object that is in use (see
/// [`Object::alive`]) is only removed when `force` is set; a file is only
/// unlinked, by the path it was listed at, if it is still the same file
/// (inode, type, birth time) that was listed.
///
/// Removing a name never disturbs processes that hold the object: System V
/// objects and unlinked files live on until the last user lets go.
///
/// # Errors
/// - [`Error::InUse`] naming the users when `object` is alive and `force`
///   is not set;
/// - [`Error::PermissionDenied`] naming the object when the caller may not
///   remove it (not the owner or creator, sticky directory);
/// - [`Error::NotFound`] when it disappeared meanwhile, or a file was
///   replaced by another;
/// - [`Error::Unsupported`] for an abstract Unix socket name, which has no
///   file and disappears when its last socket closes.
///
/// # References
/// [msgctl(2)](https://man7.org/linux/man-pages/man2/msgctl.2.html),
/// [shmctl(2)](https://man7.org/linux/man-pages/man2/shmctl.2.html),
/// [semctl(2)](https://man7.org/linux/man-pages/man2/semctl.2.html),
/// [shm_unlink(3)](https://man7.org/linux/man-pages/man3/shm_unlink.3.html),
/// [sem_unlink(3)](https://man7.org/linux/man-pages/man3/sem_unlink.3.html),
/// [mq_unlink(3)](https://man7.org/linux/man-pages/man3/mq_unlink.3.html),
/// [unlink(2)](https://man7.org/linux/man-pages/man2/unlink.2.html)
#[doc(alias = "ipcrm")]
pub fn remove(object: &Object, force: bool) -> Result<()> {
    let what = object.describe();
    if object.alive && !force {
        return Err(Error::InUse {
            object: what,
            by: object.reason.clone(),
        });
    }
    if let Some(table) = object.kind.sysv_table() {
        let id = object.id.ok_or_else(|| Error::NotFound {
            object: what.clone(),
            syscall: "/proc/sysvipc",
        })?;
        let call = match table {
            SysvTable::Msg => "msgctl(IPC_RMID)",
            SysvTable::Shm => "shmctl(IPC_RMID)",
            SysvTable::Sem => "semctl(IPC_RMID)",
        };
        return sysv_rmid(table, id as i32).map_err(|e| {
            if e.raw_os_error() == Some(libc::EINVAL) {
                Error::NotFound {
                    object: what.clone(),
                    syscall: call,
                }
            } else {
                Error::os(what.clone(), call, e)
            }
        });
    }
    // A listed file is removed by the path it was listed at, never by its
    // name: the name is the path's file name decoded as UTF-8 (invalid
    // bytes replaced), so it may name another file. `shm_unlink`,
    // `sem_unlink` and, on the mqueue file system, `mq_unlink` are
    // `unlink` of that file.
    match (object.kind, object.path.as_deref()) {
        (Kind::Unix, _) if object.name.starts_with('@') => Err(Error::unsupported(
            format!("removing {what}"),
            "an abstract socket name has no file; it disappears when its last socket closes",
        )),
        (Kind::Unix | Kind::Fifo, path) => {
            let path = path.unwrap_or(Path::new(&object.name));
            unlink_listed(path, Some(object), &what, "unlink")
        }
        (Kind::Shm | Kind::Ring, Some(path)) => {
            unlink_listed(path, Some(object), &what, "shm_unlink")
        }
        (Kind::Shm | Kind::Ring, None) => {
            rustix::shm::unlink(object.name.as_str()).map_err(|e| Error::os(what, "shm_unlink", e))
        }
        (Kind::Sem, path) => {
            // glibc's sem_unlink(NAME) is unlink("/dev/shm/sem.NAME").
            let path = path.map(Path::to_path_buf).unwrap_or_else(|| {
                PathBuf::from(format!("{}/sem.{}", files::SHM_DIR, &object.name[1..]))
            });
            unlink_listed(&path, Some(object), &what, "sem_unlink")
        }
        (Kind::Mq, Some(path)) => unlink_listed(path, Some(object), &what, "mq_unlink"),
        (Kind::Mq, None) => mq_unlink(&object.name).map_err(|e| Error::os(what, "mq_unlink", e)),
        _ => unreachable!("System V kinds are handled above"),
    }
}

/// Unlinks `path` if it is still the file that was listed as `listed` (when
/// given; see [`check_same`]). The directory is opened with
/// `openat2(RESOLVE_NO_SYMLINKS)` and the name checked and removed relative
/// to it (`statx`, `unlinkat`), so a directory swapped for a symbolic link
/// after the listing cannot redirect the removal elsewhere (the classic race
/// of temporary-file cleaners).
fn unlink_listed(
    path: &Path,
    listed: Option<&Object>,
    what: &str,
    call: &'static str,
) -> Result<()> {
    use rustix::fs::{AtFlags, Mode, OFlags, ResolveFlags};
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let Some(name) = path.file_name() else {
        return Err(Error::InvalidArgument {
            object: what.to_owned(),
            reason: "the path names no file".into(),
        });
    };
    let dir = rustix::fs::openat2(
        rustix::fs::CWD,
        parent,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::NO_SYMLINKS,
    )
    .map_err(|e| match e {
        rustix::io::Errno::LOOP | rustix::io::Errno::XDEV => Error::InvalidArgument {
            object: what.to_owned(),
            reason: format!(
                "a directory on the way to it ({}) is a symbolic link; name it by its real path",
                parent.display()
            ),
        },
        e => Error::os(what, "openat2", e),
    })?;
    if let Some(listed) = listed {
        check_same(&dir, name, listed, what)?;
    }
    rustix::fs::unlinkat(&dir, name, AtFlags::empty()).map_err(|e| Error::os(what, call, e))
}

/// Checks that `name` in `dir` is still the file listed as `object`: same
/// inode, same file type and, where the file system records it, same birth
/// time — inode numbers alone are reused at once on tmpfs, so a file made
/// after the listing could carry the listed number.
fn check_same(dir: impl AsFd, name: &OsStr, object: &Object, what: &str) -> Result<()> {
    use rustix::fs::{AtFlags, FileType, StatxFlags};
    let Some(ino) = object.file_ino else {
        // Nothing was listed at this path (a bound socket whose file was
        // already gone): whatever is there now was not listed.
        return Err(Error::NotFound {
            object: format!("{what} (no file was listed at its path)"),
            syscall: "statx",
        });
    };
    let st = rustix::fs::statx(
        dir,
        name,
        AtFlags::SYMLINK_NOFOLLOW,
        StatxFlags::TYPE | StatxFlags::INO | StatxFlags::BTIME,
    )
    .map_err(|e| Error::os(what, "statx", e))?;
    let want_type = match object.kind {
        Kind::Fifo => FileType::Fifo,
        Kind::Unix => FileType::Socket,
        _ => FileType::RegularFile,
    };
    let same_type = FileType::from_raw_mode(u32::from(st.stx_mode)) == want_type;
    let birth = (st.stx_mask & StatxFlags::BTIME.bits() != 0).then(|| {
        std::time::UNIX_EPOCH
            + std::time::Duration::new(st.stx_btime.tv_sec.max(0) as u64, st.stx_btime.tv_nsec)
    });
    let same_birth = match (birth, object.birth) {
        (Some(now), Some(then)) => now == then,
        _ => true,
    };
    if st.stx_ino != ino || !same_type || !same_birth {
        return Err(Error::NotFound {
            object: format!("{what} (the name now belongs to another file than the one listed)"),
            syscall: "statx",
        });
    }
    Ok(())
}
