//! Tour scenarios for the ipcx ring.

use super::Scenario;

/// The scenarios of this mechanism.
pub fn scenarios() -> Vec<Scenario> {
    Vec::new()
}

/// Runs one peer role of these scenarios.
pub fn peer(role: &str, _args: &[String]) -> anyhow::Result<i32> {
    Err(super::unknown_role("ring", role))
}
