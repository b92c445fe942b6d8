//! A single-producer single-consumer ring of variable-size records in shared
//! memory: the fastest message path ipcx ships.

use std::fmt;
use std::str::FromStr;

/// How a blocked side of a ring waits for the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum WaitStrategy {
    /// Busy-spin on the shared index: lowest latency, burns a core while waiting.
    Spin,
    /// Sleep in `futex(2)` until woken; the other side only makes the wake
    /// call when this side is really waiting.
    Futex,
    /// Spin briefly, then sleep in `futex(2)`. The default.
    #[default]
    Adaptive,
}

impl WaitStrategy {
    /// The word used in endpoints and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            WaitStrategy::Spin => "spin",
            WaitStrategy::Futex => "futex",
            WaitStrategy::Adaptive => "adaptive",
        }
    }
}

impl fmt::Display for WaitStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for WaitStrategy {
    type Err = crate::Error;

    /// Parses `spin`, `futex` or `adaptive`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for any other word.
    fn from_str(s: &str) -> crate::Result<Self> {
        match s {
            "spin" => Ok(WaitStrategy::Spin),
            "futex" => Ok(WaitStrategy::Futex),
            "adaptive" => Ok(WaitStrategy::Adaptive),
            _ => Err(crate::Error::InvalidArgument {
                object: format!("wait strategy {s:?}"),
                reason: "expected spin, futex or adaptive".into(),
            }),
        }
    }
}
