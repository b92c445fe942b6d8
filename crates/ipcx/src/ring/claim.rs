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
            CLAIM_CLAIMING => !ProcessId { pid, start_time: 0 }.is_alive(),
            CLAIM_HELD => {
                let start_time = claim.start_time.load(Relaxed);
                !ProcessId { pid, start_time }.is_alive()
            }
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
            let alive = ProcessId { pid, start_time }.is_alive();
            (!alive).then(|| format!("the {} (pid {pid}) died", side.name()))
        }
        _ => None,
    }
}
