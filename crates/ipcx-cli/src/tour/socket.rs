//! Tour scenarios for socket.

use super::Scenario;

/// The scenarios of this mechanism.
pub fn scenarios() -> Vec<Scenario> {
    Vec::new()
}

/// Runs one peer role of these scenarios.
pub fn peer(role: &str, _args: &[String]) -> anyhow::Result<i32> {
    Err(super::unknown_role("socket", role))
}
