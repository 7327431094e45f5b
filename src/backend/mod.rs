//! Backends: what a policy runs against. The `Backend` trait and the simulated backend.
//!
//! A backend turns its world into an [`Observation`], applies [`Action`]s and moves time
//! forward. `SimBackend` does this with the twin; a live backend (later) with Flink's REST API.

pub mod live;
pub mod profiling;
mod sim;

pub use sim::SimBackend;

use crate::policy::{Action, Observation};
use crate::time::SimTime;

/// A failure talking to the system under control. The control loop logs it and goes on.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The action is not possible in the job's current state (e.g. it is restarting); the
    /// policy may try again later.
    #[error("action refused: {0}")]
    Refused(String),
    /// The backend could not be reached or answered nonsense.
    #[error("backend unavailable: {0}")]
    Unavailable(String),
}

/// The one interface the control loop drives.
pub trait Backend {
    /// Time since the run started.
    fn now(&self) -> SimTime;
    /// When the run ends.
    fn horizon(&self) -> SimTime;
    fn observe(&mut self) -> Result<Observation, BackendError>;
    fn apply(&mut self, action: &Action) -> Result<(), BackendError>;
    /// Moves time to `until` (simulates, or waits on the wall clock).
    fn advance_until(&mut self, until: SimTime) -> Result<(), BackendError>;
}
