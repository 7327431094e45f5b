//! The one control loop shared by simulated and live runs: observe, decide, apply, advance.

use crate::backend::{Backend, BackendError};
use crate::policy::{Action, Evaluation, Policy};
use crate::time::SimTime;

/// One decision the loop applied (or tried to), for the run's log.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub time: SimTime,
    pub action: Action,
    /// `None` if applied, else why the backend refused it.
    pub refused: Option<String>,
    /// Why the policy took it ([`Policy::explain`]), if it says.
    pub reason: Option<&'static str>,
}

/// What the loop recorded: the actions, and the policy's per-vertex evaluations (if it
/// reports them, [`Policy::take_evaluations`]), both in time order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunLog {
    pub decisions: Vec<Decision>,
    pub evaluations: Vec<Evaluation>,
}

/// Drives `policy` against `backend` until the backend's horizon. Observation failures skip
/// that decision (never act on stale data); refused actions are recorded and the loop goes on.
pub fn run(
    backend: &mut dyn Backend,
    policy: &mut dyn Policy,
    on_progress: impl FnMut(SimTime, SimTime),
) -> Result<Vec<Decision>, BackendError> {
    run_logged(backend, policy, on_progress).map(|log| log.decisions)
}

/// [`run`], also collecting the policy's evaluations.
pub fn run_logged(
    backend: &mut dyn Backend,
    policy: &mut dyn Policy,
    mut on_progress: impl FnMut(SimTime, SimTime),
) -> Result<RunLog, BackendError> {
    let horizon = backend.horizon();
    let interval = policy.interval();
    assert!(
        !interval.is_zero(),
        "policy {} has a zero interval",
        policy.name()
    );
    let mut decisions = Vec::new();
    let mut evaluations = Vec::new();
    let mut next = backend.now();
    while backend.now() < horizon {
        if backend.now() >= next {
            match backend.observe() {
                Ok(obs) => {
                    let actions = policy.decide(&obs);
                    evaluations.append(&mut policy.take_evaluations());
                    for action in actions {
                        let reason = policy.explain(&action);
                        let refused = backend.apply(&action).err().map(|e| e.to_string());
                        if let Some(why) = &refused {
                            policy.refused(&action, why);
                        }
                        decisions.push(Decision {
                            time: backend.now(),
                            action,
                            refused,
                            reason,
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
    Ok(RunLog {
        decisions,
        evaluations,
    })
}
