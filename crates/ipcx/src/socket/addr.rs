//! Unix socket addresses: file-system paths and abstract names.
//!
//! A Unix socket address lives in `sockaddr_un.sun_path`, a fixed array of
//! [`SUN_PATH_LEN`] (108) bytes. ipcx never truncates a name to fit: a longer
//! one is refused with [`Error::PathTooLong`] before any system call, so two
//! long paths that share their first 108 bytes can never end up naming the
//! same socket.
//!
//! # Path length: 107 bytes, not 108
//! Linux accepts a path that fills all 108 bytes with no terminating NUL, but
//! such an address is not portable and cannot be read back as a C string by
//! other programs (`getsockname`, `ss`, C code doing `strcpy`). ipcx keeps
//! room for the NUL: the longest path is [`MAX_PATH_LEN`] = 107 bytes, so a
//! 108-byte path is `PathTooLong { len: 108, max: 107 }`.
//!
//! # Abstract names
//! An abstract name (written `@NAME` in endpoints) starts with a NUL byte in
//! `sun_path` and has no file; it disappears when the last socket bound to it
//! closes. ipcx binds it with its exact length (the address length covers the
//! leading NUL and the name, no trailing NUL padding), which is what
//! `ss -x` shows and what other programs (socat `ABSTRACT-LISTEN:`) use.
//! The longest name is [`MAX_ABSTRACT_LEN`] = 107 bytes.
//!
//! ```
//! use ipcx::socket::addr::UnixAddr;
//! let a: UnixAddr = "@my-service".parse()?;
//! assert_eq!(a.abstract_name(), Some(&b"my-service"[..]));
//! assert!(UnixAddr::path("x".repeat(108)).is_err());
//! # Ok::<(), ipcx::Error>(())
//! ```
//!
//! # References
//! [unix(7)](https://man7.org/linux/man-pages/man7/unix.7.html)

use std::ffi::OsStr;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use rustix::net::SocketAddrUnix;

use crate::endpoint::UnixPath;
use crate::error::{Error, Result};

/// Bytes in `sockaddr_un.sun_path` on Linux.
pub const SUN_PATH_LEN: usize = 108;

/// The longest file-system path ipcx binds or connects to, in bytes: 107,
/// leaving room for the terminating NUL in `sun_path`.
pub const MAX_PATH_LEN: usize = SUN_PATH_LEN - 1;

/// The longest abstract name, in bytes: `sun_path` minus its leading NUL.
pub const MAX_ABSTRACT_LEN: usize = SUN_PATH_LEN - 1;

/// The limit named in [`Error::PathTooLong`] for socket paths.
const SUN_PATH_LIMIT: &str = "sun_path: 108 bytes including the terminating NUL, see unix(7)";

/// A Unix socket address: a file-system path or an abstract name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UnixAddr {
    /// A socket file at this path (at most [`MAX_PATH_LEN`] bytes).
    Path(PathBuf),
    /// A name in the abstract namespace (at most [`MAX_ABSTRACT_LEN`]
    /// bytes), without the leading NUL.
    Abstract(Vec<u8>),
}

impl UnixAddr {
    /// A file-system path address, checked against `sun_path`.
    ///
    /// # Errors
    /// - [`Error::InvalidName`] for an empty path or one containing a NUL byte.
    /// - [`Error::PathTooLong`] for a path over [`MAX_PATH_LEN`] bytes, with
    ///   its length and the maximum; nothing is truncated.
    pub fn path(path: impl Into<PathBuf>) -> Result<UnixAddr> {
        let path = path.into();
        check_path(&path)?;
        Ok(UnixAddr::Path(path))
    }

    /// An abstract-namespace address (the name without the leading NUL or `@`).
    ///
    /// # Errors
    /// - [`Error::InvalidName`] for an empty name (the kernel would
    ///   auto-bind a random name instead).
    /// - [`Error::PathTooLong`] for a name over [`MAX_ABSTRACT_LEN`] bytes.
    pub fn new_abstract_name(name: impl AsRef<[u8]>) -> Result<UnixAddr> {
        let name = name.as_ref();
        if name.is_empty() {
            return Err(Error::InvalidName {
                name: "@".into(),
                reason: "an abstract socket name cannot be empty".into(),
            });
        }
        if name.len() > MAX_ABSTRACT_LEN {
            return Err(Error::PathTooLong {
                path: format!("@{}", String::from_utf8_lossy(name)),
                len: name.len(),
                max: MAX_ABSTRACT_LEN,
                limit: "sun_path: 108 bytes including the leading NUL of an abstract name",
            });
        }
        Ok(UnixAddr::Abstract(name.to_vec()))
    }

    /// The address an endpoint's `unix:PATH` / `unix:@NAME` part names.
    ///
    /// # Errors
    /// As [`UnixAddr::path`] and [`UnixAddr::new_abstract_name`].
    pub fn from_endpoint(path: &UnixPath) -> Result<UnixAddr> {
        match path {
            UnixPath::Path(p) => UnixAddr::path(p.clone()),
            UnixPath::Abstract(name) => UnixAddr::new_abstract_name(name.as_bytes()),
        }
    }

    /// The file-system path, if this is one.
    pub fn as_path(&self) -> Option<&Path> {
        match self {
            UnixAddr::Path(p) => Some(p),
            UnixAddr::Abstract(_) => None,
        }
    }

    /// The abstract name (without the leading NUL), if this is one.
    pub fn abstract_name(&self) -> Option<&[u8]> {
        match self {
            UnixAddr::Path(_) => None,
            UnixAddr::Abstract(n) => Some(n),
        }
    }

    /// How errors name a socket at this address, e.g. `unix socket /run/x.sock`.
    pub fn describe(&self, kind: &str) -> String {
        format!("{kind} {self}")
    }

    /// Builds the kernel address with its exact length.
    pub(crate) fn to_sockaddr(&self) -> Result<SocketAddrUnix> {
        let res = match self {
            UnixAddr::Path(p) => {
                check_path(p)?;
                SocketAddrUnix::new(p.as_path())
            }
            UnixAddr::Abstract(n) => SocketAddrUnix::new_abstract_name(n),
        };
        res.map_err(|e| Error::os(self.to_string(), "sockaddr_un", e))
    }

    /// The address the kernel reported, `None` for an unnamed socket.
    pub(crate) fn from_sockaddr(addr: &SocketAddrUnix) -> Option<UnixAddr> {
        if let Some(name) = addr.abstract_name() {
            return Some(UnixAddr::Abstract(name.to_vec()));
        }
        addr.path_bytes()
            .filter(|p| !p.is_empty())
            .map(|p| UnixAddr::Path(PathBuf::from(OsStr::from_bytes(p))))
    }
}

fn check_path(path: &Path) -> Result<()> {
    let bytes = path.as_os_str().as_bytes();
    if bytes.is_empty() {
        return Err(Error::InvalidName {
            name: String::new(),
            reason: "a Unix socket path cannot be empty".into(),
        });
    }
    if bytes.contains(&0) {
        return Err(Error::InvalidName {
            name: path.display().to_string(),
            reason: "a Unix socket path cannot contain a NUL byte".into(),
        });
    }
    if bytes.len() > MAX_PATH_LEN {
        return Err(Error::PathTooLong {
            path: path.display().to_string(),
            len: bytes.len(),
            max: MAX_PATH_LEN,
            limit: SUN_PATH_LIMIT,
        });
    }
    Ok(())
}

impl fmt::Display for UnixAddr {
    /// A path as itself, an abstract name as `@NAME` (non-UTF-8 bytes shown
    /// lossily).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnixAddr::Path(p) => write!(f, "{}", p.display()),
            UnixAddr::Abstract(n) => write!(f, "@{}", String::from_utf8_lossy(n)),
        }
    }
}

impl FromStr for UnixAddr {
    type Err = Error;

    /// Parses `@NAME` as an abstract name and anything else as a path.
    ///
    /// # Errors
    /// As [`UnixAddr::path`] and [`UnixAddr::new_abstract_name`].
    fn from_str(s: &str) -> Result<UnixAddr> {
        match s.strip_prefix('@') {
            Some(name) => UnixAddr::new_abstract_name(name),
            None => UnixAddr::path(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_limits_are_checked_before_any_call() {
        assert!(UnixAddr::path("p".repeat(107)).is_ok());
        for len in [108, 200] {
            let err = UnixAddr::path("p".repeat(len)).unwrap_err();
            assert!(
                matches!(err, Error::PathTooLong { len: l, max: 107, .. } if l == len),
                "{err:?}"
            );
        }
        assert!(matches!(UnixAddr::path(""), Err(Error::InvalidName { .. })));
    }

    #[test]
    fn abstract_names_keep_their_exact_length() {
        let a = UnixAddr::new_abstract_name("svc").unwrap();
        let raw = a.to_sockaddr().unwrap();
        assert_eq!(raw.abstract_name(), Some(&b"svc"[..]));
        assert!(UnixAddr::new_abstract_name("").is_err());
        assert!(UnixAddr::new_abstract_name("n".repeat(108)).is_err());
        assert!(UnixAddr::new_abstract_name("n".repeat(107)).is_ok());
    }

    #[test]
    fn parse_and_display_round_trip() {
        for text in ["@svc", "/tmp/x.sock", "rel/x"] {
            let a: UnixAddr = text.parse().unwrap();
            assert_eq!(a.to_string(), text);
        }
    }
}
