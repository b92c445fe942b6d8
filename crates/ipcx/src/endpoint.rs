//! One grammar for every mechanism: the text a user writes on the command line
//! and passes to the channel API.
//!
//! | endpoint | mechanism |
//! |---|---|
//! | `pipe` | anonymous pipe; only where ipcx spawns the peer itself |
//! | `fifo:PATH` | named pipe |
//! | `mq:/NAME?capacity=N&msgsize=BYTES&prio=N` | POSIX message queue |
//! | `sysvmq:KEY?type=N` | System V message queue |
//! | `sysvshm:KEY?size=BYTES` | System V shared memory, seed-compatible text at offset 0 |
//! | `shm:/NAME?capacity=BYTES&wait=spin\|futex\|adaptive` | ipcx ring in POSIX shared memory |
//! | `unix:PATH`, `unix:@NAME` | Unix stream socket, file-system path or abstract name |
//! | `unix-dgram:…`, `unix-seqpacket:…` | the other Unix socket types |
//! | `tcp:HOST:PORT`, `udp:HOST:PORT` | Internet sockets |
//!
//! KEY is `0x1f2e3d4c`, a decimal number, or `PATH@PROJ` (see [`KeySpec`]).
//! [`Endpoint`] implements [`FromStr`] and [`Display`](fmt::Display), and the
//! two round-trip: `e.to_string().parse() == Ok(e)`.
//!
//! ```
//! use ipcx::Endpoint;
//! let e: Endpoint = "mq:/jobs?capacity=8&prio=3".parse()?;
//! assert_eq!(e.to_string(), "mq:/jobs?capacity=8&prio=3");
//! assert!("carrier-pigeon:x".parse::<Endpoint>().is_err());
//! # Ok::<(), ipcx::Error>(())
//! ```

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::key::{validate_posix_name, KeySpec};
use crate::ring::WaitStrategy;

/// The three Unix socket types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnixKind {
    /// `SOCK_STREAM`: a byte stream (`unix:`).
    Stream,
    /// `SOCK_DGRAM`: datagrams (`unix-dgram:`).
    Datagram,
    /// `SOCK_SEQPACKET`: connected, ordered, message boundaries kept (`unix-seqpacket:`).
    SeqPacket,
}

impl UnixKind {
    /// The endpoint scheme for this kind (`unix`, `unix-dgram`, `unix-seqpacket`).
    pub fn scheme(self) -> &'static str {
        match self {
            UnixKind::Stream => "unix",
            UnixKind::Datagram => "unix-dgram",
            UnixKind::SeqPacket => "unix-seqpacket",
        }
    }
}

/// Where a Unix socket lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UnixPath {
    /// A file-system path.
    Path(PathBuf),
    /// A name in the abstract namespace (written `@NAME`; the name excludes the `@`).
    Abstract(String),
}

/// A parsed endpoint. See the [module documentation](self) for the grammar.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `pipe`: an anonymous pipe to a peer that ipcx spawns itself.
    Pipe,
    /// `fifo:PATH`: a named pipe.
    Fifo {
        /// The FIFO's path.
        path: PathBuf,
    },
    /// `mq:/NAME`: a POSIX message queue.
    PosixMq {
        /// The queue name, with its leading slash.
        name: String,
        /// `capacity=N`: most messages queued (`mq_maxmsg`).
        capacity: Option<u64>,
        /// `msgsize=BYTES`: largest message in bytes (`mq_msgsize`).
        msgsize: Option<u64>,
        /// `prio=N`: priority of sent messages.
        prio: Option<u32>,
    },
    /// `sysvmq:KEY`: a System V message queue.
    SysvMq {
        /// The key.
        key: KeySpec,
        /// `type=N`: message type to send, or the `msgrcv` selector to receive
        /// (positive: exactly N; negative: lowest type ≤ |N|; absent: any).
        mtype: Option<i64>,
    },
    /// `sysvshm:KEY`: a System V shared memory segment holding NUL-terminated text.
    SysvShm {
        /// The key.
        key: KeySpec,
        /// `size=BYTES`: segment size in bytes.
        size: Option<u64>,
    },
    /// `shm:/NAME`: an ipcx ring in POSIX shared memory.
    Shm {
        /// The shared memory object name, with its leading slash.
        name: String,
        /// `capacity=BYTES`: ring data capacity in bytes.
        capacity: Option<u64>,
        /// `wait=spin|futex|adaptive`: how a blocked side waits.
        wait: Option<WaitStrategy>,
    },
    /// `unix:…`, `unix-dgram:…`, `unix-seqpacket:…`: a Unix domain socket.
    Unix {
        /// Socket type.
        kind: UnixKind,
        /// Path or abstract name.
        path: UnixPath,
    },
    /// `tcp:HOST:PORT`.
    Tcp {
        /// Host name or address (IPv6 in brackets when written).
        host: String,
        /// Port.
        port: u16,
    },
    /// `udp:HOST:PORT`.
    Udp {
        /// Host name or address (IPv6 in brackets when written).
        host: String,
        /// Port.
        port: u16,
    },
}

const EXPECTED: &str =
    "expected one of pipe, fifo:PATH, mq:/NAME, sysvmq:KEY, sysvshm:KEY, shm:/NAME, \
unix:PATH, unix:@NAME, unix-dgram:…, unix-seqpacket:…, tcp:HOST:PORT, udp:HOST:PORT";

impl Endpoint {
    /// The scheme word (`fifo`, `mq`, `unix-dgram`, …).
    pub fn scheme(&self) -> &'static str {
        match self {
            Endpoint::Pipe => "pipe",
            Endpoint::Fifo { .. } => "fifo",
            Endpoint::PosixMq { .. } => "mq",
            Endpoint::SysvMq { .. } => "sysvmq",
            Endpoint::SysvShm { .. } => "sysvshm",
            Endpoint::Shm { .. } => "shm",
            Endpoint::Unix { kind, .. } => kind.scheme(),
            Endpoint::Tcp { .. } => "tcp",
            Endpoint::Udp { .. } => "udp",
        }
    }

    /// Whether the mechanism keeps message boundaries (each send is one
    /// message) rather than carrying a byte stream.
    pub fn is_message_oriented(&self) -> bool {
        match self {
            Endpoint::Pipe | Endpoint::Fifo { .. } | Endpoint::Tcp { .. } => false,
            Endpoint::Unix { kind, .. } => *kind != UnixKind::Stream,
            Endpoint::SysvShm { .. } => true,
            Endpoint::PosixMq { .. }
            | Endpoint::SysvMq { .. }
            | Endpoint::Shm { .. }
            | Endpoint::Udp { .. } => true,
        }
    }
}

fn bad(text: &str, reason: impl fmt::Display) -> Error {
    Error::InvalidArgument {
        object: format!("endpoint {text:?}"),
        reason: reason.to_string(),
    }
}

/// Splits `rest?k=v&k=v` into the body and its options, in order.
fn split_query<'a>(text: &str, rest: &'a str) -> Result<(&'a str, Vec<(&'a str, &'a str)>)> {
    let Some((body, query)) = rest.split_once('?') else {
        return Ok((rest, Vec::new()));
    };
    let mut opts = Vec::new();
    for pair in query.split('&') {
        let Some((k, v)) = pair.split_once('=') else {
            return Err(bad(text, format!("option {pair:?} is not KEY=VALUE")));
        };
        if opts.iter().any(|(seen, _)| *seen == k) {
            return Err(bad(text, format!("option {k:?} given twice")));
        }
        opts.push((k, v));
    }
    Ok((body, opts))
}

fn number<T: FromStr>(text: &str, key: &str, value: &str) -> Result<T> {
    value.parse().map_err(|_| {
        bad(
            text,
            format!("option {key}={value:?} is not a valid number"),
        )
    })
}

fn positive(text: &str, key: &str, value: &str) -> Result<u64> {
    let n: u64 = number(text, key, value)?;
    if n == 0 {
        return Err(bad(text, format!("option {key} must be greater than 0")));
    }
    Ok(n)
}

fn unknown_option(text: &str, key: &str, allowed: &str) -> Error {
    bad(
        text,
        format!("unknown option {key:?}; this endpoint takes {allowed}"),
    )
}

fn no_options(text: &str, opts: &[(&str, &str)]) -> Result<()> {
    match opts.first() {
        Some((k, _)) => Err(bad(
            text,
            format!("unknown option {k:?}; this endpoint takes no options"),
        )),
        None => Ok(()),
    }
}

fn host_port(text: &str, body: &str) -> Result<(String, u16)> {
    let Some((host, port)) = body.rsplit_once(':') else {
        return Err(bad(text, "expected HOST:PORT"));
    };
    let host = if let Some(inner) = host.strip_prefix('[') {
        inner
            .strip_suffix(']')
            .ok_or_else(|| bad(text, "an IPv6 address opened with '[' must close with ']'"))?
    } else {
        if host.contains(':') {
            return Err(bad(
                text,
                "write an IPv6 address in brackets, like [::1]:8080",
            ));
        }
        host
    };
    if host.is_empty() {
        return Err(bad(text, "empty host; expected HOST:PORT"));
    }
    let port: u16 = port.parse().map_err(|_| {
        bad(
            text,
            format!("port {port:?} is not a number from 0 to 65535"),
        )
    })?;
    Ok((host.to_owned(), port))
}

fn unix_path(text: &str, body: &str) -> Result<UnixPath> {
    if body.is_empty() {
        return Err(bad(text, "empty socket path; expected PATH or @NAME"));
    }
    if body.contains('\0') {
        return Err(bad(text, "a socket path cannot contain a NUL byte"));
    }
    Ok(match body.strip_prefix('@') {
        Some("") => {
            return Err(bad(text, "empty abstract socket name after '@'"));
        }
        Some(name) => UnixPath::Abstract(name.to_owned()),
        None => UnixPath::Path(PathBuf::from(body)),
    })
}

impl FromStr for Endpoint {
    type Err = Error;

    /// Parses an endpoint.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] quoting the text and saying what was
    /// expected (unknown scheme, unknown or malformed option, bad port, bad
    /// key); [`Error::InvalidName`] for a POSIX name that breaks its rules.
    fn from_str(text: &str) -> Result<Self> {
        if text == "pipe" {
            return Ok(Endpoint::Pipe);
        }
        let Some((scheme, rest)) = text.split_once(':') else {
            return Err(bad(text, format!("no scheme; {EXPECTED}")));
        };
        match scheme {
            "fifo" => {
                if rest.is_empty() {
                    return Err(bad(text, "empty path; expected fifo:PATH"));
                }
                if rest.contains('\0') {
                    return Err(bad(text, "a path cannot contain a NUL byte"));
                }
                Ok(Endpoint::Fifo {
                    path: PathBuf::from(rest),
                })
            }
            "mq" => {
                let (name, opts) = split_query(text, rest)?;
                validate_posix_name(name)?;
                let (mut capacity, mut msgsize, mut prio) = (None, None, None);
                for (k, v) in opts {
                    match k {
                        "capacity" => capacity = Some(positive(text, k, v)?),
                        "msgsize" => msgsize = Some(positive(text, k, v)?),
                        "prio" => prio = Some(number(text, k, v)?),
                        _ => {
                            return Err(unknown_option(
                                text,
                                k,
                                "capacity=N, msgsize=BYTES, prio=N",
                            ))
                        }
                    }
                }
                Ok(Endpoint::PosixMq {
                    name: name.to_owned(),
                    capacity,
                    msgsize,
                    prio,
                })
            }
            "sysvmq" => {
                let (key, opts) = split_query(text, rest)?;
                let key: KeySpec = key.parse()?;
                let mut mtype = None;
                for (k, v) in opts {
                    match k {
                        "type" => {
                            let t: i64 = number(text, k, v)?;
                            if t == 0 {
                                return Err(bad(text, "type=0 is not a message type; use a positive type, a negative selector, or leave it out for any"));
                            }
                            mtype = Some(t);
                        }
                        _ => return Err(unknown_option(text, k, "type=N")),
                    }
                }
                Ok(Endpoint::SysvMq { key, mtype })
            }
            "sysvshm" => {
                let (key, opts) = split_query(text, rest)?;
                let key: KeySpec = key.parse()?;
                let mut size = None;
                for (k, v) in opts {
                    match k {
                        "size" => size = Some(positive(text, k, v)?),
                        _ => return Err(unknown_option(text, k, "size=BYTES")),
                    }
                }
                Ok(Endpoint::SysvShm { key, size })
            }
            "shm" => {
                let (name, opts) = split_query(text, rest)?;
                validate_posix_name(name)?;
                let (mut capacity, mut wait) = (None, None);
                for (k, v) in opts {
                    match k {
                        "capacity" => capacity = Some(positive(text, k, v)?),
                        "wait" => {
                            wait = Some(v.parse().map_err(|_| {
                                bad(
                                    text,
                                    format!("wait={v:?}: expected spin, futex or adaptive"),
                                )
                            })?)
                        }
                        _ => {
                            return Err(unknown_option(
                                text,
                                k,
                                "capacity=BYTES, wait=spin|futex|adaptive",
                            ))
                        }
                    }
                }
                Ok(Endpoint::Shm {
                    name: name.to_owned(),
                    capacity,
                    wait,
                })
            }
            "unix" | "unix-dgram" | "unix-seqpacket" => {
                let kind = match scheme {
                    "unix" => UnixKind::Stream,
                    "unix-dgram" => UnixKind::Datagram,
                    _ => UnixKind::SeqPacket,
                };
                Ok(Endpoint::Unix {
                    kind,
                    path: unix_path(text, rest)?,
                })
            }
            "tcp" | "udp" => {
                let (body, opts) = split_query(text, rest)?;
                no_options(text, &opts)?;
                let (host, port) = host_port(text, body)?;
                Ok(if scheme == "tcp" {
                    Endpoint::Tcp { host, port }
                } else {
                    Endpoint::Udp { host, port }
                })
            }
            _ => Err(bad(text, format!("unknown scheme {scheme:?}; {EXPECTED}"))),
        }
    }
}

struct Query(Vec<(&'static str, String)>);

impl Query {
    fn new() -> Self {
        Query(Vec::new())
    }
    fn opt(mut self, key: &'static str, value: Option<impl fmt::Display>) -> Self {
        if let Some(v) = value {
            self.0.push((key, v.to_string()));
        }
        self
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (k, v)) in self.0.iter().enumerate() {
            f.write_str(if i == 0 { "?" } else { "&" })?;
            write!(f, "{k}={v}")?;
        }
        Ok(())
    }
}

fn write_host(f: &mut fmt::Formatter<'_>, scheme: &str, host: &str, port: u16) -> fmt::Result {
    if host.contains(':') {
        write!(f, "{scheme}:[{host}]:{port}")
    } else {
        write!(f, "{scheme}:{host}:{port}")
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Pipe => f.write_str("pipe"),
            Endpoint::Fifo { path } => write!(f, "fifo:{}", path.display()),
            Endpoint::PosixMq {
                name,
                capacity,
                msgsize,
                prio,
            } => {
                let q = Query::new()
                    .opt("capacity", *capacity)
                    .opt("msgsize", *msgsize)
                    .opt("prio", *prio);
                write!(f, "mq:{name}{q}")
            }
            Endpoint::SysvMq { key, mtype } => {
                write!(f, "sysvmq:{key}{}", Query::new().opt("type", *mtype))
            }
            Endpoint::SysvShm { key, size } => {
                write!(f, "sysvshm:{key}{}", Query::new().opt("size", *size))
            }
            Endpoint::Shm {
                name,
                capacity,
                wait,
            } => {
                let q = Query::new().opt("capacity", *capacity).opt("wait", *wait);
                write!(f, "shm:{name}{q}")
            }
            Endpoint::Unix { kind, path } => match path {
                UnixPath::Path(p) => write!(f, "{}:{}", kind.scheme(), p.display()),
                UnixPath::Abstract(n) => write!(f, "{}:@{n}", kind.scheme()),
            },
            Endpoint::Tcp { host, port } => write_host(f, "tcp", host, *port),
            Endpoint::Udp { host, port } => write_host(f, "udp", host, *port),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &[&str] = &[
        "pipe",
        "fifo:/tmp/myfifo",
        "fifo:relative/path",
        "mq:/jobs",
        "mq:/jobs?capacity=10&msgsize=8192&prio=3",
        "sysvmq:0x4100c04d",
        "sysvmq:progfile@65?type=1",
        "sysvmq:0x00000001?type=-5",
        "sysvshm:shmfile@65",
        "sysvshm:0x12345678?size=1024",
        "shm:/ring",
        "shm:/ring?capacity=65536&wait=futex",
        "shm:/ring?wait=spin",
        "unix:/run/x.sock",
        "unix:@abstract-name",
        "unix-dgram:/tmp/d.sock",
        "unix-seqpacket:@sp",
        "tcp:127.0.0.1:8080",
        "tcp:[::1]:80",
        "udp:localhost:9999",
    ];

    #[test]
    fn every_form_round_trips() {
        for text in GOOD {
            let e: Endpoint = text.parse().unwrap_or_else(|err| panic!("{text}: {err}"));
            assert_eq!(&e.to_string(), text);
            assert_eq!(e.to_string().parse::<Endpoint>().unwrap(), e);
        }
    }

    #[test]
    fn decimal_key_is_printed_as_hex_and_still_round_trips() {
        let e: Endpoint = "sysvmq:17".parse().unwrap();
        assert_eq!(e.to_string(), "sysvmq:0x00000011");
        assert_eq!(e.to_string().parse::<Endpoint>().unwrap(), e);
    }

    #[test]
    fn bad_endpoints_quote_the_text() {
        for text in [
            "",
            "nothing",
            "pigeon:x",
            "fifo:",
            "mq:noslash",
            "mq:/a/b",
            "mq:/q?capacity=0",
            "mq:/q?colour=red",
            "mq:/q?capacity",
            "mq:/q?prio=1&prio=2",
            "sysvmq:0",
            "sysvmq:f@0",
            "sysvmq:1?type=0",
            "sysvshm:1?size=-1",
            "shm:/r?wait=sleepy",
            "unix:",
            "unix:@",
            "tcp:localhost",
            "tcp:host:99999",
            "tcp::80",
            "tcp:::1:80",
            "udp:[::1:80",
        ] {
            let err = text.parse::<Endpoint>().unwrap_err();
            let msg = err.to_string();
            assert!(
                matches!(
                    err,
                    Error::InvalidArgument { .. } | Error::InvalidName { .. }
                ),
                "{text}: {err:?}"
            );
            assert!(!msg.is_empty());
        }
        let msg = "pigeon:x".parse::<Endpoint>().unwrap_err().to_string();
        assert!(
            msg.contains("\"pigeon:x\"") && msg.contains("expected"),
            "{msg}"
        );
    }

    #[test]
    fn message_orientation() {
        assert!(!"fifo:/x".parse::<Endpoint>().unwrap().is_message_oriented());
        assert!("mq:/x".parse::<Endpoint>().unwrap().is_message_oriented());
        assert!("unix-seqpacket:@x"
            .parse::<Endpoint>()
            .unwrap()
            .is_message_oriented());
        assert!(!"unix:@x".parse::<Endpoint>().unwrap().is_message_oriented());
    }
}
