//! The one control loop shared by simulated and live runs: observe, decide, apply, advance.

use crate::backend::{Backend, BackendError};
use crate::policy::{Action, Policy};
use crate::time::SimTime;

/// One decision the loop applied (or tried to), for the run's log.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub time: SimTime,
    pub action: Action,
    /// `None` if applied, else why the backend refused it.
    pub refused: Option<String>,
}

/// Drives `policy` against `backend` until the backend's horizon. Observation failures skip
/// that decision (never act on stale data); refused actions are recorded and the loop goes on.
pub fn run(
    backend: &mut dyn Backend,
    policy: &mut dyn Policy,
    mut on_progress: impl FnMut(SimTime, SimTime),
) -> Result<Vec<Decision>, BackendError> {
    let horizon = backend.horizon();
    let interval = policy.interval();
    assert!(
        !interval.is_zero(),
        "policy {} has a zero interval",
        policy.name()
    );
    let mut decisions = Vec::new();
    let mut next = backend.now();
    while backend.now() < horizon {
        if backend.now() >= next {
            match backend.observe() {
                Ok(obs) => {
                    for action in policy.decide(&obs) {
                        let refused = backend.apply(&action).err().map(|e| e.to_string());
                        if let Some(why) = &refused {
                            policy.refused(&action, why);
                        }
                        decisions.push(Decision {
                            time: backend.now(),
                            action,
                            refused,
                        });
                    }
                }
                Err(BackendError::Unavailable(_)) => {}
                Err(e) => return Err(e),
            }
            next = backend.now() + interval;
        }
        backend.advance_until(next.min(horizon))?;
        on_progress(backend.now(), horizon);
    }
    Ok(decisions)
}
