//! The control channel between the measuring process and its peer: a
//! `SOCK_SEQPACKET` socket pair whose messages are JSON documents and may
//! carry file descriptors (`SCM_RIGHTS`).

use std::io::{IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use anyhow::{bail, Context};
use ipcx::deadline::{poll_fd, Deadline};
use rustix::event::PollFlags;
use rustix::net::{
    AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags, SocketFlags, SocketType,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Largest control message, bytes.
const MAX_MESSAGE: usize = 64 << 10;
/// Most descriptors carried by one control message.
const MAX_FDS: usize = 8;

/// One end of the control channel.
pub(crate) struct Control {
    fd: OwnedFd,
    buf: Vec<u8>,
}

/// Parent to child.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Order {
    /// Which mechanism to join, the largest message it will carry, and the CPU
    /// to pin to.
    Hello {
        mechanism: String,
        max_size: usize,
        cpu: Option<usize>,
    },
    /// The mechanism's parameters (names, keys, ports); descriptors ride along.
    Setup { params: serde_json::Value },
    /// Run one measurement's child side.
    Run {
        latency: bool,
        size: usize,
        count: u64,
        window: Option<u64>,
    },
    /// Leave.
    Exit,
}

/// Child to parent.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Reply {
    /// Joined the mechanism; `pinned` says whether pinning worked.
    Ready { pinned: Option<String> },
    /// Finished a measurement's side.
    Done,
    /// Something went wrong; the child exits after this.
    Failed { error: String },
}

impl Control {
    /// A connected pair: (this end, the end to hand to the child).
    pub(crate) fn pair() -> anyhow::Result<(Control, OwnedFd)> {
        let (a, b) = rustix::net::socketpair(
            AddressFamily::UNIX,
            SocketType::SEQPACKET,
            SocketFlags::CLOEXEC,
            None,
        )
        .context("socketpair(AF_UNIX, SOCK_SEQPACKET) for the bench control channel")?;
        Ok((Control::from_fd(a), b))
    }

    /// Wraps a received end.
    pub(crate) fn from_fd(fd: OwnedFd) -> Control {
        Control {
            fd,
            buf: vec![0; MAX_MESSAGE],
        }
    }

    /// Sends one message with descriptors.
    pub(crate) fn send<T: Serialize>(&self, msg: &T, fds: &[BorrowedFd<'_>]) -> anyhow::Result<()> {
        let bytes = serde_json::to_vec(msg)?;
        if bytes.len() > MAX_MESSAGE || fds.len() > MAX_FDS {
            bail!("bench control message too large");
        }
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
        let mut ancillary = SendAncillaryBuffer::new(&mut space);
        if !fds.is_empty() && !ancillary.push(SendAncillaryMessage::ScmRights(fds)) {
            bail!("bench control: descriptors do not fit");
        }
        let iov = [IoSlice::new(&bytes)];
        loop {
            match rustix::net::sendmsg(&self.fd, &iov, &mut ancillary, SendFlags::NOSIGNAL) {
                Ok(_) => return Ok(()),
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e).context("sendmsg on the bench control channel"),
            }
        }
    }

    /// Receives one message and its descriptors, waiting at most `timeout`.
    pub(crate) fn recv<T: DeserializeOwned>(
        &mut self,
        timeout: Duration,
    ) -> anyhow::Result<(T, Vec<OwnedFd>)> {
        let ready = poll_fd(&self.fd, PollFlags::IN, Deadline::after(Some(timeout)))
            .context("poll on the bench control channel")?;
        if ready.is_none() {
            bail!("the bench peer did not answer within {timeout:?}");
        }
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
        let mut ancillary = RecvAncillaryBuffer::new(&mut space);
        let n = loop {
            let mut iov = [IoSliceMut::new(&mut self.buf)];
            match rustix::net::recvmsg(&self.fd, &mut iov, &mut ancillary, RecvFlags::CMSG_CLOEXEC)
            {
                Ok(r) => break r.bytes,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e).context("recvmsg on the bench control channel"),
            }
        };
        let mut fds = Vec::new();
        for msg in ancillary.drain() {
            if let RecvAncillaryMessage::ScmRights(received) = msg {
                fds.extend(received);
            }
        }
        if n == 0 {
            bail!("the bench peer closed the control channel");
        }
        let msg =
            serde_json::from_slice(&self.buf[..n]).context("decoding a bench control message")?;
        Ok((msg, fds))
    }

    /// The socket, for polling.
    #[allow(dead_code)]
    pub(crate) fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn messages_and_descriptors_cross() {
        let (mut a, b) = Control::pair().unwrap();
        let mut b = Control::from_fd(b);
        let (r, w) = rustix::pipe::pipe().unwrap();
        a.send(
            &Order::Run {
                latency: true,
                size: 64,
                count: 3,
                window: None,
            },
            &[w.as_fd()],
        )
        .unwrap();
        drop(w);
        let (order, mut fds): (Order, _) = b.recv(Duration::from_secs(5)).unwrap();
        assert!(matches!(
            order,
            Order::Run {
                size: 64,
                count: 3,
                ..
            }
        ));
        assert_eq!(fds.len(), 1);
        let mut wfile = std::fs::File::from(fds.pop().unwrap());
        wfile.write_all(b"hi").unwrap();
        drop(wfile);
        let mut got = String::new();
        std::fs::File::from(r).read_to_string(&mut got).unwrap();
        assert_eq!(got, "hi");
        b.send(&Reply::Done, &[]).unwrap();
        let (reply, fds): (Reply, _) = a.recv(Duration::from_secs(5)).unwrap();
        assert!(matches!(reply, Reply::Done));
        assert!(fds.is_empty());
    }

    #[test]
    fn silence_times_out() {
        let (mut a, _b) = Control::pair().unwrap();
        let err = a.recv::<Reply>(Duration::from_millis(20)).unwrap_err();
        assert!(err.to_string().contains("did not answer"), "{err}");
    }
}
