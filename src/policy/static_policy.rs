//! The Static policy: the experiments' baseline, which never changes anything.

use super::{Action, Observation, Policy};
use crate::time::SimDuration;

/// Keeps the deployed configuration (Static: 24 TaskManagers x 1 slot x 1 CPU x 4096 MB).
#[derive(Debug, Default)]
pub struct StaticPolicy;

impl StaticPolicy {
    pub fn new() -> Self {
        StaticPolicy
    }
}

impl Policy for StaticPolicy {
    fn name(&self) -> &str {
        "static"
    }
    fn interval(&self) -> SimDuration {
        SimDuration::from_secs(60)
    }
    fn decide(&mut self, _observation: &Observation) -> Vec<Action> {
        Vec::new()
    }
}
