//! What a policy observes: the metrics and job state a real Flink deployment exposes.
//!
//! Names follow Flink's REST/metric names (busyTimeMsPerSecond, pendingRecords, ...) so that a
//! live backend fills the same struct from the REST API.

use crate::flink::JobConfig;
use crate::time::SimTime;

/// The job's state as the REST API reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobState {
    Running,
    Restarting,
    /// Being stopped with a savepoint and redeployed.
    Redeploying,
}

/// One job vertex (a chain of operators) as the REST API and its metrics show it.
#[derive(Clone, Debug, PartialEq)]
pub struct VertexObservation {
    pub name: String,
    pub parallelism: u32,
    /// Key groups / max parallelism of the vertex.
    pub max_parallelism: u32,
    pub is_source: bool,
    pub is_window: bool,
    /// Upstream vertex indices and whether the edge is all-to-all by key (HASH).
    pub inputs: Vec<(usize, bool)>,
    /// Averages over subtasks, per second of the last second.
    pub busy_time_ms_per_s: f64,
    /// The busiest subtask's busy time, ms/s (`busyTimeMsPerSecond` with `agg=max`): above the
    /// mean when partitions or key groups do not spread evenly over the subtasks.
    pub busy_time_max_ms_per_s: f64,
    pub backpressured_time_ms_per_s: f64,
    pub idle_time_ms_per_s: f64,
    /// Summed over subtasks.
    pub records_in_per_s: f64,
    pub records_out_per_s: f64,
    /// Counters since the job last started running (they reset with every restart, as Flink's
    /// task metrics do): records in/out summed over subtasks, busy and back-pressured time in
    /// ms averaged over subtasks.
    pub records_in_total: f64,
    pub records_out_total: f64,
    pub busy_time_ms_total: f64,
    pub backpressured_time_ms_total: f64,
    /// Share of the input buffers in use (`buffers.inPoolUsage`), 0..1; 0 for sources.
    pub in_pool_usage: f64,
}

/// A snapshot of everything a policy may look at.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    pub time: SimTime,
    pub job_state: JobState,
    /// When the job last became RUNNING (REST `timestamps.RUNNING`).
    pub running_since: SimTime,
    pub restarts: u32,
    pub config: JobConfig,
    pub vertices: Vec<VertexObservation>,
    pub task_managers: u32,
    pub task_slots_total: u32,
    pub task_slots_available: u32,
    /// Sum of the source's `pendingRecords` (records waiting in Kafka). The live backend adds
    /// the records in flight in the network buffers between a source and its only consumer
    /// (and leaves them out of the source's records read/out): a back-pressured source writes
    /// into the buffers in bursts (`backend::live::sample::fold_in_flight`).
    pub pending_records: f64,
    /// Partitions of the source topic (from the Kafka source's partition metrics).
    pub source_partitions: u32,
    /// The source's accumulated records in (for rates from counters).
    pub source_records_in_total: f64,
    /// Kafka consumer `records-consumed-rate`, summed (the experiments' throughput series).
    pub throughput_rps: Option<f64>,
    /// Kafka consumer `records-lag-max`, mean over source subtasks.
    pub consumer_lag: Option<f64>,
    /// The job's latency metric (mean of per-subtask p95), ms.
    pub latency_ms: Option<f64>,
    /// Mean JVM CPU load over TaskManagers (0..1).
    pub cpu_load: Option<f64>,
    /// Last completed checkpoint: completion time and duration in ms.
    pub last_checkpoint: Option<(SimTime, u64)>,
    /// Offered load per second since the previous observation (the generators' `/workload`
    /// endpoint, which Demeter's forecaster reads).
    pub workload_rps_since_last: Vec<f64>,
    /// Profiling runs that finished since the previous observation.
    pub profiles: Vec<super::profile::ProfileResult>,
}
