//! Test support for policies: hand-built observations (unit tests only).

use super::{JobState, Observation, VertexObservation};
use crate::flink::JobConfig;
use crate::time::{SimDuration, SimTime};

/// A running job at `t_s` seconds on 10 TaskManagers x 1 slot, with no vertices and quiet
/// metrics; tests set the fields they look at.
pub fn observation(t_s: u64) -> Observation {
    Observation {
        profiles: vec![],
        time: SimTime::from_secs(t_s),
        job_state: JobState::Running,
        running_since: SimTime::ZERO,
        restarts: 0,
        config: JobConfig {
            scale_out: 10,
            task_slots: 1,
            cpu: 1.0,
            memory_mb: 4096,
            checkpoint_interval: SimDuration::from_secs(10),
            parallelism_overrides: vec![],
        },
        vertices: vec![],
        task_managers: 10,
        task_slots_total: 10,
        task_slots_available: 0,
        pending_records: 0.0,
        source_partitions: 24,
        source_records_in_total: 0.0,
        throughput_rps: None,
        consumer_lag: None,
        latency_ms: Some(1000.0),
        cpu_load: Some(0.3),
        last_checkpoint: None,
        workload_rps_since_last: vec![],
    }
}

/// A vertex with parallelism `p` processing `records_in_per_s` while busy `busy` (0..1) of
/// the time, with `in_pool_usage` of its input buffers filled.
pub fn vertex(
    name: &str,
    p: u32,
    is_source: bool,
    is_window: bool,
    records_in_per_s: f64,
    busy: f64,
    in_pool_usage: f64,
) -> VertexObservation {
    VertexObservation {
        name: name.to_string(),
        parallelism: p,
        max_parallelism: 128,
        is_source,
        is_window,
        inputs: vec![],
        busy_time_ms_per_s: busy * 1000.0,
        busy_time_max_ms_per_s: busy * 1000.0,
        backpressured_time_ms_per_s: 0.0,
        idle_time_ms_per_s: (1.0 - busy) * 1000.0,
        records_in_per_s,
        records_out_per_s: records_in_per_s,
        records_in_total: 0.0,
        records_out_total: 0.0,
        busy_time_ms_total: 0.0,
        backpressured_time_ms_total: 0.0,
        in_pool_usage,
    }
}
