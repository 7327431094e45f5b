//! Job models: the parameter file of one Flink job (`models/*.toml`), parsed and validated.
//!
//! A job model says what the job is (operators, chaining, selectivities, per-record costs) and how
//! it behaves on a cluster (capacity versus CPU and memory per slot, latency floor, Kafka metric
//! semantics, checkpoint cost, restart phases, CPU load). Every number in a model file carries its
//! source in a comment next to it. `JobModelSpec` is the file as written (unknown keys rejected);
//! `JobModel` is the checked form the twin runs on.

use serde::{Deserialize, Serialize};

use crate::flink::config::SchedulerMode;
use crate::scenario::SpecError;

/// What an operator does; decides how it shows up in the graph and in the latency metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OperatorKind {
    Source,
    Map,
    Filter,
    FlatMap,
    Window,
    Sink,
}

/// How records travel from an operator's input to it (Flink's ship strategy).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ShipStrategy {
    /// One-to-one; chainable when parallelism matches.
    #[default]
    Forward,
    /// keyBy: all-to-all by key hash.
    Hash,
    /// Round robin, all-to-all.
    Rebalance,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorSpec {
    pub name: String,
    pub kind: OperatorKind,
    /// CPU time per input record on a reference core (speed 1.0) with one full core per slot.
    pub cost_us: f64,
    /// Output records per input record.
    #[serde(default = "one")]
    pub selectivity: f64,
    /// Upstream operators; empty means "the previous operator in the list" (none for a source).
    #[serde(default)]
    pub inputs: Vec<String>,
    #[serde(default)]
    pub ship: ShipStrategy,
    /// Residence time a record spends in a window before it is emitted (window operators).
    #[serde(default)]
    pub window_residence_ms: f64,
    /// Keyed state held per subtask (checkpointed, restored on restart).
    #[serde(default)]
    pub state_mb: f64,
    /// Serialized bytes of one output record on the wire (edge placement: WAN bytes); absent =
    /// `job.record_bytes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_record_bytes: Option<f64>,
}

fn one() -> f64 {
    1.0
}

impl OperatorSpec {
    /// Indices of this operator's inputs (`i` is its index in `ops`): the named inputs, else
    /// the previous operator, none for a source.
    pub fn inputs_or_previous(&self, i: usize, ops: &[OperatorSpec]) -> Vec<usize> {
        if self.kind == OperatorKind::Source {
            vec![]
        } else if self.inputs.is_empty() {
            vec![i - 1]
        } else {
            self.inputs
                .iter()
                .filter_map(|n| ops.iter().position(|o| &o.name == n))
                .collect()
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JobSection {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Flink operator chaining (`pipeline.operator-chaining`).
    pub chaining: bool,
    /// Serialized bytes per record on the network (sizes in-flight buffers).
    pub record_bytes: f64,
    /// Max parallelism (key groups), the upper bound of any vertex's parallelism.
    pub max_parallelism: u32,
    /// CPU time per record for serialization + deserialization across a network (unchained) edge.
    #[serde(default)]
    pub network_cost_us: f64,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LatencySpec {
    /// Latency of a record that does not wait anywhere (the metric's floor).
    pub floor_ms: f64,
    /// Standard deviation of the per-second metric around its modelled value.
    pub jitter_ms: f64,
    /// The operator whose histogram the metric reads; queues up to its vertex count.
    pub measured_at: String,
    /// The job subtracts window residence from the measured latency (YSB does).
    #[serde(default)]
    pub excludes_window_residence: bool,
    /// The metric is a per-subtask reservoir's p95 of samples taken behind a window
    /// (`flink::latency_metric`); absent: the delay of the record read now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservoir: Option<ReservoirSpec>,
}

/// `[latency.reservoir]`: how the measuring operator's histogram is fed (see
/// `flink::latency_metric`).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReservoirSpec {
    /// Samples each subtask's reservoir keeps (Dropwizard `SlidingWindowReservoir(size)`).
    pub samples: f64,
    /// Event time between the newest record read and the newest record in a fired window
    /// result (the watermark's bounded out-of-orderness; 0 when results fire on arrival).
    #[serde(default)]
    pub watermark_delay_s: f64,
    /// Window results are emitted at multiples of this much event time (0: any time).
    #[serde(default)]
    pub slide_s: f64,
    /// Event time the records of one window result span at most (window or evictor length).
    pub span_s: f64,
    /// Keys the window operator counts per (e.g. YSB's campaigns): one result carries one
    /// key's records. Absent: the reservoir spans `span_s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<f64>,
    /// Seconds before processing resumes after a restart during which the operators are open
    /// and their empty reservoirs read 0 (absent: the whole deployment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empty_s: Option<f64>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSpec {
    /// Partitions of the input topic; caps the useful source parallelism.
    pub partitions: u32,
    /// Steady-state per-partition lag in seconds of that partition's rate (fetch pipelining).
    pub fetch_lag_s: f64,
    /// Kafka client metrics: `metrics.sample.window.ms` (s) and `metrics.num.samples`.
    pub metric_sample_window_s: f64,
    pub metric_samples: u32,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CapacitySpec {
    /// CPU share per slot at which `cost_us` was measured.
    pub reference_cpu_per_slot: f64,
    /// A subtask is one thread plus helpers: CPU per slot (after the TaskManager overhead)
    /// beyond this does not help.
    pub max_cpu_per_subtask: f64,
    /// Cores of every TaskManager taken by its JVM, GC, network and client threads, whatever
    /// its slots do: the slots share the rest. Default 0. Capacity per subtask scales with
    /// (cpu - overhead) / slots, relative to `reference_cpu_per_slot` - overhead.
    #[serde(default)]
    pub tm_overhead_cores: f64,
    /// A TaskManager with n slots does n^-exponent of what n one-slot TaskManagers with the
    /// same usable cores each would (per-slot Kafka clients, RocksDB instances, task threads
    /// and GC on shared cores). Default 0: slots scale perfectly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot_efficiency_exponent: Option<f64>,
    /// Memory per slot below which throughput degrades (state caches, buffers, GC).
    pub memory_working_set_mb: f64,
    /// Throughput factor = (memory per slot / working set)^exponent below the working set.
    pub memory_exponent: f64,
    /// Universal-scalability contention: per-subtask efficiency = 1 / (1 + sigma (p - 1)).
    pub scaling_contention: f64,
    /// Whole-unit assignment: Kafka partitions (sources) and key groups (keyed inputs) go to
    /// subtasks whole, so at a parallelism that does not divide their count the subtasks with
    /// ceil(N / p) units saturate first and the vertex sustains only N / ceil(N / p) subtasks'
    /// worth; the busiest subtask's busy time is reported as the max. Default false: on the
    /// recorded Reactive YSB runs (13-23 TaskManagers much of the time) it lengthened the
    /// simulated recovery from 169 s to 190 s (recorded 160 s), so the recorded containers
    /// evidently did not saturate that way (CPU bursting above 1 core is one explanation).
    #[serde(default)]
    pub whole_unit_assignment: bool,
    /// Subtasks sharing a slot share its cores (`flink::colocation`): with one slot-sharing
    /// group slot i runs subtask i of every vertex with parallelism > i, so a vertex at low
    /// parallelism shares the first slots' cores with the other vertices' subtasks. Default
    /// false: the costs were fitted without it (on Static every slot runs one subtask of each
    /// vertex, so the fit absorbed the sharing there).
    #[serde(default)]
    pub slot_sharing_cpu: bool,
    /// Background garbage collection against the JVM heap Flink's memory model leaves.
    /// Absent: no GC term (capacity and CPU load do not depend on the heap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gc: Option<GcSpec>,
}

/// Background garbage collection against the JVM heap Flink's memory model leaves
/// (`flink::memory`): a TaskManager whose heap is H MB spends `cores_heap_mb / H` cores
/// collecting whatever its load (the fit says load-independent; why is not in the traces:
/// plausibly metrics, Kafka clients and the framework allocating steadily into a heap that
/// small). Those cores are taken from its slots and show in its CPU load. The reference containers' share is in the fitted costs and idle load, so only the
/// difference to them counts.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GcSpec {
    /// Background GC cores x JVM heap MB.
    pub cores_heap_mb: f64,
    /// Process size (MB) of the TaskManagers the per-record costs were fitted on.
    pub reference_process_mb: f64,
}

impl GcSpec {
    /// Background GC cores of a TaskManager with `process_mb` beyond the reference's
    /// (negative for a larger heap than the reference's).
    pub fn background_cores(&self, process_mb: f64) -> f64 {
        use crate::flink::memory::TaskManagerMemory;
        let cores =
            |mb: f64| self.cores_heap_mb / TaskManagerMemory::from_process_mb(mb).jvm_heap_mb();
        cores(process_mb) - cores(self.reference_process_mb)
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointSpec {
    /// Time from trigger to completion with no state and no backpressure.
    pub duration_base_ms: f64,
    /// Upload bandwidth to the checkpoint store per subtask (incremental state / duration).
    pub upload_mb_per_s: f64,
    /// Share of state uploaded per checkpoint (RocksDB incremental checkpoints).
    pub incremental_fraction: f64,
    /// Capacity lost while a snapshot is being taken (async part included).
    pub overhead_fraction: f64,
    /// `execution.checkpointing.timeout`.
    pub timeout_s: f64,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RestartSpec {
    /// `heartbeat.timeout` and `heartbeat.interval`: a lost TaskManager is declared dead
    /// timeout minus U(0, interval) after its last heartbeat.
    pub heartbeat_timeout_s: f64,
    pub heartbeat_interval_s: f64,
    /// Delay of the fixed-delay restart strategy.
    pub restart_delay_s: f64,
    /// From slots available to processing (task deployment, state restore start, source init):
    /// drawn uniformly in [min, max] per restart.
    pub deploy_min_s: f64,
    pub deploy_max_s: f64,
    /// From slots available to processing when every slot the new attempt takes is on a
    /// TaskManager that ran the previous attempt and stayed reachable (a reactive or in-place
    /// scale-down, a reactive failover onto the survivors): no JVM, class loading or connection
    /// set-up to wait for. Unset: such restarts take the `deploy_min_s`..`deploy_max_s` window too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy_warm_s: Option<f64>,
    /// Reactive mode (a standalone deployment): the share of TaskManagers cut off by a network
    /// delay that re-register `reactive_rejoin_late_s` after the delay ends instead of at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reactive_rejoin_late_fraction: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reactive_rejoin_late_s: Option<f64>,
    /// Reactive mode: a TaskManager back from a network delay kept its JVM (the job's classes
    /// and code are loaded, its connections come back), so the restart that adds it deploys in
    /// `deploy_warm_s` like a scale-down. False (the default): it deploys in the cold window.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reactive_rejoin_warm: bool,
    /// Outside reactive mode, a job restarted after a network-delay failure sometimes fails
    /// again shortly after it resumed (unset: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second_failover: Option<SecondFailoverSpec>,
    /// After a failover, the source tasks (little state to restore) start reading this long
    /// before processing resumes downstream: their Kafka consumers' metrics start then, and
    /// what they read waits in the network buffers of the vertices still restoring. Capped by
    /// the deployment itself (it cannot start before the slots are there). Unset: 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_lead_s: Option<f64>,
    /// State restore bandwidth per subtask.
    pub restore_mb_per_s: f64,
    /// Time for a new TaskManager pod to start and register.
    pub tm_start_s: f64,
    /// Stop-with-savepoint: fixed part of taking the savepoint.
    pub savepoint_base_s: f64,
    /// Redeploy: JobManager start + job submission on top of TaskManager start.
    pub jm_start_s: f64,
    /// Redeploy start-up as measured on recorded redeploys, replacing `tm_start_s` there when
    /// set: CPU-bound work (JobManager and TaskManager JVMs, job submission, state restore,
    /// cold start) in core-seconds, done on each new TaskManager's `cpu` cores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redeploy_start_core_s: Option<f64>,
    /// Redeploy: seconds per TaskManager of the old deployment (its teardown) and of the new
    /// one (pod creation, registration, task deployment), with `redeploy_start_core_s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redeploy_per_tm_s: Option<f64>,
    /// `jobmanager.adaptive-scheduler.resource-stabilization-timeout`: how long the adaptive
    /// scheduler waits for more resources once it has enough. Unset: Flink's default for the
    /// scheduler mode, see [`RestartSpec::resource_stabilization_s`].
    #[serde(
        default,
        rename = "resource_stabilization_s",
        skip_serializing_if = "Option::is_none"
    )]
    pub resource_stabilization_override_s: Option<f64>,
}

/// `[restart.second_failover]`: the restarted attempt fails once more `after_resume_s` after
/// processing resumed, and processing resumes again `outage_s` after that second failure.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SecondFailoverSpec {
    /// Per network-delay failure, outside reactive mode.
    pub probability: f64,
    pub after_resume_s: f64,
    pub outage_s: f64,
}

impl RestartSpec {
    /// The resource-stabilization timeout in effect under `scheduler`: the model's value, else
    /// Flink's default, 0 in reactive mode (docs "Elastic Scaling", FLINK-21136: every
    /// TaskManager that connects or leaves restarts the job at once; the recorded reactive35
    /// YSB runs restart 0-1 s after the TaskManager count moves) and 10 s otherwise.
    pub fn resource_stabilization_s(&self, scheduler: SchedulerMode) -> f64 {
        self.resource_stabilization_override_s
            .unwrap_or(match scheduler {
                SchedulerMode::Reactive => 0.0,
                SchedulerMode::Default | SchedulerMode::Adaptive => 10.0,
            })
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CpuLoadSpec {
    /// Cores an idle TaskManager's JVM uses (its background threads); the load it reports is
    /// this over the container's cores, so on 1-core TaskManagers it is the idle load (0..1).
    pub idle: f64,
    /// Added JVM CPU load per fully busy subtask per container core, for a subtask in a
    /// reference slot; a subtask whose slot gives it k times those cores counts k times.
    pub per_busy_subtask: f64,
}

/// Metric artefacts of the Flink version the job ran on.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSpec {
    /// Share of a source task's true busy time that `busyTimeMsPerSecond` reports; the rest
    /// shows as idle. 1.0 = correct. Flink before the fix discussed in FLINK-33306 under-reported
    /// source busy time when the Kafka reader/fetchers were the bottleneck.
    pub source_busy_reported_fraction: f64,
}

impl Default for MetricsSpec {
    fn default() -> Self {
        MetricsSpec {
            source_busy_reported_fraction: 1.0,
        }
    }
}

/// A job model file as written.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JobModelSpec {
    pub job: JobSection,
    pub operators: Vec<OperatorSpec>,
    pub latency: LatencySpec,
    pub kafka: KafkaSpec,
    pub capacity: CapacitySpec,
    pub checkpoint: CheckpointSpec,
    pub restart: RestartSpec,
    pub cpu_load: CpuLoadSpec,
    /// How the Flink version the job ran on reported metrics (defaults: correctly).
    #[serde(default)]
    pub metrics: MetricsSpec,
    /// Written by `demeter-sim calibrate`: which run the model was fitted on and the loss.
    #[serde(default)]
    pub calibration: Option<toml::Table>,
}

/// A checked job model.
#[derive(Clone, Debug)]
pub struct JobModel {
    pub spec: JobModelSpec,
}

impl JobModel {
    /// Checks every field; `file` names the model file in errors.
    pub fn from_spec(spec: JobModelSpec, file: &str) -> Result<JobModel, SpecError> {
        let err = |key: &str, expected: &str, found: String| SpecError::Invalid {
            file: file.to_string(),
            key: key.to_string(),
            expected: expected.to_string(),
            found,
        };
        if spec.operators.is_empty() {
            return Err(err("operators", "at least one operator", "none".into()));
        }
        if spec.operators[0].kind != OperatorKind::Source {
            return Err(err(
                "operators[0].kind",
                "\"source\" (the first operator reads Kafka)",
                format!("{:?}", spec.operators[0].kind),
            ));
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, op) in spec.operators.iter().enumerate() {
            if !names.insert(op.name.as_str()) {
                return Err(err(
                    &format!("operators[{i}].name"),
                    "a unique operator name",
                    format!("duplicate {:?}", op.name),
                ));
            }
            positive(&format!("operators[{i}].cost_us"), op.cost_us, 1e7, file)?;
            non_negative(
                &format!("operators[{i}].selectivity"),
                op.selectivity,
                1e6,
                file,
            )?;
            non_negative(
                &format!("operators[{i}].window_residence_ms"),
                op.window_residence_ms,
                1e8,
                file,
            )?;
            non_negative(&format!("operators[{i}].state_mb"), op.state_mb, 1e7, file)?;
            if let Some(b) = op.out_record_bytes {
                positive(&format!("operators[{i}].out_record_bytes"), b, 1e9, file)?;
            }
            for input in &op.inputs {
                if !spec.operators[..i].iter().any(|o| &o.name == input) {
                    return Err(err(
                        &format!("operators[{i}].inputs"),
                        "names of operators listed before this one",
                        format!("{input:?}"),
                    ));
                }
            }
        }
        if !spec
            .operators
            .iter()
            .any(|o| o.name == spec.latency.measured_at)
        {
            return Err(err(
                "latency.measured_at",
                "the name of an operator",
                format!("{:?}", spec.latency.measured_at),
            ));
        }
        positive("job.record_bytes", spec.job.record_bytes, 1e9, file)?;
        non_negative("job.network_cost_us", spec.job.network_cost_us, 1e7, file)?;
        if spec.job.max_parallelism == 0 || spec.job.max_parallelism > 32_768 {
            return Err(err(
                "job.max_parallelism",
                "an integer in 1..=32768",
                spec.job.max_parallelism.to_string(),
            ));
        }
        non_negative("latency.floor_ms", spec.latency.floor_ms, 1e7, file)?;
        non_negative("latency.jitter_ms", spec.latency.jitter_ms, 1e7, file)?;
        if let Some(r) = &spec.latency.reservoir {
            positive("latency.reservoir.samples", r.samples, 1e9, file)?;
            non_negative(
                "latency.reservoir.watermark_delay_s",
                r.watermark_delay_s,
                3600.0,
                file,
            )?;
            non_negative("latency.reservoir.slide_s", r.slide_s, 3600.0, file)?;
            positive("latency.reservoir.span_s", r.span_s, 3600.0, file)?;
            if let Some(k) = r.keys {
                positive("latency.reservoir.keys", k, 1e9, file)?;
            }
            if let Some(e) = r.empty_s {
                non_negative("latency.reservoir.empty_s", e, 3600.0, file)?;
            }
        }
        if spec.kafka.partitions == 0 || spec.kafka.partitions > 100_000 {
            return Err(err(
                "kafka.partitions",
                "an integer in 1..=100000",
                spec.kafka.partitions.to_string(),
            ));
        }
        non_negative("kafka.fetch_lag_s", spec.kafka.fetch_lag_s, 3600.0, file)?;
        positive(
            "kafka.metric_sample_window_s",
            spec.kafka.metric_sample_window_s,
            3600.0,
            file,
        )?;
        if spec.kafka.metric_samples == 0 || spec.kafka.metric_samples > 100 {
            return Err(err(
                "kafka.metric_samples",
                "an integer in 1..=100",
                spec.kafka.metric_samples.to_string(),
            ));
        }
        let c = &spec.capacity;
        positive(
            "capacity.reference_cpu_per_slot",
            c.reference_cpu_per_slot,
            256.0,
            file,
        )?;
        positive(
            "capacity.max_cpu_per_subtask",
            c.max_cpu_per_subtask,
            256.0,
            file,
        )?;
        if let Some(v) = c.slot_efficiency_exponent {
            non_negative("capacity.slot_efficiency_exponent", v, 2.0, file)?;
        }
        if !(c.tm_overhead_cores >= 0.0 && c.tm_overhead_cores < c.reference_cpu_per_slot) {
            return Err(err(
                "capacity.tm_overhead_cores",
                "a number of cores >= 0 and below capacity.reference_cpu_per_slot",
                c.tm_overhead_cores.to_string(),
            ));
        }
        positive(
            "capacity.memory_working_set_mb",
            c.memory_working_set_mb,
            1e7,
            file,
        )?;
        non_negative("capacity.memory_exponent", c.memory_exponent, 10.0, file)?;
        if let Some(gc) = &c.gc {
            non_negative("capacity.gc.cores_heap_mb", gc.cores_heap_mb, 1e5, file)?;
            let min = crate::flink::memory::min_process_mb();
            if !(gc.reference_process_mb.is_finite()
                && gc.reference_process_mb >= min
                && gc.reference_process_mb <= 1_048_576.0)
            {
                return Err(err(
                    "capacity.gc.reference_process_mb",
                    &format!(
                        "a process size in MB between {min:.1} (the least Flink's default memory model starts) and 1048576"
                    ),
                    gc.reference_process_mb.to_string(),
                ));
            }
        }
        non_negative(
            "capacity.scaling_contention",
            c.scaling_contention,
            1.0,
            file,
        )?;
        let k = &spec.checkpoint;
        non_negative("checkpoint.duration_base_ms", k.duration_base_ms, 1e7, file)?;
        positive("checkpoint.upload_mb_per_s", k.upload_mb_per_s, 1e6, file)?;
        fraction(
            "checkpoint.incremental_fraction",
            k.incremental_fraction,
            file,
        )?;
        fraction("checkpoint.overhead_fraction", k.overhead_fraction, file)?;
        positive("checkpoint.timeout_s", k.timeout_s, 1e6, file)?;
        let r = &spec.restart;
        positive(
            "restart.heartbeat_timeout_s",
            r.heartbeat_timeout_s,
            3600.0,
            file,
        )?;
        non_negative(
            "restart.heartbeat_interval_s",
            r.heartbeat_interval_s,
            r.heartbeat_timeout_s,
            file,
        )?;
        non_negative("restart.restart_delay_s", r.restart_delay_s, 3600.0, file)?;
        non_negative("restart.deploy_min_s", r.deploy_min_s, 3600.0, file)?;
        if r.deploy_max_s < r.deploy_min_s || r.deploy_max_s > 3600.0 {
            return Err(err(
                "restart.deploy_max_s",
                "a number of seconds >= restart.deploy_min_s and <= 3600",
                r.deploy_max_s.to_string(),
            ));
        }
        if let Some(v) = r.deploy_warm_s {
            if !(0.0..=r.deploy_max_s).contains(&v) {
                return Err(err(
                    "restart.deploy_warm_s",
                    "a number of seconds >= 0 and <= restart.deploy_max_s (a warm restart is not slower than a cold one)",
                    v.to_string(),
                ));
            }
        }
        if let Some(v) = r.source_lead_s {
            if !(0.0..=r.deploy_max_s).contains(&v) {
                return Err(err(
                    "restart.source_lead_s",
                    "a number of seconds >= 0 and <= restart.deploy_max_s (the source cannot read before its slots are there)",
                    v.to_string(),
                ));
            }
        }
        if let Some(v) = r.reactive_rejoin_late_fraction {
            fraction("restart.reactive_rejoin_late_fraction", v, file)?;
        }
        if let Some(v) = r.reactive_rejoin_late_s {
            non_negative("restart.reactive_rejoin_late_s", v, 3600.0, file)?;
        }
        if r.reactive_rejoin_late_fraction.is_some() != r.reactive_rejoin_late_s.is_some() {
            return Err(err(
                "restart.reactive_rejoin_late_fraction",
                "restart.reactive_rejoin_late_s set as well (both or neither)",
                "only one of the two set".to_string(),
            ));
        }
        if let Some(sf) = &r.second_failover {
            fraction("restart.second_failover.probability", sf.probability, file)?;
            non_negative(
                "restart.second_failover.after_resume_s",
                sf.after_resume_s,
                3600.0,
                file,
            )?;
            positive(
                "restart.second_failover.outage_s",
                sf.outage_s,
                3600.0,
                file,
            )?;
        }
        positive("restart.restore_mb_per_s", r.restore_mb_per_s, 1e6, file)?;
        non_negative("restart.tm_start_s", r.tm_start_s, 3600.0, file)?;
        non_negative("restart.savepoint_base_s", r.savepoint_base_s, 3600.0, file)?;
        non_negative("restart.jm_start_s", r.jm_start_s, 3600.0, file)?;
        if let Some(v) = r.redeploy_start_core_s {
            non_negative("restart.redeploy_start_core_s", v, 3600.0, file)?;
        }
        if let Some(v) = r.redeploy_per_tm_s {
            non_negative("restart.redeploy_per_tm_s", v, 60.0, file)?;
        }
        if r.redeploy_per_tm_s.is_some() && r.redeploy_start_core_s.is_none() {
            return Err(err(
                "restart.redeploy_per_tm_s",
                "restart.redeploy_start_core_s set as well (the per-TaskManager time adds to it)",
                "redeploy_start_core_s missing".to_string(),
            ));
        }
        if let Some(v) = r.resource_stabilization_override_s {
            non_negative("restart.resource_stabilization_s", v, 3600.0, file)?;
        }
        fraction("cpu_load.idle", spec.cpu_load.idle, file)?;
        fraction(
            "metrics.source_busy_reported_fraction",
            spec.metrics.source_busy_reported_fraction,
            file,
        )?;
        non_negative(
            "cpu_load.per_busy_subtask",
            spec.cpu_load.per_busy_subtask,
            1.0,
            file,
        )?;
        Ok(JobModel { spec })
    }

    pub fn name(&self) -> &str {
        &self.spec.job.name
    }

    /// Records reaching the first window operator per record read: the product of the
    /// selectivities of the operators before it (1 without a window).
    pub fn window_input_fraction(&self) -> f64 {
        self.spec
            .operators
            .iter()
            .take_while(|o| o.kind != OperatorKind::Window)
            .map(|o| o.selectivity)
            .product()
    }

    /// The reservoir parameters of `[latency.reservoir]` in milliseconds, if the model has them.
    pub fn reservoir_params(&self) -> Option<crate::flink::latency_metric::ReservoirParams> {
        self.spec.latency.reservoir.as_ref().map(|r| {
            crate::flink::latency_metric::ReservoirParams {
                samples: r.samples,
                watermark_delay_ms: r.watermark_delay_s * 1000.0,
                slide_ms: r.slide_s * 1000.0,
                span_ms: r.span_s * 1000.0,
                keys: r.keys,
                window_input_fraction: self.window_input_fraction(),
            }
        })
    }
}

fn check(key: &str, v: f64, ok: bool, expected: String, file: &str) -> Result<(), SpecError> {
    if ok {
        Ok(())
    } else {
        Err(SpecError::Invalid {
            file: file.to_string(),
            key: key.to_string(),
            expected,
            found: v.to_string(),
        })
    }
}

pub(crate) fn positive(key: &str, v: f64, max: f64, file: &str) -> Result<(), SpecError> {
    check(
        key,
        v,
        v.is_finite() && v > 0.0 && v <= max,
        format!("a number > 0 and <= {max}"),
        file,
    )
}

pub(crate) fn non_negative(key: &str, v: f64, max: f64, file: &str) -> Result<(), SpecError> {
    check(
        key,
        v,
        v.is_finite() && v >= 0.0 && v <= max,
        format!("a number >= 0 and <= {max}"),
        file,
    )
}

pub(crate) fn fraction(key: &str, v: f64, file: &str) -> Result<(), SpecError> {
    check(
        key,
        v,
        v.is_finite() && (0.0..=1.0).contains(&v),
        "a fraction in 0..=1".into(),
        file,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ysb_spec() -> JobModelSpec {
        let text = include_str!("../../models/ysb.toml");
        toml::from_str(text).unwrap()
    }

    #[test]
    fn reservoir_parameters_are_checked_and_converted() {
        let model = JobModel::from_spec(ysb_spec(), "m.toml").unwrap();
        let p = model
            .reservoir_params()
            .expect("ysb has [latency.reservoir]");
        assert_eq!(p.samples, 500.0);
        assert_eq!(p.watermark_delay_ms, 10_000.0);
        // Only views reach the window: the filter keeps a third.
        assert!((p.window_input_fraction - 0.3333).abs() < 1e-12);
        let mut spec = ysb_spec();
        spec.latency.reservoir.as_mut().unwrap().samples = 0.0;
        let e = JobModel::from_spec(spec, "m.toml").unwrap_err().to_string();
        assert!(
            e.contains("m.toml") && e.contains("latency.reservoir.samples"),
            "{e}"
        );
        let mut spec = ysb_spec();
        spec.latency.reservoir.as_mut().unwrap().keys = Some(-1.0);
        let e = JobModel::from_spec(spec, "m.toml").unwrap_err().to_string();
        assert!(e.contains("latency.reservoir.keys"), "{e}");
        let mut spec = ysb_spec();
        spec.latency.reservoir = None;
        let model = JobModel::from_spec(spec, "m.toml").unwrap();
        assert!(model.reservoir_params().is_none());
    }

    #[test]
    fn redeploy_start_parameters_are_checked() {
        let mut spec = ysb_spec();
        spec.restart.redeploy_start_core_s = None;
        let e = JobModel::from_spec(spec, "m.toml").unwrap_err().to_string();
        assert!(e.contains("restart.redeploy_per_tm_s"), "{e}");
        let mut spec = ysb_spec();
        spec.restart.redeploy_per_tm_s = Some(-1.0);
        let e = JobModel::from_spec(spec, "m.toml").unwrap_err().to_string();
        assert!(e.contains("restart.redeploy_per_tm_s"), "{e}");
        let mut spec = ysb_spec();
        spec.restart.redeploy_start_core_s = None;
        spec.restart.redeploy_per_tm_s = None;
        assert!(JobModel::from_spec(spec, "m.toml").is_ok(), "both optional");
    }

    #[test]
    fn gc_parameters_are_checked_and_optional() {
        let mut spec = ysb_spec();
        spec.capacity
            .gc
            .as_mut()
            .expect("ysb models GC")
            .cores_heap_mb = -1.0;
        let e = JobModel::from_spec(spec, "m.toml").unwrap_err().to_string();
        assert!(e.contains("capacity.gc.cores_heap_mb"), "{e}");
        let mut spec = ysb_spec();
        spec.capacity.gc.as_mut().unwrap().reference_process_mb = 512.0;
        let e = JobModel::from_spec(spec, "m.toml").unwrap_err().to_string();
        assert!(
            e.contains("capacity.gc.reference_process_mb") && e.contains("981"),
            "{e}"
        );
        let mut spec = ysb_spec();
        spec.capacity.gc = None;
        assert!(JobModel::from_spec(spec, "m.toml").is_ok(), "optional");
    }

    #[test]
    fn source_lead_is_checked_against_the_deploy_window() {
        let mut spec = ysb_spec();
        spec.restart.source_lead_s = Some(spec.restart.deploy_max_s + 0.5);
        let e = JobModel::from_spec(spec, "m.toml").unwrap_err().to_string();
        assert!(
            e.contains("restart.source_lead_s") && e.contains("m.toml"),
            "{e}"
        );
        let mut spec = ysb_spec();
        spec.restart.source_lead_s = Some(-1.0);
        assert!(JobModel::from_spec(spec, "m.toml").is_err());
        let mut spec = ysb_spec();
        spec.restart.source_lead_s = Some(f64::NAN);
        assert!(JobModel::from_spec(spec, "m.toml").is_err());
        let mut spec = ysb_spec();
        spec.restart.source_lead_s = Some(spec.restart.deploy_max_s);
        assert!(JobModel::from_spec(spec, "m.toml").is_ok());
    }

    #[test]
    fn warm_deploy_and_stabilisation_are_checked_and_default_per_scheduler() {
        let mut spec = ysb_spec();
        spec.restart.deploy_warm_s = Some(spec.restart.deploy_max_s + 1.0);
        let e = JobModel::from_spec(spec, "m.toml").unwrap_err().to_string();
        assert!(
            e.contains("restart.deploy_warm_s") && e.contains("m.toml"),
            "{e}"
        );
        let mut spec = ysb_spec();
        spec.restart.deploy_warm_s = Some(f64::NAN);
        assert!(JobModel::from_spec(spec, "m.toml").is_err());
        let mut spec = ysb_spec();
        spec.restart.resource_stabilization_override_s = Some(-1.0);
        let e = JobModel::from_spec(spec, "m.toml").unwrap_err().to_string();
        assert!(e.contains("restart.resource_stabilization_s"), "{e}");
        let mut r = ysb_spec().restart;
        r.resource_stabilization_override_s = None;
        assert_eq!(r.resource_stabilization_s(SchedulerMode::Reactive), 0.0);
        assert_eq!(r.resource_stabilization_s(SchedulerMode::Adaptive), 10.0);
        r.resource_stabilization_override_s = Some(2.5);
        assert_eq!(r.resource_stabilization_s(SchedulerMode::Reactive), 2.5);
        let mut spec = ysb_spec();
        spec.restart.reactive_rejoin_late_fraction = Some(1.5);
        let e = JobModel::from_spec(spec, "m.toml").unwrap_err().to_string();
        assert!(e.contains("restart.reactive_rejoin_late_fraction"), "{e}");
        let mut spec = ysb_spec();
        spec.restart.reactive_rejoin_late_s = None;
        let e = JobModel::from_spec(spec, "m.toml").unwrap_err().to_string();
        assert!(e.contains("both or neither"), "{e}");
    }

    #[test]
    fn second_failover_is_checked_and_optional() {
        let sf = ysb_spec()
            .restart
            .second_failover
            .expect("ysb has [restart.second_failover]");
        assert!(sf.probability > 0.0 && sf.probability < 0.1, "{sf:?}");
        let mut spec = ysb_spec();
        spec.restart.second_failover.as_mut().unwrap().probability = 1.2;
        let e = JobModel::from_spec(spec, "m.toml").unwrap_err().to_string();
        assert!(
            e.contains("m.toml") && e.contains("restart.second_failover.probability"),
            "{e}"
        );
        let mut spec = ysb_spec();
        spec.restart.second_failover.as_mut().unwrap().outage_s = 0.0;
        let e = JobModel::from_spec(spec, "m.toml").unwrap_err().to_string();
        assert!(e.contains("restart.second_failover.outage_s"), "{e}");
        let mut spec = ysb_spec();
        spec.restart
            .second_failover
            .as_mut()
            .unwrap()
            .after_resume_s = f64::NAN;
        let e = JobModel::from_spec(spec, "m.toml").unwrap_err().to_string();
        assert!(e.contains("restart.second_failover.after_resume_s"), "{e}");
        let text = include_str!("../../models/ysb.toml")
            .replace("outage_s = 24.4", "outage_s = 24.4\nwhen = 3");
        let e = toml::from_str::<JobModelSpec>(&text)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `when`"), "{e}");
        let mut spec = ysb_spec();
        spec.restart.second_failover = None;
        assert!(JobModel::from_spec(spec, "m.toml").is_ok(), "optional");
    }
}
