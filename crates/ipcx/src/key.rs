//! Names of IPC objects: System V keys and POSIX IPC names.
//!
//! A System V object (message queue, shared memory segment, semaphore set) is
//! found by a 32-bit [`Key`]: made by `ftok(3)` from a file and a project id,
//! written as a number, or the private key `IPC_PRIVATE`. ipcx never produces
//! `IPC_PRIVATE` (0) by accident, and a missing key file is an error naming the
//! path — never the key `0xffffffff` that `ftok` returns on failure and the
//! seed's examples then use.
//!
//! POSIX message queues, shared memory objects and named semaphores share one
//! name syntax, checked by [`validate_posix_name`] before any system call.
//!
//! # References
//! - [ftok(3)](https://man7.org/linux/man-pages/man3/ftok.3.html)
//! - [sysvipc(7)](https://man7.org/linux/man-pages/man7/sysvipc.7.html)
//! - [mq_overview(7)](https://man7.org/linux/man-pages/man7/mq_overview.7.html),
//!   [shm_overview(7)](https://man7.org/linux/man-pages/man7/shm_overview.7.html),
//!   [sem_overview(7)](https://man7.org/linux/man-pages/man7/sem_overview.7.html)

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::{Error, Result};

/// The longest POSIX IPC name, in bytes, not counting the leading slash
/// (`NAME_MAX`, 255). The kernel stores POSIX queues as files of the mqueue file
/// system and glibc stores shared memory as files under `/dev/shm`, both bounded
/// by `NAME_MAX`; named semaphores get a `sem.` prefix, so their limit is 251.
pub const POSIX_NAME_MAX: usize = 255;

/// A System V IPC key, as passed to `msgget(2)`, `shmget(2)` and `semget(2)`.
///
/// Display prints it like `ipcs` does, `0x4100c04d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key(i32);

impl Key {
    /// `IPC_PRIVATE`: a key that always makes a new object only reachable
    /// through its id.
    pub const PRIVATE: Key = Key(libc::IPC_PRIVATE);

    /// A key from its numeric value.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for 0, which is `IPC_PRIVATE`: a shared key was
    /// meant, use [`Key::PRIVATE`] to ask for a private object.
    pub fn from_raw(value: i32) -> Result<Key> {
        if value == libc::IPC_PRIVATE {
            return Err(Error::InvalidArgument {
                object: "System V key 0x00000000".into(),
                reason: "key 0 is IPC_PRIVATE, which no other process can open; use Key::PRIVATE to ask for a private object".into(),
            });
        }
        Ok(Key(value))
    }

    /// `ftok`—makes a key from an existing file and a project id (1–255), as
    /// `ftok(3)` does: from the file's inode and device numbers.
    ///
    /// # Errors
    /// - [`Error::NotFound`] naming the path when the file does not exist
    ///   (where `ftok` would return -1 and its callers usually go on with it).
    /// - [`Error::PermissionDenied`] when the file cannot be examined.
    /// - [`Error::InvalidArgument`] for a project id of 0, which glibc's `ftok`
    ///   accepts but which makes the key depend on the file alone.
    ///
    /// # References
    /// [ftok(3)](https://man7.org/linux/man-pages/man3/ftok.3.html)
    #[doc(alias = "ftok")]
    pub fn from_path(path: impl AsRef<Path>, proj_id: u8) -> Result<Key> {
        let path = path.as_ref();
        if proj_id == 0 {
            return Err(Error::InvalidArgument {
                object: format!("ftok({}, 0)", path.display()),
                reason: "project id must be 1-255".into(),
            });
        }
        let st = rustix::fs::stat(path)
            .map_err(|e| Error::os(format!("System V key file {}", path.display()), "stat", e))?;
        // glibc: key = (proj_id & 0xff) << 24 | (st_dev & 0xff) << 16 | (st_ino & 0xffff)
        let key = ((u32::from(proj_id)) << 24)
            | (((st.st_dev as u32) & 0xff) << 16)
            | ((st.st_ino as u32) & 0xffff);
        let key = key as i32;
        if key == libc::IPC_PRIVATE {
            return Err(Error::InvalidArgument {
                object: format!("ftok({}, {proj_id})", path.display()),
                reason: "the key computes to 0 (IPC_PRIVATE); choose another project id".into(),
            });
        }
        Ok(Key(key))
    }

    /// The raw value for the system calls.
    pub fn raw(self) -> i32 {
        self.0
    }

    /// Whether this is `IPC_PRIVATE`.
    pub fn is_private(self) -> bool {
        self.0 == libc::IPC_PRIVATE
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:08x}", self.0 as u32)
    }
}

/// How a System V key is written in an endpoint or on the command line:
/// `0x1f2e3d4c`, a decimal number, or `PATH@PROJ` (ftok, PROJ 1–255).
///
/// Parsing checks the syntax only; [`KeySpec::resolve`] computes the key (for
/// `PATH@PROJ` that needs the file to exist).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeySpec {
    /// A numeric key, never 0.
    Number(i32),
    /// `ftok(path, proj)`.
    Path {
        /// The existing file the key is made from.
        path: PathBuf,
        /// The project id, 1–255.
        proj: u8,
    },
}

impl KeySpec {
    /// Computes the key.
    ///
    /// # Errors
    /// As [`Key::from_path`] and [`Key::from_raw`].
    pub fn resolve(&self) -> Result<Key> {
        match self {
            KeySpec::Number(n) => Key::from_raw(*n),
            KeySpec::Path { path, proj } => Key::from_path(path, *proj),
        }
    }
}

impl FromStr for KeySpec {
    type Err = Error;

    /// Parses `0xHEX`, a decimal number (negative allowed, as `ipcs` may show
    /// keys above 0x7fffffff as negative) or `PATH@PROJ`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] quoting the text and saying what was expected.
    fn from_str(s: &str) -> Result<Self> {
        let bad = |reason: &str| Error::InvalidArgument {
            object: format!("System V key {s:?}"),
            reason: format!(
                "{reason}; expected 0xHEX, a decimal number, or PATH@PROJ with PROJ 1-255"
            ),
        };
        if s.is_empty() {
            return Err(bad("empty key"));
        }
        if let Some((path, proj)) = s.rsplit_once('@') {
            if path.is_empty() {
                return Err(bad("empty path before '@'"));
            }
            let proj: u8 = proj
                .parse()
                .map_err(|_| bad("project id is not a number from 1 to 255"))?;
            if proj == 0 {
                return Err(bad("project id 0 is not allowed"));
            }
            return Ok(KeySpec::Path {
                path: PathBuf::from(path),
                proj,
            });
        }
        let value = if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
            u32::from_str_radix(hex, 16)
                .map(|v| v as i32)
                .map_err(|_| bad("not a 32-bit hexadecimal number"))?
        } else if let Ok(v) = s.parse::<i32>() {
            v
        } else if let Ok(v) = s.parse::<u32>() {
            v as i32
        } else {
            return Err(bad("not a number"));
        };
        if value == 0 {
            return Err(bad("key 0 is IPC_PRIVATE, which no other process can open"));
        }
        Ok(KeySpec::Number(value))
    }
}

impl fmt::Display for KeySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySpec::Number(n) => write!(f, "0x{:08x}", *n as u32),
            KeySpec::Path { path, proj } => write!(f, "{}@{proj}", path.display()),
        }
    }
}

/// Checks a POSIX IPC name (message queue, shared memory object, named
/// semaphore): exactly one leading slash, no other slash, no NUL, not just
/// `/`, `.` or `..`, and at most [`POSIX_NAME_MAX`] bytes after the slash.
///
/// # Errors
/// [`Error::InvalidName`] with the rule that was broken.
pub fn validate_posix_name(name: &str) -> Result<()> {
    let bad = |reason: String| Error::InvalidName {
        name: name.to_owned(),
        reason,
    };
    let Some(rest) = name.strip_prefix('/') else {
        return Err(bad("a POSIX IPC name must start with '/'".into()));
    };
    if rest.is_empty() {
        return Err(bad(
            "a POSIX IPC name needs at least one character after '/'".into(),
        ));
    }
    if rest.contains('/') {
        return Err(bad(
            "a POSIX IPC name has exactly one '/', at the start".into()
        ));
    }
    if rest.contains('\0') {
        return Err(bad("a POSIX IPC name cannot contain a NUL byte".into()));
    }
    if rest == "." || rest == ".." {
        return Err(bad("'.' and '..' are not valid POSIX IPC names".into()));
    }
    if rest.len() > POSIX_NAME_MAX {
        return Err(bad(format!(
            "{} bytes after '/', over NAME_MAX = {POSIX_NAME_MAX}",
            rest.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_spec_round_trips() {
        for text in ["0x4100c04d", "0xffffffff", "progfile@65", "/tmp/a@1"] {
            let spec: KeySpec = text.parse().unwrap();
            assert_eq!(spec.to_string(), text);
        }
        assert_eq!("12".parse::<KeySpec>().unwrap(), KeySpec::Number(12));
    }

    #[test]
    fn key_spec_rejects_zero_and_junk() {
        for text in ["0", "0x0", "", "@5", "f@0", "f@256", "0xzz", "abc"] {
            assert!(text.parse::<KeySpec>().is_err(), "{text} parsed");
        }
    }

    #[test]
    fn ftok_on_missing_file_names_the_path() {
        let err = Key::from_path("/nonexistent/ipcx-key-file", 65).unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
        assert!(err.to_string().contains("/nonexistent/ipcx-key-file"));
    }

    #[test]
    fn ftok_matches_glibc() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("progfile");
        std::fs::write(&file, b"").unwrap();
        let ours = Key::from_path(&file, 65).unwrap();
        let c = std::ffi::CString::new(file.to_str().unwrap()).unwrap();
        // SAFETY: ftok reads a NUL-terminated path that outlives the call.
        #[allow(unsafe_code)]
        let theirs = unsafe { libc::ftok(c.as_ptr(), 65) };
        assert_eq!(ours.raw(), theirs);
    }

    #[test]
    fn posix_names() {
        assert!(validate_posix_name("/ok").is_ok());
        for bad in ["noslash", "/two/slashes", "/", "/..", "/a\0b"] {
            assert!(
                matches!(validate_posix_name(bad), Err(Error::InvalidName { .. })),
                "{bad:?}"
            );
        }
        let long = format!("/{}", "a".repeat(POSIX_NAME_MAX + 1));
        assert!(validate_posix_name(&long).is_err());
        let max = format!("/{}", "a".repeat(POSIX_NAME_MAX));
        assert!(validate_posix_name(&max).is_ok());
    }
}
