//! One poll of the REST API (`Snapshot`) and how consecutive polls become an `Observation`:
//! rates are differences of Flink's accumulated counters between polls, never the 60-s
//! sliding `*PerSecond` gauges.

use std::collections::BTreeMap;

use super::rest::{Agg, ClusterOverview, JobDetails};
use crate::flink::JobConfig;
use crate::policy::{JobState, Observation, VertexObservation};
use crate::time::{SimDuration, SimTime};

/// The counters of one vertex in one poll (aggregated over subtasks).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VertexCounters {
    pub records_in_sum: f64,
    pub records_out_sum: f64,
    pub busy_ms_avg: f64,
    pub backpressured_ms_avg: f64,
    pub idle_ms_avg: f64,
    pub in_pool_usage_avg: f64,
    /// Source only: Σ `pendingRecords`, Σ operator `numRecordsIn`, Σ `arrivedRecords` (the
    /// test job's offered-load counter), Σ `assignedSplits`.
    pub pending: Option<f64>,
    pub source_records_in: Option<f64>,
    pub arrived: Option<f64>,
    pub splits: Option<f64>,
}

impl VertexCounters {
    /// Reads the counters out of an aggregated-metrics answer (metric ids as Flink names them;
    /// source operator metrics carry the `Source__<name>.` prefix, other operators' are ignored).
    pub fn from_agg(m: &BTreeMap<String, Agg>) -> VertexCounters {
        let sum = |k: &str| m.get(k).and_then(|a| a.sum).unwrap_or(0.0);
        let avg = |k: &str| m.get(k).and_then(|a| a.avg).unwrap_or(0.0);
        let suffix_sum = |suffix: &str| {
            let vals: Vec<f64> = m
                .iter()
                .filter(|(k, _)| k.starts_with("Source__") && k.ends_with(suffix))
                .filter_map(|(_, a)| a.sum)
                .collect();
            (!vals.is_empty()).then(|| vals.iter().sum())
        };
        VertexCounters {
            records_in_sum: sum("numRecordsIn"),
            records_out_sum: sum("numRecordsOut"),
            busy_ms_avg: avg("accumulateBusyTimeMs"),
            backpressured_ms_avg: avg("accumulateBackPressuredTimeMs"),
            idle_ms_avg: avg("accumulateIdleTimeMs"),
            in_pool_usage_avg: avg("buffers.inPoolUsage"),
            pending: suffix_sum(".pendingRecords"),
            source_records_in: suffix_sum(".numRecordsIn"),
            arrived: suffix_sum(".arrivedRecords"),
            splits: suffix_sum(".assignedSplits"),
        }
    }
}

/// Counts the records a source emitted that its consumer has not taken in yet (they sit in
/// the network buffers between the two) as the source's backlog instead of as read: the
/// source's records out become its consumer's records in, its records read shrink by the
/// same records (in read units, by the source chain's selectivity so far) and its
/// `pendingRecords` grows by them. Read + backlog (the arrivals) is unchanged.
///
/// Why (issue 6, measured on the live cluster with a TaskManager-side metric reporter beside
/// the REST polls; README "Live"): a back-pressured source writes into the network buffers in
/// bursts. Right after a rescale of RateJob's `work` to 3, 24,000 of its 8-byte records were in
/// flight (32-KB buffers until buffer debloating shrank them to ~2 KB over ~10 s), and for 7 s
/// the source emitted 2,000 records while `work` took in 18,600; in steady state ~1,500 are in
/// flight. The REST counters showed the same (1-2 s late), so the source's 1-s and 5-s rates
/// swung between ~0 and ~3,500 rec/s while the job processed 2,600 rec/s, which misled a
/// policy's selectivity (consumer in / source in) and throughput. Applied only where that
/// consumer is the source's only consumer and has no other input, so its records in all come
/// from the source; other graphs keep Flink's counters as they are.
pub fn fold_in_flight(job: &JobDetails, counters: &[VertexCounters]) -> Vec<VertexCounters> {
    let mut folded = counters.to_vec();
    for (s, v) in job.vertices.iter().enumerate() {
        if !v.inputs.is_empty() {
            continue;
        }
        let consumers: Vec<usize> = (0..job.vertices.len())
            .filter(|&w| job.vertices[w].inputs.iter().any(|&(u, _)| u == s))
            .collect();
        let [c] = consumers[..] else { continue };
        if job.vertices[c].inputs.len() != 1 {
            continue;
        }
        let (Some(src), Some(cons)) = (counters.get(s), counters.get(c)) else {
            continue;
        };
        let emitted = src.records_out_sum;
        let in_flight = (emitted - cons.records_in_sum).max(0.0);
        if in_flight <= 0.0 || emitted <= 0.0 {
            continue;
        }
        let read = src.source_records_in.unwrap_or(emitted);
        let in_flight_read = in_flight * read / emitted;
        let f = &mut folded[s];
        f.records_out_sum = emitted - in_flight;
        f.source_records_in = Some(read - in_flight_read);
        f.pending = src.pending.map(|p| p + in_flight_read);
    }
    folded
}

/// Everything one poll read.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    /// When the poll was made, on the backend's clock.
    pub at: SimTime,
    pub job: JobDetails,
    /// Per vertex, in `job.vertices` order.
    pub counters: Vec<VertexCounters>,
    pub overview: ClusterOverview,
    pub restarts: u32,
    pub cpu_load: Option<f64>,
    /// Last completed checkpoint: ack time on the backend's clock and duration (ms).
    pub last_checkpoint: Option<(SimTime, u64)>,
    pub checkpoint_interval_ms: u64,
    /// TaskManager shape from `GET /taskmanagers` (cores, process memory MB), if known.
    pub tm_shape: Option<(f64, u32)>,
}

/// Builds observations from consecutive snapshots; remembers what the rates need.
#[derive(Default)]
pub struct ObservationBuilder {
    prev: Option<Snapshot>,
    /// When the backend saw all tasks running again after they were not.
    seen_running_since: SimTime,
    was_running: bool,
    /// The stored previous poll itself moved against its predecessor: the first read after a
    /// connect or a restart can hand out values from long before (the REST metric store
    /// answers from its last fetch), so a rate needs a base that is not such a first read.
    prev_fresh: bool,
    /// `prev`'s counters as the rates use them (in-flight records folded, `fold_in_flight`).
    prev_counters: Vec<VertexCounters>,
    arrivals_since_observe: Vec<f64>,
    /// Source partitions if the job does not report them (`--source-partitions`).
    pub source_partitions_hint: u32,
}

/// The result of feeding one snapshot: the observation, and whether its rates rest on two
/// polls of the same running job (false right after a (re)start or a stale metric store).
pub struct Built {
    pub observation: Observation,
    pub rates_valid: bool,
}

impl ObservationBuilder {
    pub fn new(source_partitions_hint: u32) -> ObservationBuilder {
        ObservationBuilder {
            source_partitions_hint,
            ..Default::default()
        }
    }

    /// The offered load per second seen since the last call (drains it).
    pub fn take_arrivals(&mut self) -> Vec<f64> {
        std::mem::take(&mut self.arrivals_since_observe)
    }

    /// Feeds one snapshot. `running_ms_to_time` converts a JobManager epoch-ms stamp to the
    /// backend's time.
    pub fn feed(&mut self, snap: Snapshot, to_time: impl Fn(u64) -> SimTime) -> Built {
        let running = snap.job.all_running();
        if running && !self.was_running {
            self.seen_running_since = snap.at;
        }
        self.was_running = running;
        let rest_since = to_time(snap.job.running_ms);
        let vertex_since = snap
            .job
            .vertices
            .iter()
            .map(|v| to_time(v.start_time_ms))
            .max()
            .unwrap_or(SimTime::ZERO);
        let running_since = rest_since.max(vertex_since).max(self.seen_running_since);

        // A previous poll is usable for rates if it is of the same running job and graph, no
        // record counter went backwards (a restart resets them) and something moved (the REST
        // metric store may hand out the same old values twice). `accumulateBusyTimeMs` is no
        // counter: Flink derives it as time since the task started minus the idle and
        // backpressured timers, which grow in chunks when an interval ends, so it goes down
        // under backpressure (measured: a backpressured source 708 -> 534 ms within 1 s).
        // Taking that for a restart threw away every other poll while a source was
        // backpressured (a catch-up after every restart), and no rate was ever valid (issue 6).
        let prev_ok = self.prev.as_ref().filter(|p| {
            running
                && p.job.all_running()
                && p.job.id == snap.job.id
                && p.at < snap.at
                && p.job.vertices.len() == snap.job.vertices.len()
                && p.job
                    .vertices
                    .iter()
                    .zip(&snap.job.vertices)
                    .all(|(a, b)| a.id == b.id && a.parallelism == b.parallelism)
                && p.counters.iter().zip(&snap.counters).all(|(a, b)| {
                    b.records_out_sum >= a.records_out_sum && b.records_in_sum >= a.records_in_sum
                })
        });
        // Fold the network buffers' records into the backlog only when this poll's counters
        // are of one job attempt (a poll right after a restart can mix the old attempt's
        // counters of one vertex with the new attempt's of another).
        let counters = if prev_ok.is_some() {
            fold_in_flight(&snap.job, &snap.counters)
        } else {
            snap.counters.clone()
        };
        let moved = prev_ok.is_some_and(|p| p.counters != snap.counters);
        let prev = prev_ok.filter(|_| moved);
        let prev_counters = &self.prev_counters;
        let dt = prev.map_or(0.0, |p| snap.at.since(p.at).as_secs_f64());
        let rate = |now: f64, before: f64| {
            if dt > 0.0 {
                ((now - before) / dt).max(0.0)
            } else {
                0.0
            }
        };
        let vertices: Vec<VertexObservation> = snap
            .job
            .vertices
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let c = counters.get(i).cloned().unwrap_or_default();
                let p = prev.and_then(|_| prev_counters.get(i)).cloned();
                let is_source = v.inputs.is_empty();
                let src_in = |c: &VertexCounters| c.source_records_in.unwrap_or(c.records_out_sum);
                let records_in_total = if is_source {
                    src_in(&c)
                } else {
                    c.records_in_sum
                };
                let (bus, bp, idle, rin, rout) = match &p {
                    Some(p) => (
                        rate(c.busy_ms_avg, p.busy_ms_avg).min(1000.0),
                        rate(c.backpressured_ms_avg, p.backpressured_ms_avg).min(1000.0),
                        rate(c.idle_ms_avg, p.idle_ms_avg).min(1000.0),
                        if is_source {
                            rate(src_in(&c), src_in(p))
                        } else {
                            rate(c.records_in_sum, p.records_in_sum)
                        },
                        rate(c.records_out_sum, p.records_out_sum),
                    ),
                    None => (0.0, 0.0, 0.0, 0.0, 0.0),
                };
                VertexObservation {
                    name: v.name.clone(),
                    parallelism: v.parallelism,
                    max_parallelism: v.max_parallelism,
                    is_source,
                    is_window: v.name.contains("Window"),
                    inputs: v.inputs.clone(),
                    busy_time_ms_per_s: bus,
                    // The accumulated counters give the mean only; no skew is assumed.
                    busy_time_max_ms_per_s: bus,
                    backpressured_time_ms_per_s: bp,
                    idle_time_ms_per_s: idle,
                    records_in_per_s: rin,
                    records_out_per_s: rout,
                    records_in_total,
                    records_out_total: c.records_out_sum,
                    busy_time_ms_total: c.busy_ms_avg,
                    backpressured_time_ms_total: c.backpressured_ms_avg,
                    in_pool_usage: if is_source { 0.0 } else { c.in_pool_usage_avg },
                }
            })
            .collect();
        let sources = || {
            vertices
                .iter()
                .zip(&counters)
                .filter(|(v, _)| v.is_source)
                .map(|(_, c)| c)
        };
        // A fold from +0: `sum` of no values is -0.0, which the decision log printed as "-0".
        let pending: f64 = sources().filter_map(|c| c.pending).fold(0.0, |a, p| a + p);
        let splits: f64 = sources().filter_map(|c| c.splits).sum();
        let source_partitions = if splits >= 1.0 {
            splits as u32
        } else {
            self.source_partitions_hint
        };
        let source_in_total: f64 = vertices
            .iter()
            .filter(|v| v.is_source)
            .map(|v| v.records_in_total)
            .sum();
        let throughput: f64 = vertices
            .iter()
            .filter(|v| v.is_source)
            .map(|v| v.records_in_per_s)
            .sum();
        if let Some(p) = prev {
            let a_now: Option<f64> = sources().map(|c| c.arrived).sum();
            let a_before: Option<f64> = p
                .counters
                .iter()
                .zip(&p.job.vertices)
                .filter(|(_, v)| v.inputs.is_empty())
                .map(|(c, _)| c.arrived)
                .sum();
            if let (Some(n), Some(b)) = (a_now, a_before) {
                self.arrivals_since_observe.push(rate(n, b));
            }
        }
        let (cpu, memory_mb) = snap.tm_shape.unwrap_or((1.0, 1024));
        let max_p = vertices.iter().map(|v| v.parallelism).max().unwrap_or(1);
        let task_slots = snap
            .overview
            .slots_total
            .checked_div(snap.overview.task_managers)
            .unwrap_or(1)
            .max(1);
        let config = JobConfig {
            scale_out: max_p,
            task_slots,
            cpu,
            memory_mb,
            checkpoint_interval: SimDuration::from_ms(snap.checkpoint_interval_ms),
            parallelism_overrides: vertices.iter().map(|v| Some(v.parallelism)).collect(),
        };
        let job_state = if running {
            JobState::Running
        } else {
            JobState::Restarting
        };
        let rates_valid = prev.is_some() && self.prev_fresh;
        let observation = Observation {
            time: snap.at,
            job_state,
            running_since,
            restarts: snap.restarts,
            config,
            vertices,
            task_managers: snap.overview.task_managers,
            task_slots_total: snap.overview.slots_total,
            task_slots_available: snap.overview.slots_available,
            pending_records: pending,
            source_partitions,
            source_records_in_total: source_in_total,
            throughput_rps: running.then_some(throughput),
            consumer_lag: running.then(|| pending / f64::from(source_partitions.max(1))),
            latency_ms: None,
            cpu_load: snap.cpu_load,
            last_checkpoint: snap.last_checkpoint,
            workload_rps_since_last: vec![],
            profiles: Vec::new(),
        };
        // Keep the older base when nothing moved, so the next rate spans a real interval.
        let keep_old = running
            && self
                .prev
                .as_ref()
                .is_some_and(|p| p.counters == snap.counters);
        if !keep_old {
            self.prev_fresh = moved;
            self.prev = Some(snap);
            self.prev_counters = counters;
        }
        Built {
            observation,
            rates_valid,
        }
    }
}
