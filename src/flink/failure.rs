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
    /// How the injection relates to the job's checkpoints.
    pub alignment: Alignment,
    /// Which network-delay failures the restarted job fails a second time, shortly after it
    /// resumed (the job model's `[restart.second_failover]` says when and for how long).
    pub second_failover: SecondFailover,
}

/// How an injection relates to the job's checkpoints. The experiments' injector (dos-group/demeter
/// `Graph.java`, every experiment) reads the last acknowledgement from the REST API and computes
/// wait = chkInt - (now - last ack) - 5 s with the interval from *its* configuration: for the
/// Reactive experiment that is the properties' 10 s while the job YAML runs 20 s
/// (research/demeter.md §3.2), so there it lands 5 s after an acknowledgement.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Alignment {
    /// Injected when due.
    #[default]
    None,
    /// The injector's wait: `before` ahead of the completion it expects one `interval` after
    /// the last acknowledgement (`None`: the job's own interval at that moment).
    BeforeCheckpoint(InjectorClock),
    /// The due times are recorded injections, which that injector had aligned (a replay): they
    /// are injected when due, and the twin takes a checkpoint where the recorded job's last
    /// completion was (`interval - before` before the injection), so each failure loses the
    /// recorded amount of work instead of whatever the twin's own checkpoint phase gives.
    Recorded(InjectorClock),
}

/// What the injector computes its wait with.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InjectorClock {
    /// How long before the expected completion it injects (5 s in every experiment).
    pub before: SimDuration,
    /// The checkpoint interval it believes the job runs; `None`: the job's own.
    pub interval: Option<SimDuration>,
}

impl InjectorClock {
    /// The experiments' injector: 5 s before the completion, the job's own interval.
    pub fn experiments() -> Self {
        InjectorClock {
            before: SimDuration::from_secs(5),
            interval: None,
        }
    }

    /// The interval the injector computes with when the job runs `job_interval`.
    pub fn interval_for(&self, job_interval: SimDuration) -> SimDuration {
        self.interval.unwrap_or(job_interval)
    }

    /// How long after the last acknowledgement the injector injects (never negative).
    pub fn after_ack(&self, job_interval: SimDuration) -> SimDuration {
        self.interval_for(job_interval).saturating_sub(self.before)
    }
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
            alignment: Alignment::BeforeCheckpoint(InjectorClock::experiments()),
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
            alignment: Alignment::None,
            second_failover: SecondFailover::Model,
        };
        let ts = plan.due_times(SimTime::from_secs(1_000_000), &mut stream(3, "f"));
        let mean_gap = 1_000_000.0 / ts.len() as f64;
        assert!((mean_gap - 100.0).abs() < 5.0, "{mean_gap}");
    }
}
