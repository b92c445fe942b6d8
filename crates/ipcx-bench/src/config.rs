//! What to measure and for how long.

use std::time::Duration;

use anyhow::{bail, Context};

/// How long each measurement (one mechanism, one scenario, one size) runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// Measure for about this long, after a warm-up of a fifth of it; the
    /// iteration count is calibrated during the warm-up.
    Duration(Duration),
    /// Measure exactly this many round trips (latency) or messages
    /// (throughput), after a warm-up of a tenth as many (at least one).
    Iterations(u64),
}

/// A benchmark run's parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Mechanism ids or group names (see [`crate::catalog`]); empty means all.
    /// The baselines (physical limits and the raw loop of each selected
    /// kernel mechanism) are always measured too.
    pub mechanisms: Vec<String>,
    /// Message sizes, bytes.
    pub sizes: Vec<usize>,
    /// Time or iterations per measurement.
    pub budget: Budget,
    /// Pin the two processes to two different CPUs when at least two are allowed.
    pub pin: bool,
    /// Also measure the raw libc loop of each selected kernel mechanism.
    pub raw_baselines: bool,
}

/// The default message sizes: 64 B, 4 KiB, 64 KiB, 1 MiB.
pub const DEFAULT_SIZES: [usize; 4] = [64, 4 << 10, 64 << 10, 1 << 20];

impl Default for Config {
    /// The default run: every mechanism, the four default sizes, 150 ms per
    /// measurement (about 40 s on a 2-core machine).
    fn default() -> Self {
        Config {
            mechanisms: Vec::new(),
            sizes: DEFAULT_SIZES.to_vec(),
            budget: Budget::Duration(Duration::from_millis(150)),
            pin: true,
            raw_baselines: true,
        }
    }
}

impl Config {
    /// A short run (`--quick`): 64 B and 64 KiB messages, 25 ms per measurement
    /// (a few seconds in all).
    pub fn quick() -> Self {
        Config {
            sizes: vec![64, 64 << 10],
            budget: Budget::Duration(Duration::from_millis(25)),
            ..Config::default()
        }
    }

    /// The warm-up before each measurement.
    pub(crate) fn warmup(&self) -> Budget {
        match self.budget {
            Budget::Duration(d) => Budget::Duration((d / 5).max(Duration::from_millis(2))),
            Budget::Iterations(n) => Budget::Iterations((n / 10).max(1)),
        }
    }
}

/// Parses a message size: a number of bytes with an optional unit `B`, `KiB`,
/// `MiB` (also `K`/`k`/`KB`, `M`/`MB`, taken as powers of 1024), e.g. `64`,
/// `4KiB`, `1MiB`.
///
/// # Errors
/// When the text is not such a size, is zero, or exceeds 256 MiB.
pub fn parse_size(text: &str) -> anyhow::Result<usize> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: usize = num
        .parse()
        .with_context(|| format!("{text:?} is not a size like 64, 4KiB or 1MiB"))?;
    let mult = match unit.trim() {
        "" | "B" | "b" => 1,
        "K" | "k" | "KB" | "kB" | "KiB" | "kiB" => 1 << 10,
        "M" | "m" | "MB" | "MiB" => 1 << 20,
        other => bail!("{text:?}: unknown size unit {other:?}; expected B, KiB or MiB"),
    };
    let size = n
        .checked_mul(mult)
        .with_context(|| format!("{text:?} is too large"))?;
    if size == 0 {
        bail!("{text:?}: a message size must be at least 1 byte");
    }
    if size > 256 << 20 {
        bail!("{text:?}: message sizes above 256 MiB are not supported");
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_size_accepts_units() {
        assert_eq!(parse_size("64").unwrap(), 64);
        assert_eq!(parse_size("64B").unwrap(), 64);
        assert_eq!(parse_size("4KiB").unwrap(), 4096);
        assert_eq!(parse_size("4k").unwrap(), 4096);
        assert_eq!(parse_size("1MiB").unwrap(), 1 << 20);
        assert_eq!(parse_size(" 2M ").unwrap(), 2 << 20);
    }

    #[test]
    fn parse_size_rejects_nonsense() {
        assert!(parse_size("").is_err());
        assert!(parse_size("0").is_err());
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("1GiB").is_err());
        assert!(parse_size("-4").is_err());
    }

    #[test]
    fn warmup_is_a_fraction_of_the_budget() {
        let c = Config {
            budget: Budget::Iterations(1000),
            ..Config::default()
        };
        assert_eq!(c.warmup(), Budget::Iterations(100));
        let c = Config {
            budget: Budget::Iterations(3),
            ..Config::default()
        };
        assert_eq!(c.warmup(), Budget::Iterations(1));
        assert_eq!(
            Config::default().warmup(),
            Budget::Duration(Duration::from_millis(30))
        );
    }
}
