//! Failure injection: a scheduled failure injected or skipped, what each kind does to
//! TaskManagers and WAN links, whether the restarted job fails a second time, late rejoins.

use rand::Rng;

use super::{Event, JobStatus, Twin};
use crate::flink::config::SchedulerMode;
use crate::flink::failure::{Alignment, FailureKind, InjectorClock, SecondFailover};
use crate::time::SimDuration;

impl Twin {
    pub(super) fn failure_due(&mut self, index: usize) {
        let Some(plan) = self.setup.failures.clone() else {
            return;
        };
        // The experiments' injector asks Flink for the last completed checkpoint; the call
        // fails while the job restarts or before its first checkpoint, and the failure is lost.
        let ready = self.status == JobStatus::Running && self.completed.is_some();
        if !ready {
            self.failures_skipped += 1;
            self.log(
                "failure_skipped",
                format!(
                    "#{}: job {:?} or no completed checkpoint",
                    index + 1,
                    self.status
                ),
            );
            return;
        }
        match plan.alignment {
            Alignment::BeforeCheckpoint(_) => self.align_failure(index),
            Alignment::None | Alignment::Recorded(_) => self.inject(index),
        }
    }

    /// The experiments' injector (dos-group/demeter `Graph.java`, EXECUTE and PROFILE): wait =
    /// interval - (now - last ack) - before; if positive it sleeps that long and injects,
    /// otherwise it polls until the next checkpoint completes and computes again, so the
    /// failure always lands `before` ahead of the completion it expects, never while one is due.
    pub(super) fn align_failure(&mut self, index: usize) {
        let clock = match self.setup.failures.as_ref().map(|p| p.alignment) {
            Some(Alignment::BeforeCheckpoint(clock)) => clock,
            _ => InjectorClock::experiments(),
        };
        let Some(c) = self.completed else {
            self.inject(index);
            return;
        };
        let since_ack = self.now.since(c.completed_at).as_secs_f64();
        let wait = clock
            .after_ack(self.config.checkpoint_interval)
            .as_secs_f64()
            - since_ack;
        if wait > 0.0 {
            self.queue.schedule(
                self.now + SimDuration::from_secs_f64(wait),
                Event::FailureInject { index },
            );
        } else {
            self.failure_awaiting_checkpoint = Some(index);
        }
    }

    /// A replay (`Alignment::Recorded`): the recorded injection at due time T was aligned by the
    /// injector, so the recorded job's last completion was `after_ack` before T. Schedule a
    /// checkpoint so that the twin's completes there too (triggered its base duration earlier).
    pub(super) fn plan_rephase(&mut self, index: usize) {
        let Some(Alignment::Recorded(clock)) = self.setup.failures.as_ref().map(|p| p.alignment)
        else {
            return;
        };
        let due = self.due[index];
        let base =
            SimDuration::from_secs_f64(self.setup.model.spec.checkpoint.duration_base_ms / 1000.0);
        let trigger_at = due
            .saturating_sub(clock.after_ack(self.config.checkpoint_interval))
            .saturating_sub(base);
        self.queue.schedule(
            trigger_at.max(self.now),
            Event::CheckpointRephase {
                attempt: self.attempt,
            },
        );
    }

    pub(super) fn inject(&mut self, index: usize) {
        let Some(plan) = self.setup.failures.clone() else {
            return;
        };
        if self.status != JobStatus::Running || self.tm_registered == 0 {
            self.failures_skipped += 1;
            self.log(
                "failure_skipped",
                format!("#{}: job not running", index + 1),
            );
            return;
        }
        self.failures_injected.push(self.now);
        let r = self.setup.model.spec.restart.clone();
        // Detection: the JobManager last heard a heartbeat up to one interval ago.
        let heartbeat_detection = SimDuration::from_secs_f64(
            r.heartbeat_timeout_s - self.rng_failures.random::<f64>() * r.heartbeat_interval_s,
        );
        match plan.kind {
            FailureKind::NetworkDelay { duration } => {
                self.log(
                    "failure_injected",
                    format!(
                        "#{}: network delay on one TaskManager for {duration}",
                        index + 1
                    ),
                );
                if duration > heartbeat_detection {
                    // Overwritten by every failure: a draw that never reached its restart
                    // (the job was redeploying) must not fire after a later one.
                    self.second_failover_due = self
                        .fails_twice(index, &plan.second_failover)
                        .then_some(index);
                    self.tm_unreachable += 1;
                    self.queue.schedule(
                        self.now + heartbeat_detection,
                        Event::TaskManagerLost {
                            count: 1,
                            fatal: true,
                        },
                    );
                    self.tm_starting += 1;
                    let late = self.rejoin_late();
                    let warm =
                        self.setup.scheduler == SchedulerMode::Reactive && r.reactive_rejoin_warm;
                    self.queue.schedule(
                        self.now + duration + late,
                        Event::TaskManagersRegistered { count: 1, warm },
                    );
                }
            }
            FailureKind::TaskManagerCrash { detection } => {
                self.log(
                    "failure_injected",
                    format!("#{}: TaskManager crash", index + 1),
                );
                self.tm_unreachable += 1;
                self.queue.schedule(
                    self.now + detection,
                    Event::TaskManagerLost {
                        count: 1,
                        fatal: true,
                    },
                );
                self.tm_starting += 1;
                let replace = detection + SimDuration::from_secs_f64(r.tm_start_s);
                self.queue.schedule(
                    self.now + replace,
                    Event::TaskManagersRegistered {
                        count: 1,
                        warm: false,
                    },
                );
            }
            FailureKind::LinkOutage { link, down_for } => {
                let Some(l) = self.edge.setup.links.get(link) else {
                    self.failures_skipped += 1;
                    self.log("failure_skipped", format!("#{}: no link {link}", index + 1));
                    return;
                };
                let name = l.name.clone();
                self.log(
                    "failure_injected",
                    format!("#{}: WAN link {name} down for {down_for}", index + 1),
                );
                self.outages += 1;
                let outage = self.outages;
                self.link_outage[link] = (outage, self.now + down_for);
                self.edge.link_up[link] = false;
                self.queue
                    .schedule(self.now + down_for, Event::LinkUp { link, outage });
                if down_for > heartbeat_detection {
                    self.queue.schedule(
                        self.now + heartbeat_detection,
                        Event::LinkHeartbeatCheck { link, outage },
                    );
                }
            }
            FailureKind::NodeLoss {
                task_managers,
                down_for,
            } => {
                let count = task_managers.min(self.tm_registered);
                self.log(
                    "failure_injected",
                    format!(
                        "#{}: node loss ({count} TaskManagers) for {down_for}",
                        index + 1
                    ),
                );
                self.tm_unreachable += count;
                self.queue.schedule(
                    self.now + heartbeat_detection,
                    Event::TaskManagerLost { count, fatal: true },
                );
                self.tm_starting += count;
                self.queue.schedule(
                    self.now + down_for.max(heartbeat_detection),
                    Event::TaskManagersRegistered { count, warm: false },
                );
            }
        }
    }

    /// Whether the restart after failure `index` is followed by a second failover: listed, or
    /// drawn with the model's probability outside reactive mode (no draw without the table).
    fn fails_twice(&mut self, index: usize, which: &SecondFailover) -> bool {
        let Some(sf) = &self.setup.model.spec.restart.second_failover else {
            return false;
        };
        match which {
            SecondFailover::Listed(set) => set.contains(&index),
            SecondFailover::Model => {
                self.setup.scheduler != SchedulerMode::Reactive
                    && self.rng_second_failover.random::<f64>() < sf.probability
            }
        }
    }

    /// How much later than the end of its network delay a cut-off TaskManager re-registers:
    /// `reactive_rejoin_late_s` with probability `reactive_rejoin_late_fraction` in reactive
    /// mode, else 0 (no draw outside reactive mode, so other runs keep their random streams).
    fn rejoin_late(&mut self) -> SimDuration {
        let r = &self.setup.model.spec.restart;
        match (
            self.setup.scheduler,
            r.reactive_rejoin_late_fraction,
            r.reactive_rejoin_late_s,
        ) {
            (SchedulerMode::Reactive, Some(q), Some(late_s)) => {
                if self.rng_failures.random::<f64>() < q {
                    SimDuration::from_secs_f64(late_s)
                } else {
                    SimDuration::ZERO
                }
            }
            _ => SimDuration::ZERO,
        }
    }
}
