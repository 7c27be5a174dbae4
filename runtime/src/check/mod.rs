//! Checks every simulated run must pass. Each returns the violations it
//! found, as sentences a person can act on; an empty list means the run passed.

pub mod agreement;
pub mod degraded;
pub mod history;
mod key_op;
pub mod linearizability;
mod register;
mod wgl;

pub use agreement::{check_agreement, ReplicaLog};
pub use degraded::{check_degraded_progress, DegradedRules, FaultPeriod};
pub use history::{History, Operation};
pub use linearizability::check_linearizability;

/// Every command the clients submitted completed.
pub fn check_liveness(history: &History) -> Vec<String> {
    let pending: Vec<String> = history
        .ops
        .iter()
        .filter(|op| op.completed.is_none())
        .map(|op| op.id.to_string())
        .collect();
    if pending.is_empty() {
        return Vec::new();
    }
    let shown = pending.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
    vec![format!(
        "liveness: {} of {} commands never completed (e.g. {shown})",
        pending.len(),
        history.ops.len()
    )]
}
