//! At most one producer and one consumer per ring: each side claims its slot
//! in the header with a compare-and-swap, records its pid and start time, and
//! marks the slot closed when it goes. A slot held by a dead process may be
//! taken over.

use super::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};
use super::layout::*;
use crate::creator::ProcessId;
use crate::error::{Error, Result};

/// Which side of the ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Producer,
    Consumer,
}

impl Side {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Side::Producer => "producer",
            Side::Consumer => "consumer",
        }
    }
}

/// Takes `claim` for `me`.
///
/// # Errors
/// [`Error::AddrInUse`] when a live process holds it; [`Error::Corrupted`]
/// when the state word holds no valid state or keeps changing.
pub(crate) fn take(claim: &Claim, side: Side, me: ProcessId, object: &str) -> Result<()> {
    for _ in 0..1000 {
        let cur = claim.state.load(Acquire);
        let (pid, state) = split_claim(cur);
        let free = match state {
            CLAIM_FREE | CLAIM_CLOSED => true,
            CLAIM_CLAIMING => !is_alive(pid, 0),
            CLAIM_HELD => !is_alive(pid, claim.start_time.load(Relaxed)),
            _ => {
                return Err(Error::Corrupted {
                    object: object.to_owned(),
                    detail: format!(
                        "{} claim word {cur:#018x} holds no valid state",
                        side.name()
                    ),
                })
            }
        };
        if !free {
            return Err(Error::AddrInUse {
                object: format!(
                    "{object}: the {} slot is held by live process {pid}",
                    side.name()
                ),
            });
        }
        // AcqRel: acquire what the previous holder published before it
        // released the slot; the CLAIMING state keeps rivals out while the
        // start time is written.
        if claim
            .state
            .compare_exchange(cur, claim_word(me.pid, CLAIM_CLAIMING), AcqRel, Relaxed)
            .is_ok()
        {
            claim.start_time.store(me.start_time, Relaxed);
            // Release: a reader that sees HELD (Acquire) sees the start time.
            claim.state.store(claim_word(me.pid, CLAIM_HELD), Release);
            return Ok(());
        }
        super::atomic::spin_hint();
    }
    Err(Error::Corrupted {
        object: object.to_owned(),
        detail: format!("{} claim word keeps changing", side.name()),
    })
}

/// Marks `claim` closed by `me` (a normal close), if `me` still holds it.
pub(crate) fn close(claim: &Claim, me: ProcessId) {
    let held = claim_word(me.pid, CLAIM_HELD);
    // Release: everything this side published happens-before the close
    // that the peer observes with Acquire.
    let _ = claim
        .state
        .compare_exchange(held, claim_word(me.pid, CLAIM_CLOSED), Release, Relaxed);
}

/// Whether the peer whose claim this is has gone: `Some(reason)` when it
/// closed (checked every time) or died (checked when `expensive`).
pub(crate) fn peer_gone(claim: &Claim, side: Side, expensive: bool) -> Option<String> {
    let (pid, state) = split_claim(claim.state.load(Acquire));
    match state {
        CLAIM_CLOSED => Some(format!("the {} (pid {pid}) closed the ring", side.name())),
        CLAIM_HELD | CLAIM_CLAIMING if expensive => {
            let start_time = if state == CLAIM_HELD {
                claim.start_time.load(Relaxed)
            } else {
                0
            };
            let alive = is_alive(pid, start_time);
            (!alive).then(|| format!("the {} (pid {pid}) died", side.name()))
        }
        _ => None,
    }
}

/// Whether process `pid` runs, is not a zombie, and (when `start_time` is
/// not 0) started at `start_time` ticks after boot. The same test as
/// [`ProcessId::is_alive`], without allocating: a blocked side runs it every
/// 20 ms and the ring's steady state allocates nothing.
pub(crate) fn is_alive(pid: u32, start_time: u64) -> bool {
    if pid == 0 {
        return false;
    }
    let mut path = [0u8; 32];
    let mut cursor = std::io::Cursor::new(&mut path[..]);
    if std::io::Write::write_fmt(&mut cursor, format_args!("/proc/{pid}/stat")).is_err() {
        return false;
    }
    let len = cursor.position() as usize;
    let Ok(path) = std::str::from_utf8(&path[..len]) else {
        return false;
    };
    let Ok(fd) = rustix::fs::open(
        path,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    ) else {
        return false;
    };
    let mut buf = [0u8; 1024];
    let mut got = 0;
    while got < buf.len() {
        match rustix::io::read(&fd, &mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(rustix::io::Errno::INTR) => {}
            // Unreadable: assume alive rather than steal a live claim.
            Err(_) => return true,
        }
    }
    let text = &buf[..got];
    // The command name is in parentheses and may itself contain ") ".
    let Some(close) = text.iter().rposition(|&b| b == b')') else {
        return true;
    };
    let mut fields = text[close + 1..]
        .split(|b| b.is_ascii_whitespace())
        .filter(|f| !f.is_empty());
    let state = fields.next().and_then(|f| f.first().copied());
    if matches!(state, Some(b'Z') | Some(b'X')) {
        return false;
    }
    if start_time == 0 {
        return true;
    }
    // After ')' the fields start at field 3 (state); start time is field 22.
    let start = fields
        .nth(22 - 4)
        .and_then(|f| std::str::from_utf8(f).ok())
        .and_then(|f| f.parse::<u64>().ok());
    start.is_none_or(|s| s == start_time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn liveness_agrees_with_process_id() {
        let me = ProcessId::current();
        assert!(is_alive(me.pid, me.start_time));
        assert!(is_alive(me.pid, 0));
        assert!(!is_alive(me.pid, me.start_time + 1));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!is_alive(pid, 0) || ProcessId::of(pid).is_some());
    }
}
