//! The simulated backend: the twin behind the `Backend` trait.

use super::{Backend, BackendError};
use crate::flink::{JobStatus, Twin};
use crate::policy::profile::{ProfileResult, ProfileSpec};
use crate::policy::{Action, JobState, Observation, VertexObservation};
use crate::time::SimTime;

/// Runs the twin; observations are built only from what Flink would expose.
pub struct SimBackend {
    twin: Twin,
    workload_seen_s: usize,
    profile_spec: ProfileSpec,
    /// Profiling runs started, in start order; each is reported once `finished_at` has passed.
    profiles: Vec<ProfileResult>,
    profiles_reported: usize,
}

impl SimBackend {
    pub fn new(twin: Twin) -> Self {
        SimBackend {
            twin,
            workload_seen_s: 0,
            profile_spec: ProfileSpec::default(),
            profiles: Vec::new(),
            profiles_reported: 0,
        }
    }
    pub fn twin(&self) -> &Twin {
        &self.twin
    }
    pub fn into_twin(self) -> Twin {
        self.twin
    }
    /// Every profiling run started so far (finished or not), in start order.
    pub fn profiles(&self) -> &[ProfileResult] {
        &self.profiles
    }
    pub fn into_parts(self) -> (Twin, Vec<ProfileResult>) {
        (self.twin, self.profiles)
    }
}

impl SimBackend {
    /// Profiling runs whose results became available since the last call (in start order).
    fn finished_profiles(&mut self) -> Vec<ProfileResult> {
        let now = self.twin.now();
        let mut out = Vec::new();
        while let Some(p) = self.profiles.get(self.profiles_reported) {
            if p.finished_at > now {
                break;
            }
            out.push(p.clone());
            self.profiles_reported += 1;
        }
        out
    }
}

impl Backend for SimBackend {
    fn now(&self) -> SimTime {
        self.twin.now()
    }

    fn horizon(&self) -> SimTime {
        self.twin.horizon()
    }

    fn observe(&mut self) -> Result<Observation, BackendError> {
        let t = &self.twin;
        let graph = t.graph();
        let max_par = t.model().spec.job.max_parallelism;
        let running = t.status() == JobStatus::Running;
        let vertices = graph
            .vertices
            .iter()
            .enumerate()
            .map(|(v, vx)| {
                let sec = &t.last_second()[v];
                // What Flink reports, artefacts included (a source's under-reported busy time
                // shows as idle).
                let reported = if vx.is_source {
                    t.model().spec.metrics.source_busy_reported_fraction
                } else {
                    1.0
                };
                let hidden_ms = sec.busy_ms * (1.0 - reported);
                let hidden_max_ms = sec.busy_max_ms * (1.0 - reported);
                VertexObservation {
                    name: vx.name.clone(),
                    parallelism: t.parallelism()[v],
                    max_parallelism: max_par,
                    is_source: vx.is_source,
                    is_window: vx.is_window,
                    inputs: vx
                        .inputs
                        .iter()
                        .map(|&(u, ship)| (u, ship == crate::flink::model::ShipStrategy::Hash))
                        .collect(),
                    busy_time_ms_per_s: if running {
                        sec.busy_ms - hidden_ms
                    } else {
                        0.0
                    },
                    busy_time_max_ms_per_s: if running {
                        sec.busy_max_ms - hidden_max_ms
                    } else {
                        0.0
                    },
                    backpressured_time_ms_per_s: if running { sec.backpressured_ms } else { 0.0 },
                    idle_time_ms_per_s: if running {
                        sec.idle_ms + hidden_ms
                    } else {
                        0.0
                    },
                    records_in_per_s: if running { sec.records_in } else { 0.0 },
                    records_out_per_s: if running { sec.records_out } else { 0.0 },
                    records_in_total: t.totals()[v].records_in,
                    records_out_total: t.totals()[v].records_out,
                    busy_time_ms_total: t.totals()[v].busy_ms * reported,
                    backpressured_time_ms_total: t.totals()[v].backpressured_ms,
                    in_pool_usage: t.in_pool_usage(v),
                }
            })
            .collect();
        let history = t.workload_history();
        let since = history[self.workload_seen_s.min(history.len())..].to_vec();
        self.workload_seen_s = history.len();
        let slots = t.slots_total();
        let used = if running {
            t.config().max_parallelism().min(slots)
        } else {
            0
        };
        Ok(Observation {
            time: t.now(),
            job_state: match t.status() {
                JobStatus::Running => JobState::Running,
                JobStatus::Restarting => JobState::Restarting,
                JobStatus::Redeploying => JobState::Redeploying,
            },
            running_since: t.running_since(),
            restarts: t.restarts(),
            config: t.config().clone(),
            vertices,
            task_managers: t.task_managers_registered(),
            task_slots_total: slots,
            task_slots_available: slots - used,
            pending_records: t.pending_records(),
            source_partitions: t.model().spec.kafka.partitions,
            source_records_in_total: t.records_consumed_total(),
            throughput_rps: t.throughput_rps(),
            consumer_lag: t.consumer_lag(),
            latency_ms: t.latency_ms(),
            cpu_load: t.cpu_load(),
            last_checkpoint: t.last_checkpoint().map(|(_, at, d)| (at, d.as_ms())),
            workload_rps_since_last: since,
            profiles: self.finished_profiles(),
        })
    }

    fn apply(&mut self, action: &Action) -> Result<(), BackendError> {
        match action {
            Action::Redeploy(config) => self.twin.redeploy(config.clone()),
            Action::RescaleInPlace { parallelism } => {
                self.twin.rescale_in_place(parallelism.clone())
            }
            Action::SetTaskManagers(n) => {
                self.twin.set_task_managers(*n);
                Ok(())
            }
            Action::Profile(configs) => {
                for config in configs {
                    let seed = crate::rng::derive_seed(
                        self.twin.seed(),
                        &format!("profile-{}", self.profiles.len()),
                    );
                    let result = super::profiling::run_profile(
                        &self.twin,
                        config.clone(),
                        &self.profile_spec,
                        seed,
                    );
                    self.profiles.push(result);
                }
                Ok(())
            }
            Action::SetPlacement { op_site } => self.twin.set_placement(op_site.clone()),
        }
        .map_err(BackendError::Refused)
    }

    fn advance_until(&mut self, until: SimTime) -> Result<(), BackendError> {
        self.twin.advance_until(until);
        Ok(())
    }
}
