//! Failure plans: what breaks (network delay, TaskManager crash, node loss, WAN link outage) and when.

use std::collections::BTreeSet;

use rand::Rng;

use crate::rng::SimRng;
use crate::time::{SimDuration, SimTime};

/// What a failure does to the cluster.
#[derive(Clone, Debug, PartialEq)]
pub enum FailureKind {
    /// One TaskManager's network is delayed (Chaos Mesh NetworkChaos `delay`) for `duration`:
    /// it is declared lost after the heartbeat timeout and re-registers when the delay ends.
    NetworkDelay { duration: SimDuration },
    /// One TaskManager process dies (`kill -9`): detected after `detection`, a replacement
    /// pod starts.
    TaskManagerCrash { detection: SimDuration },
    /// A node with `task_managers` TaskManagers disappears for `down_for`; lost after the
    /// heartbeat timeout, back when the node returns.
    NodeLoss {
        task_managers: u32,
        down_for: SimDuration,
    },
    /// A WAN link (index into the scenario's links) carries nothing for `down_for`: the edges
    /// crossing it backpressure; if it stays down past the heartbeat timeout, the TaskManagers
    /// beyond it are lost and the job fails over, resuming once the link is back.
    LinkOutage { link: usize, down_for: SimDuration },
}

/// When failures are due.
#[derive(Clone, Debug, PartialEq)]
pub enum FailureSchedule {
    /// At `every`, 2 x `every`, ... before the horizon (Demeter: every 2700 s).
    Periodic { every: SimDuration },
    /// Exponential inter-arrival times with the given mean.
    Poisson { mean_interval: SimDuration },
    /// Weibull inter-arrival times.
    Weibull { shape: f64, scale: SimDuration },
    /// An explicit list.
    At(Vec<SimTime>),
}

/// A validated failure plan.
#[derive(Clone, Debug, PartialEq)]
pub struct FailurePlan {
    pub kind: FailureKind,
    pub schedule: FailureSchedule,
    /// Demeter's alignment: inject this long before the next checkpoint would complete
    /// (wait = interval - (now - last ack) - before); `None` injects when due.
    pub align_before_checkpoint: Option<SimDuration>,
    /// Which network-delay failures the restarted job fails a second time, shortly after it
    /// resumed (the job model's `[restart.second_failover]` says when and for how long).
    pub second_failover: SecondFailover,
}

/// Which failures are followed by a second failover of the restarted job.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum SecondFailover {
    /// Drawn per failure with the job model's `[restart.second_failover] probability`.
    #[default]
    Model,
    /// Exactly these failures (0-based indices into the due times), e.g. the ones a recorded
    /// run shows (`calibrate::second_failover`); none of the others.
    Listed(BTreeSet<usize>),
}

impl FailurePlan {
    /// The due times before `horizon`, drawn from `rng` for random schedules.
    pub fn due_times(&self, horizon: SimTime, rng: &mut SimRng) -> Vec<SimTime> {
        let mut out = Vec::new();
        match &self.schedule {
            FailureSchedule::Periodic { every } => {
                let mut t = SimTime::ZERO + *every;
                while t < horizon && !every.is_zero() {
                    out.push(t);
                    t += *every;
                }
            }
            FailureSchedule::Poisson { mean_interval } => {
                let mut t = SimTime::ZERO;
                loop {
                    let u: f64 = rng.random::<f64>();
                    let gap = -mean_interval.as_secs_f64() * (1.0 - u).ln();
                    t += SimDuration::from_secs_f64(gap.max(0.001));
                    if t >= horizon {
                        break;
                    }
                    out.push(t);
                }
            }
            FailureSchedule::Weibull { shape, scale } => {
                let mut t = SimTime::ZERO;
                loop {
                    let u: f64 = rng.random::<f64>();
                    let gap = scale.as_secs_f64() * (-(1.0 - u).ln()).powf(1.0 / shape);
                    t += SimDuration::from_secs_f64(gap.max(0.001));
                    if t >= horizon {
                        break;
                    }
                    out.push(t);
                }
            }
            FailureSchedule::At(ts) => out.extend(ts.iter().copied().filter(|t| *t < horizon)),
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::stream;

    #[test]
    fn demeter_schedule_has_23_failures_in_18_hours() {
        let plan = FailurePlan {
            kind: FailureKind::NetworkDelay {
                duration: SimDuration::from_secs(30),
            },
            schedule: FailureSchedule::Periodic {
                every: SimDuration::from_secs(2700),
            },
            align_before_checkpoint: Some(SimDuration::from_secs(5)),
            second_failover: SecondFailover::Model,
        };
        let ts = plan.due_times(SimTime::from_secs(64_800), &mut stream(1, "f"));
        assert_eq!(ts.len(), 23);
        assert_eq!(ts[0], SimTime::from_secs(2700));
        assert_eq!(ts[22], SimTime::from_secs(62_100));
    }

    #[test]
    fn poisson_mean_gap_is_close_to_the_mean() {
        let plan = FailurePlan {
            kind: FailureKind::TaskManagerCrash {
                detection: SimDuration::ZERO,
            },
            schedule: FailureSchedule::Poisson {
                mean_interval: SimDuration::from_secs(100),
            },
            align_before_checkpoint: None,
            second_failover: SecondFailover::Model,
        };
        let ts = plan.due_times(SimTime::from_secs(1_000_000), &mut stream(3, "f"));
        let mean_gap = 1_000_000.0 / ts.len() as f64;
        assert!((mean_gap - 100.0).abs() < 5.0, "{mean_gap}");
    }
}
