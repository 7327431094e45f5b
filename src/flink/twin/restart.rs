//! Restarts and reconfiguration: the commands (savepoint redeploy, in-place rescale, TaskManager
//! count), cancelling an attempt, waiting for slots and deploying, resuming, TaskManager changes.

use rand::Rng;

use super::{config_text, Event, JobStatus, PendingRedeploy, RestartCause, Twin, VertexSecond};
use crate::flink::config::{JobConfig, SchedulerMode};
use crate::time::{SimDuration, SimTime};

impl Twin {
    // ----- commands (what a backend applies) -----

    /// Stop with a savepoint and redeploy with `config` (the Flink operator's savepoint
    /// upgrade). Refused unless the job is running.
    pub fn redeploy(&mut self, config: JobConfig) -> Result<(), String> {
        if self.status != JobStatus::Running {
            return Err(format!("job is {:?}, not running", self.status));
        }
        if self.pending_redeploy.is_some() {
            return Err("a redeploy is already in progress".into());
        }
        let r = &self.setup.model.spec.restart;
        let state_mb = self.state_mb_per_subtask();
        let sp = SimDuration::from_secs_f64(
            r.savepoint_base_s + state_mb / self.setup.model.spec.checkpoint.upload_mb_per_s,
        );
        self.log(
            "savepoint_triggered",
            format!("for redeploy to {}", config_text(&config)),
        );
        self.pending_redeploy = Some(PendingRedeploy { config });
        self.queue.schedule(
            self.now + sp,
            Event::SavepointDone {
                attempt: self.attempt,
            },
        );
        Ok(())
    }

    /// In-place rescale through the adaptive scheduler: per-vertex parallelism, restart from
    /// the latest checkpoint.
    pub fn rescale_in_place(&mut self, parallelism: Vec<u32>) -> Result<(), String> {
        if self.setup.scheduler != SchedulerMode::Adaptive {
            return Err("in-place rescale needs the adaptive scheduler".into());
        }
        if self.status != JobStatus::Running {
            return Err(format!("job is {:?}, not running", self.status));
        }
        if parallelism.len() != self.graph.len() || parallelism.contains(&0) {
            return Err(format!(
                "expected {} parallelisms >= 1, got {:?}",
                self.graph.len(),
                parallelism
            ));
        }
        let mut config = self.config.clone();
        config.parallelism_overrides = parallelism.into_iter().map(Some).collect();
        let needed = config.task_managers();
        self.set_config(config);
        self.set_task_managers(needed.max(self.tm_target));
        self.reconfigurations += 1;
        self.restart(RestartCause::InPlaceRescale);
        Ok(())
    }

    /// Sets the number of TaskManager pods (the HPA's replica count). New pods register after
    /// the pod start time; removed pods deregister at once.
    pub fn set_task_managers(&mut self, count: u32) {
        if count == self.tm_target {
            return;
        }
        self.log(
            "task_managers_target",
            format!("{} -> {}", self.tm_target, count),
        );
        let have = self.tm_registered + self.tm_starting;
        if count > have {
            let add = count - have;
            self.tm_starting += add;
            let start = SimDuration::from_secs_f64(self.setup.model.spec.restart.tm_start_s);
            self.queue.schedule(
                self.now + start,
                Event::TaskManagersRegistered {
                    count: add,
                    warm: false,
                },
            );
        } else if count < self.tm_registered {
            let remove = self.tm_registered - count;
            self.tm_registered -= remove;
            self.tm_unreachable = self.tm_unreachable.min(self.tm_registered);
            self.tm_warm = self.tm_warm.min(self.tm_registered);
            self.on_task_managers_changed();
        }
        self.tm_target = count;
    }

    /// Cancels all tasks and starts a new attempt.
    pub(super) fn restart(&mut self, cause: RestartCause) {
        self.last_restart_cause = Some(cause);
        self.attempt += 1;
        self.restarts += 1;
        self.status = if cause == RestartCause::Redeploy {
            JobStatus::Redeploying
        } else {
            JobStatus::Restarting
        };
        self.pending_checkpoint = None;
        if cause == RestartCause::Redeploy {
            if let Some(index) = self.failure_awaiting_checkpoint.take() {
                // The injector asks Flink about the job it knew; a redeployed job has a new id,
                // the call fails and that failure is lost (research/demeter.md §2.2).
                self.failures_skipped += 1;
                self.log(
                    "failure_skipped",
                    format!("#{}: redeployed while waiting for a checkpoint", index + 1),
                );
            }
        }
        if cause != RestartCause::Redeploy && self.pending_redeploy.take().is_some() {
            // A failover aborts a stop-with-savepoint in flight; the caller may try again.
            self.log("savepoint_aborted", format!("{cause:?}"));
        }
        // In-flight records are lost; the source rewinds to the last completed checkpoint
        // (a savepoint redeploy rewinds to the savepoint, which is exact).
        let rewind_to = match cause {
            RestartCause::Redeploy => self.redeploy_offset.unwrap_or(self.consumed),
            _ => self
                .completed
                .map(|c| c.offset)
                .or(self.redeploy_offset)
                .unwrap_or(0.0),
        };
        let replay = (self.consumed - rewind_to).max(0.0);
        self.consumed = rewind_to;
        self.deploying_since = None;
        self.source_reads_from = None;
        self.consumers_started = false;
        if self.reservoir.is_some() {
            let rewind_ms = self.arrival_ms(rewind_to);
            if let Some(r) = self.reservoir.as_mut() {
                r.restart(rewind_to, rewind_ms);
            }
        }
        self.queued.iter_mut().for_each(|q| *q = 0.0);
        self.edge.clear_queues();
        let r = &self.setup.model.spec.restart;
        let delay = match cause {
            RestartCause::Failover | RestartCause::Placement => r.restart_delay_s,
            RestartCause::InPlaceRescale | RestartCause::ReactiveRescale => r
                .resource_stabilization_s(self.setup.scheduler)
                .min(r.restart_delay_s.max(0.0)),
            RestartCause::Redeploy => r.jm_start_s,
        };
        self.resume_not_before = self.now + SimDuration::from_secs_f64(delay);
        self.waiting_for_slots = true;
        self.log(
            "job_restarting",
            format!("{cause:?}: replaying {replay:.0} records"),
        );
        self.try_deploy();
    }

    fn slots_needed(&self) -> u32 {
        match self.setup.scheduler {
            SchedulerMode::Reactive => 1,
            _ => self.config.max_parallelism(),
        }
    }

    /// If the restarting job has its slots, schedule the end of deployment.
    fn try_deploy(&mut self) {
        if !self.waiting_for_slots || self.slots_total() < self.slots_needed() {
            return;
        }
        self.waiting_for_slots = false;
        if self.setup.scheduler == SchedulerMode::Reactive {
            self.apply_parallelism();
        }
        let r = &self.setup.model.spec.restart;
        // The draw is made either way so that warm restarts do not shift later ones.
        let cold =
            r.deploy_min_s + self.rng_restart.random::<f64>() * (r.deploy_max_s - r.deploy_min_s);
        let tms_used = match self.setup.scheduler {
            SchedulerMode::Reactive => self.tm_registered,
            _ => self.config.task_managers(),
        };
        let deploy = match r.deploy_warm_s {
            Some(warm_s) if tms_used <= self.tm_warm => warm_s,
            _ => cold,
        };
        let restore = self.state_mb_per_subtask() / r.restore_mb_per_s;
        let start = self.now.max(self.resume_not_before).max(self.hold_until);
        let resume_at =
            (start + SimDuration::from_secs_f64(deploy + restore)).max(self.resume_at_least);
        // The operators open (and their histograms read 0) at most `empty_s` before
        // processing resumes.
        let open_for = self
            .setup
            .model
            .spec
            .latency
            .reservoir
            .as_ref()
            .and_then(|r| r.empty_s)
            .map(SimDuration::from_secs_f64);
        self.deploying_since = Some(match open_for {
            Some(d) => start.max(SimTime::from_ms(
                resume_at.as_ms().saturating_sub(d.as_ms()),
            )),
            None => start,
        });
        let lead = match (self.last_restart_cause, r.source_lead_s) {
            (Some(RestartCause::Failover), Some(lead_s)) if lead_s > 0.0 => Some(lead_s),
            _ => None,
        };
        self.source_reads_from = lead.map(|lead_s| {
            start.max(SimTime::from_ms(
                resume_at
                    .as_ms()
                    .saturating_sub(SimDuration::from_secs_f64(lead_s).as_ms()),
            ))
        });
        self.queue.schedule(
            resume_at,
            Event::Resume {
                attempt: self.attempt,
            },
        );
    }

    pub(super) fn resume(&mut self) {
        self.status = JobStatus::Running;
        self.resume_at_least = SimTime::ZERO;
        // The first resume after the failure decides: a failover's fails again, any other
        // (a redeploy that overtook the failure) drops the draw.
        let due = self.second_failover_due.take();
        if self.last_restart_cause == Some(RestartCause::Failover) {
            if let (Some(index), Some(sf)) =
                (due, self.setup.model.spec.restart.second_failover.as_ref())
            {
                self.queue.schedule(
                    self.now + SimDuration::from_secs_f64(sf.after_resume_s),
                    Event::SecondFailover {
                        attempt: self.attempt,
                        index,
                    },
                );
            }
        }
        self.tm_warm = self.tm_registered.saturating_sub(self.tm_unreachable);
        self.deploying_since = None;
        self.running_since = self.now;
        // The restarted source tasks create new Kafka consumers, whose metrics start empty
        // (unless they started reading ahead of the rest of the job).
        if !std::mem::take(&mut self.consumers_started) {
            self.rate_stat.reset();
            self.lag_stat.reset();
        }
        self.source_reads_from = None;
        self.totals
            .iter_mut()
            .for_each(|t| *t = VertexSecond::default());
        let reactive = self.setup.scheduler == SchedulerMode::Reactive;
        // Reactive mode fixed the parallelism when it took the slots (`try_deploy`).
        if !reactive {
            self.apply_parallelism();
        }
        self.start_checkpoint_scheduler();
        self.log(
            "job_running",
            format!("parallelism {}", self.parallelism_text()),
        );
        // TaskManagers that registered or left while the job was being deployed make the
        // running job rescale (one more restart), as they do once it runs.
        let slots = self
            .slots_total()
            .min(self.setup.model.spec.job.max_parallelism);
        if reactive && slots != self.parallelism[0] {
            self.on_task_managers_changed();
        }
    }

    pub(super) fn on_task_managers_changed(&mut self) {
        match self.status {
            JobStatus::Restarting | JobStatus::Redeploying => self.try_deploy(),
            JobStatus::Running => {
                if self.setup.scheduler == SchedulerMode::Reactive {
                    self.reactive_generation += 1;
                    let wait = SimDuration::from_secs_f64(
                        self.setup
                            .model
                            .spec
                            .restart
                            .resource_stabilization_s(self.setup.scheduler),
                    );
                    self.queue.schedule(
                        self.now + wait,
                        Event::ReactiveRestart {
                            generation: self.reactive_generation,
                        },
                    );
                }
            }
        }
    }

    pub(super) fn savepoint_done(&mut self) {
        let Some(p) = self.pending_redeploy.take() else {
            return;
        };
        self.redeploy_offset = Some(self.consumed);
        self.log("savepoint_completed", String::new());
        // The operator deletes the JobManager and TaskManager pods and creates new ones.
        let tms_before = self.tm_registered;
        self.tm_registered = 0;
        self.tm_unreachable = 0;
        self.tm_warm = 0;
        self.set_config(p.config);
        self.reconfigurations += 1;
        self.restart(RestartCause::Redeploy);
        self.completed = None; // a new job: no checkpoint history
        self.deployment_started = self.now;
        let tms = self.config.task_managers();
        self.tm_target = tms;
        self.tm_starting = tms;
        let r = &self.setup.model.spec.restart;
        let (teardown_s, tm_start_s) = match r.redeploy_start_core_s {
            // Measured on the recorded redeploys (models/ysb.toml): the old TaskManagers stay
            // registered while the deployment is torn down (a time per old TaskManager), then
            // a CPU-bound start on the new TaskManagers' cores plus a time per new one.
            Some(core_s) => {
                let per_tm = r.redeploy_per_tm_s.unwrap_or(0.0);
                (
                    per_tm * tms_before as f64,
                    core_s / self.config.cpu.max(0.01) + per_tm * tms as f64,
                )
            }
            None => (0.0, r.tm_start_s),
        };
        if teardown_s > 0.0 && tms_before > 0 {
            self.tm_leaving += tms_before;
            self.queue.schedule(
                self.now + SimDuration::from_secs_f64(teardown_s),
                Event::TaskManagersLeft { count: tms_before },
            );
        }
        self.queue.schedule(
            self.now + SimDuration::from_secs_f64(teardown_s + r.jm_start_s + tm_start_s),
            Event::TaskManagersRegistered {
                count: tms,
                warm: false,
            },
        );
    }

    fn set_config(&mut self, config: JobConfig) {
        self.log("config_changed", config_text(&config));
        self.configs.push((self.now, config.clone()));
        self.config = config;
    }
}
