//! The twin: one Flink job on a cluster, advanced by fluid ticks between discrete events.
//!
//! Between events, records move as rates: Kafka accumulates the offered load, the source reads
//! what the job can take, each vertex processes what its capacity and its downstream buffers
//! allow (backpressure), and per-second metrics are emitted the way Flink, Kafka and Prometheus
//! showed them in the recorded experiments. Discrete events (checkpoints, failures, heartbeat
//! timeouts, TaskManager registration, restarts, reconfigurations) change the job's state at
//! exact instants. Nothing here does I/O or reads a wall clock.

use std::collections::VecDeque;

use rand::Rng;
use rand_distr::{Distribution, Normal};

use super::colocation;
use super::config::{JobConfig, SchedulerMode};
use super::edge::{EdgeState, EnergyTotals};
use super::failure::{FailureKind, FailurePlan, SecondFailover};
use super::graph::JobGraph;
use super::kafka_metrics::SampledStat;
use super::latency_metric::LatencyReservoir;
use super::model::{JobModel, ShipStrategy};
use crate::cluster::EdgeSetup;
use crate::engine::EventQueue;
use crate::rng::{stream, SimRng};
use crate::runfolder::Series;
use crate::time::{SimDuration, SimTime};

/// Flink's network buffer defaults: 32 KiB segments, 2 exclusive buffers per channel, 8 floating
/// buffers per input gate (`taskmanager.memory.segment-size`, `...network.memory.buffers-per-channel`,
/// `...floating-buffers-per-gate`).
const SEGMENT_BYTES: f64 = 32_768.0;
const BUFFERS_PER_CHANNEL: f64 = 2.0;
const FLOATING_BUFFERS_PER_GATE: f64 = 8.0;

/// Everything fixed for one run.
pub struct TwinSetup {
    pub model: JobModel,
    pub config: JobConfig,
    pub scheduler: SchedulerMode,
    /// Relative speed of the nodes the TaskManagers run on (cloud server = 1.0).
    pub node_speed: f64,
    /// Offered load per simulated second (already scaled and with noise).
    pub workload_rps: Vec<f64>,
    pub tick: SimDuration,
    pub horizon: SimTime,
    pub failures: Option<FailurePlan>,
    pub seed: u64,
    /// Epoch second of simulated time zero (for the run folder's timestamps).
    pub start_epoch: i64,
}

/// Whether the job is processing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobStatus {
    Running,
    /// Failed over or rescaling: tasks cancelled, waiting for slots or deploying.
    Restarting,
    /// Stopped with a savepoint, being redeployed with a new configuration.
    Redeploying,
}

/// How a restart was caused; decides whether records are replayed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RestartCause {
    Failover,
    InPlaceRescale,
    ReactiveRescale,
    Redeploy,
    /// A new placement: rescheduled from the latest checkpoint.
    Placement,
}

#[derive(Clone, Debug)]
enum Event {
    CheckpointTrigger {
        attempt: u64,
    },
    CheckpointComplete {
        attempt: u64,
        id: u64,
    },
    CheckpointTimeout {
        attempt: u64,
        id: u64,
    },
    FailureDue {
        index: usize,
    },
    FailureInject {
        index: usize,
    },
    TaskManagerLost {
        count: u32,
        fatal: bool,
    },
    TaskManagersRegistered {
        count: u32,
    },
    TaskManagersLeft {
        count: u32,
    },
    Resume {
        attempt: u64,
    },
    /// The attempt restarted after failure `index` fails once more (`[restart.second_failover]`).
    SecondFailover {
        attempt: u64,
        index: usize,
    },
    SavepointDone {
        attempt: u64,
    },
    ReactiveRestart {
        generation: u64,
    },
    LinkUp {
        link: usize,
        outage: u64,
    },
    LinkHeartbeatCheck {
        link: usize,
        outage: u64,
    },
}

/// One line of `events.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct EventRecord {
    pub time: SimTime,
    pub kind: &'static str,
    pub detail: String,
}

/// Per-vertex Flink metrics over the last completed second.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VertexSecond {
    /// Mean over the vertex's subtasks.
    pub busy_ms: f64,
    /// The busiest subtask's (Flink's `busyTimeMsPerSecond` aggregated with `max`).
    pub busy_max_ms: f64,
    /// Mean over subtasks of the time they ran on a core (busy time minus the time a
    /// subtask sharing its slot's cores waited for them; equal to `busy_ms` without
    /// `slot_sharing_cpu`): what the JVM CPU load sees.
    pub on_cpu_ms: f64,
    pub backpressured_ms: f64,
    pub idle_ms: f64,
    pub records_in: f64,
    pub records_out: f64,
}

/// The six recorded series plus what the run folder needs.
#[derive(Clone, Debug, Default)]
pub struct TwinSeries {
    pub latency_ms: Series,
    pub throughput_rps: Series,
    pub consumer_lag: Series,
    pub cpu_load: Series,
    pub task_managers: Series,
    pub task_slots: Series,
    pub workload_rps: Series,
}

#[derive(Clone, Copy, Debug)]
struct CompletedCheckpoint {
    id: u64,
    offset: f64,
    completed_at: SimTime,
    duration: SimDuration,
}

#[derive(Clone, Copy, Debug)]
struct PendingCheckpoint {
    id: u64,
    offset: f64,
    triggered_at: SimTime,
}

/// A configuration change waiting for the current restart to finish.
#[derive(Clone, Debug)]
struct PendingRedeploy {
    config: JobConfig,
}

/// The twin's state.
pub struct Twin {
    setup: TwinSetup,
    graph: JobGraph,
    queue: EventQueue<Event>,
    now: SimTime,
    config: JobConfig,
    /// Parallelism each vertex runs with now.
    parallelism: Vec<u32>,
    status: JobStatus,
    attempt: u64,
    running_since: SimTime,
    /// When the current deployment (job id) started: checkpoint history is per deployment.
    deployment_started: SimTime,
    restarts: u32,
    reconfigurations: u32,

    // TaskManagers.
    tm_registered: u32,
    /// Registered TaskManagers that are unreachable (network delay) but not yet declared lost.
    tm_unreachable: u32,
    /// TaskManager pods the cluster should run (native deployments, HPA replica count).
    tm_target: u32,
    tm_starting: u32,
    /// TaskManagers of the previous deployment still registered while a redeploy tears it
    /// down (counted in the TaskManager series, no slots for the job).
    tm_leaving: u32,
    /// Registered TaskManagers that were up when the job last turned RUNNING: a restart whose
    /// slots all lie on them deploys in `deploy_warm_s` (no new JVM to start up).
    tm_warm: u32,
    reactive_generation: u64,

    // Kafka and the fluid state.
    produced: f64,
    consumed: f64,
    arrivals: VecDeque<(u64, f64)>,
    queued: Vec<f64>,
    buffer_capacity: Vec<f64>,
    base_capacity_rps: Vec<f64>,
    /// Per vertex: the hottest subtask's share of the records over the mean share (>= 1).
    load_skew: Vec<f64>,
    /// `[capacity] slot_sharing_cpu`: one uncontended subtask's capacity per vertex (rec/s),
    /// the slot's cores in units of what one subtask can use, and each vertex's per-subtask
    /// demand in the last tick (share of that capacity), which sets the next tick's sharing.
    per_subtask_rps: Vec<f64>,
    slot_budget: f64,
    slot_demand: Vec<f64>,
    /// Scratch for this tick's [`colocation::Share`]s (reused: no allocation per tick).
    slot_shares: Vec<colocation::Share>,
    on_latency_path: Vec<bool>,
    /// The recorded latency metric's reservoirs (models with `[latency.reservoir]`).
    reservoir: Option<LatencyReservoir>,
    /// Queueing (ms) up to the measuring point over the last second, for the records read now.
    extra_latency_ms: f64,
    waiting_for_slots: bool,
    /// When the tasks being deployed got their slots (processing has not resumed yet): from
    /// then the operators' metrics exist and an empty reservoir reads 0.
    deploying_since: Option<SimTime>,
    /// A failed-over attempt's source tasks read from then on while the rest of the job still
    /// restores (`[restart] source_lead_s`).
    source_reads_from: Option<SimTime>,
    /// The leading source's Kafka consumers exist (their metrics started with them).
    consumers_started: bool,
    resume_not_before: SimTime,

    // Checkpoints.
    next_checkpoint_id: u64,
    pending_checkpoint: Option<PendingCheckpoint>,
    completed: Option<CompletedCheckpoint>,
    pending_redeploy: Option<PendingRedeploy>,
    redeploy_offset: Option<f64>,

    // Failures.
    due: Vec<SimTime>,
    failures_injected: Vec<SimTime>,
    failures_skipped: u32,

    // Metrics.
    rate_stat: SampledStat,
    lag_stat: SampledStat,
    second_acc: Vec<VertexSecond>,
    /// Per-vertex counters since the job last started running (Flink's task counters reset
    /// with every restart).
    totals: Vec<VertexSecond>,
    last_second: Vec<VertexSecond>,
    last_latency_ms: Option<f64>,
    last_throughput_rps: Option<f64>,
    last_lag: Option<f64>,
    last_cpu_load: Option<f64>,
    series: TwinSeries,
    events: Vec<EventRecord>,
    configs: Vec<(SimTime, JobConfig)>,

    scratch: Vec<f64>,
    rng_failures: SimRng,
    rng_restart: SimRng,
    /// Whether a failure is followed by a second failover: its own stream, so that models
    /// without `[restart.second_failover]` draw exactly what they drew before it existed.
    rng_second_failover: SimRng,
    /// The injected failure whose restarted attempt fails again once it has resumed.
    second_failover_due: Option<usize>,
    /// What caused the restart in progress (or the last one).
    last_restart_cause: Option<RestartCause>,
    /// The restart in progress resumes no earlier than this (a second failover's outage).
    resume_at_least: SimTime,
    rng_checkpoint: SimRng,
    rng_metrics: SimRng,
    jitter: Normal<f64>,

    // Edge placement and energy (src/flink/edge.rs).
    edge: EdgeState,
    /// Per link: the outage in progress (counter) and when it ends.
    link_outage: Vec<(u64, SimTime)>,
    outages: u64,
    /// A restart may not resume before this (a WAN link the job needs is down).
    hold_until: SimTime,
    sink_total: f64,
}

impl Twin {
    /// Builds the twin and deploys the job at time zero (running from the start, as the
    /// recorded runs are: their window begins once the job is up).
    pub fn new(setup: TwinSetup) -> Twin {
        Twin::with_edge(setup, EdgeSetup::default())
    }

    /// Builds the twin on a heterogeneous cluster (sites, WAN links, a placement) and with the
    /// energy model of `edge`. `EdgeSetup::default()` is exactly [`Twin::new`].
    pub fn with_edge(setup: TwinSetup, edge: EdgeSetup) -> Twin {
        let chaining = edge.chaining.unwrap_or(setup.model.spec.job.chaining);
        let graph = if edge.is_heterogeneous() || edge.chaining.is_some() {
            JobGraph::build_placed(&setup.model, chaining, Some(&edge.chain_keys()))
        } else {
            JobGraph::build(&setup.model)
        };
        let edge_state = EdgeState::new(edge, &graph, setup.node_speed);
        let links = edge_state.setup.links.len();
        let mut rng_failures = stream(setup.seed, "failures");
        let due = setup
            .failures
            .as_ref()
            .map(|p| p.due_times(setup.horizon, &mut rng_failures))
            .unwrap_or_default();
        let kafka = &setup.model.spec.kafka;
        let jitter_ms = setup.model.spec.latency.jitter_ms;
        let n = graph.len();
        let on_latency_path = latency_path(&graph);
        let reservoir = setup
            .model
            .reservoir_params()
            .map(|p| LatencyReservoir::new(p, setup.workload_rps.first().copied().unwrap_or(0.0)));
        let config = setup.config.clone();
        let tm = config.task_managers();
        let mut twin = Twin {
            rate_stat: SampledStat::rate(kafka.metric_sample_window_s, kafka.metric_samples),
            lag_stat: SampledStat::max(kafka.metric_sample_window_s, kafka.metric_samples),
            graph,
            queue: EventQueue::new(),
            now: SimTime::ZERO,
            parallelism: vec![0; n],
            status: JobStatus::Running,
            attempt: 0,
            running_since: SimTime::ZERO,
            deployment_started: SimTime::ZERO,
            restarts: 0,
            reconfigurations: 0,
            tm_registered: tm,
            tm_unreachable: 0,
            tm_target: tm,
            tm_starting: 0,
            tm_leaving: 0,
            tm_warm: tm,
            reactive_generation: 0,
            produced: 0.0,
            consumed: 0.0,
            arrivals: VecDeque::from([(0, 0.0)]),
            queued: vec![0.0; n],
            buffer_capacity: vec![0.0; n],
            base_capacity_rps: vec![0.0; n],
            load_skew: vec![1.0; n],
            per_subtask_rps: vec![0.0; n],
            slot_budget: 1.0,
            slot_demand: vec![0.0; n],
            slot_shares: Vec::with_capacity(n),
            on_latency_path,
            reservoir,
            extra_latency_ms: 0.0,
            waiting_for_slots: false,
            deploying_since: None,
            source_reads_from: None,
            consumers_started: false,
            resume_not_before: SimTime::ZERO,
            next_checkpoint_id: 1,
            pending_checkpoint: None,
            completed: None,
            pending_redeploy: None,
            redeploy_offset: None,
            due,
            failures_injected: Vec::new(),
            failures_skipped: 0,
            second_acc: vec![VertexSecond::default(); n],
            totals: vec![VertexSecond::default(); n],
            last_second: vec![VertexSecond::default(); n],
            last_latency_ms: None,
            last_throughput_rps: None,
            last_lag: None,
            last_cpu_load: None,
            series: TwinSeries::default(),
            events: Vec::new(),
            configs: vec![(SimTime::ZERO, config.clone())],
            config,
            rng_failures,
            scratch: Vec::new(),
            rng_restart: stream(setup.seed, "restart"),
            rng_second_failover: stream(setup.seed, "second_failover"),
            second_failover_due: None,
            last_restart_cause: None,
            resume_at_least: SimTime::ZERO,
            rng_checkpoint: stream(setup.seed, "checkpoint"),
            rng_metrics: stream(setup.seed, "metrics"),
            jitter: Normal::new(0.0, jitter_ms).expect("validated jitter"),
            edge: edge_state,
            link_outage: vec![(0, SimTime::ZERO); links],
            outages: 0,
            hold_until: SimTime::ZERO,
            sink_total: 0.0,
            setup,
        };
        twin.apply_parallelism();
        for (i, t) in twin.due.clone().into_iter().enumerate() {
            twin.queue.schedule(t, Event::FailureDue { index: i });
        }
        twin.start_checkpoint_scheduler();
        twin.log(
            "job_running",
            format!("parallelism {}", twin.parallelism_text()),
        );
        twin
    }

    // ----- read access (what a backend may turn into an observation) -----

    pub fn now(&self) -> SimTime {
        self.now
    }
    pub fn horizon(&self) -> SimTime {
        self.setup.horizon
    }
    pub fn graph(&self) -> &JobGraph {
        &self.graph
    }
    pub fn model(&self) -> &JobModel {
        &self.setup.model
    }
    pub fn config(&self) -> &JobConfig {
        &self.config
    }
    pub fn scheduler(&self) -> SchedulerMode {
        self.setup.scheduler
    }
    pub fn status(&self) -> JobStatus {
        self.status
    }
    pub fn running_since(&self) -> SimTime {
        self.running_since
    }
    pub fn restarts(&self) -> u32 {
        self.restarts
    }
    pub fn reconfigurations(&self) -> u32 {
        self.reconfigurations
    }
    pub fn parallelism(&self) -> &[u32] {
        &self.parallelism
    }
    pub fn task_managers_registered(&self) -> u32 {
        self.tm_registered
    }
    pub fn task_managers_target(&self) -> u32 {
        self.tm_target
    }
    pub fn slots_total(&self) -> u32 {
        self.tm_registered * self.config.task_slots
    }
    /// Records in Kafka not yet read by the job (Flink's `pendingRecords`, summed).
    pub fn pending_records(&self) -> f64 {
        (self.produced - self.consumed).max(0.0)
    }
    /// Records read by the source so far (its accumulated `numRecordsIn`).
    pub fn records_consumed_total(&self) -> f64 {
        self.consumed
    }
    pub fn last_second(&self) -> &[VertexSecond] {
        &self.last_second
    }
    /// Per-vertex counters accumulated since the job last started running.
    pub fn totals(&self) -> &[VertexSecond] {
        &self.totals
    }
    /// Share of vertex `v`'s in-flight input buffers in use (Flink's `inPoolUsage`), 0..1.
    pub fn in_pool_usage(&self, v: usize) -> f64 {
        let cap = self.buffer_capacity[v];
        if cap > 0.0 {
            (self.queued[v] / cap).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }
    pub fn latency_ms(&self) -> Option<f64> {
        self.last_latency_ms
    }
    pub fn throughput_rps(&self) -> Option<f64> {
        self.last_throughput_rps
    }
    pub fn consumer_lag(&self) -> Option<f64> {
        self.last_lag
    }
    pub fn cpu_load(&self) -> Option<f64> {
        self.last_cpu_load
    }
    /// Offered load in the current second.
    pub fn workload_rps(&self) -> f64 {
        self.rate_at(self.now)
    }
    /// The recorded workload so far (what Demeter reads from the generators).
    pub fn workload_history(&self) -> &[f64] {
        let s = (self.now.as_secs() as usize).min(self.setup.workload_rps.len());
        &self.setup.workload_rps[..s]
    }
    pub fn last_checkpoint(&self) -> Option<(u64, SimTime, SimDuration)> {
        self.completed.map(|c| (c.id, c.completed_at, c.duration))
    }
    pub fn failures_injected(&self) -> &[SimTime] {
        &self.failures_injected
    }
    pub fn failures_skipped(&self) -> u32 {
        self.failures_skipped
    }
    pub fn events(&self) -> &[EventRecord] {
        &self.events
    }
    pub fn series(&self) -> &TwinSeries {
        &self.series
    }
    pub fn config_timeline(&self) -> &[(SimTime, JobConfig)] {
        &self.configs
    }
    pub fn start_epoch(&self) -> i64 {
        self.setup.start_epoch
    }
    pub fn seed(&self) -> u64 {
        self.setup.seed
    }

    /// A fresh twin of the same job on the same cluster, reading the same input stream from
    /// the latest offset (no backlog) from now on, for at most `horizon`: a profiling job.
    pub fn child(
        &self,
        config: JobConfig,
        horizon: SimDuration,
        failures: Option<FailurePlan>,
        seed: u64,
    ) -> Twin {
        self.child_from(self.now, config, horizon, failures, seed)
    }

    /// [`Twin::child`] starting at `at` of this twin's workload instead of now (a recorded
    /// profile replayed at its own time, `calibrate::profiles`).
    pub fn child_from(
        &self,
        at: SimTime,
        config: JobConfig,
        horizon: SimDuration,
        failures: Option<FailurePlan>,
        seed: u64,
    ) -> Twin {
        let from = (at.as_secs() as usize).min(self.setup.workload_rps.len());
        let to = (from + (horizon.as_ms() / 1000) as usize).min(self.setup.workload_rps.len());
        Twin::new(TwinSetup {
            model: self.setup.model.clone(),
            config,
            scheduler: SchedulerMode::Default,
            node_speed: self.setup.node_speed,
            workload_rps: self.setup.workload_rps[from..to].to_vec(),
            tick: self.setup.tick,
            horizon: SimTime::from_secs((to - from).max(1) as u64),
            failures,
            seed,
            start_epoch: self.setup.start_epoch + from as i64,
        })
    }

    /// Edge placement and energy state: sites, links, queues, joules.
    pub fn edge(&self) -> &EdgeState {
        &self.edge
    }
    /// Energy used so far (nodes by class, WAN).
    pub fn energy(&self) -> &EnergyTotals {
        &self.edge.totals
    }
    /// Records that reached each sink vertex (no outputs) since the start, summed over sinks.
    pub fn sink_records_total(&self) -> f64 {
        self.sink_total
    }

    // ----- edge placement -----

    /// Changes the site of every operator (all its subtasks; per-subtask plans are dropped).
    /// In Flink a new placement needs the job rescheduled (the flink-placement custom
    /// scheduler places subtasks when the job is scheduled; edge_energy.md §A1: "else restart
    /// with the new placement"): the job restarts from its latest completed checkpoint —
    /// downtime (restart delay, deployment, state restore) plus the replay of everything read
    /// since that checkpoint. TaskManagers stay. Refused without sites, while not running, or
    /// for a placement that names unknown sites.
    pub fn set_placement(&mut self, op_site: Vec<usize>) -> Result<(), String> {
        if !self.edge.setup.is_heterogeneous() {
            return Err("placement needs [[cluster.sites]] in the scenario".into());
        }
        if self.status != JobStatus::Running {
            return Err(format!("job is {:?}, not running", self.status));
        }
        if self.pending_redeploy.is_some() {
            return Err("a redeploy is in progress".into());
        }
        let ops = self.setup.model.spec.operators.len();
        let sites = self.edge.setup.sites.len();
        if op_site.len() != ops || op_site.iter().any(|&s| s >= sites) {
            return Err(format!(
                "expected {ops} site indices < {sites}, got {op_site:?}"
            ));
        }
        self.rebuild_for_placement(op_site);
        self.reconfigurations += 1;
        self.restart(RestartCause::Placement);
        Ok(())
    }

    /// Rebuilds the graph and every per-vertex array for a new placement (during a redeploy).
    fn rebuild_for_placement(&mut self, op_site: Vec<usize>) {
        let mut setup = self.edge.setup.clone();
        setup.op_site = op_site;
        setup.op_plan.clear();
        let chaining = setup.chaining.unwrap_or(self.setup.model.spec.job.chaining);
        let graph = JobGraph::build_placed(&self.setup.model, chaining, Some(&setup.chain_keys()));
        let totals = self.edge.totals.clone();
        let power = std::mem::take(&mut self.edge.power_w);
        let link_up = self.edge.link_up.clone();
        self.edge = EdgeState::new(setup, &graph, self.setup.node_speed);
        self.edge.totals = totals;
        self.edge.power_w = power;
        self.edge.link_up = link_up;
        let n = graph.len();
        if n != self.graph.len() {
            // Per-vertex overrides no longer name the same vertices.
            self.config.parallelism_overrides.clear();
        }
        self.on_latency_path = latency_path(&graph);
        self.graph = graph;
        self.parallelism = vec![0; n];
        self.queued = vec![0.0; n];
        self.buffer_capacity = vec![0.0; n];
        self.base_capacity_rps = vec![0.0; n];
        self.load_skew = vec![1.0; n];
        self.per_subtask_rps = vec![0.0; n];
        self.slot_demand = vec![0.0; n];
        self.second_acc = vec![VertexSecond::default(); n];
        self.totals = vec![VertexSecond::default(); n];
        self.last_second = vec![VertexSecond::default(); n];
        let text = self
            .edge
            .setup
            .op_site
            .iter()
            .map(|&s| self.edge.setup.sites[s].name.as_str())
            .collect::<Vec<_>>()
            .join(",");
        self.log("placement_changed", text);
        self.apply_parallelism();
    }

    /// Powered nodes of the homogeneous twin: enough for the TaskManagers' cores, at least
    /// the scenario's `node_count`.
    fn homogeneous_nodes(&self) -> u32 {
        let tms = self.tm_registered.max(self.tm_target) as f64;
        let cores = self.edge.setup.energy_node.cores.max(1) as f64;
        let needed = (tms * self.config.cpu / cores).ceil() as u32;
        needed.max(self.edge.setup.node_count.unwrap_or(0))
    }

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
                Event::TaskManagersRegistered { count: add },
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

    // ----- running -----

    /// Advances to `until` (clamped to the horizon), processing every due event.
    pub fn advance_until(&mut self, until: SimTime) {
        let until = until.min(self.setup.horizon);
        while self.now < until {
            while let Some((_, ev)) = self.queue.pop_due(self.now) {
                self.handle(ev);
            }
            // Fluid step to the next tick boundary, event or second boundary, whichever is first.
            let tick_end = SimTime::from_ms(
                (self.now.as_ms() / self.setup.tick.as_ms() + 1) * self.setup.tick.as_ms(),
            );
            let second_end = SimTime::from_secs(self.now.as_secs() + 1);
            let mut next = tick_end.min(second_end).min(until);
            if let Some(t) = self.queue.peek_time() {
                next = next.min(t.max(self.now));
            }
            if next > self.now {
                self.step(next.since(self.now));
                self.now = next;
                if self.now.as_ms() % 1000 == 0 {
                    self.end_of_second();
                }
            }
        }
        while let Some((_, ev)) = self.queue.pop_due(self.now) {
            self.handle(ev);
        }
    }

    fn rate_at(&self, t: SimTime) -> f64 {
        let s = t.as_secs() as usize;
        self.setup.workload_rps.get(s).copied().unwrap_or(0.0)
    }

    /// One fluid step of length `dt` within a single second.
    fn step(&mut self, dt: SimDuration) {
        let dt_s = dt.as_secs_f64();
        let arriving = self.rate_at(self.now) * dt_s;
        self.produced += arriving;
        let end_ms = self.now.as_ms() + dt.as_ms();
        self.arrivals.push_back((end_ms, self.produced));
        if let Some(r) = self.reservoir.as_mut() {
            if end_ms % 1000 == 0 {
                r.arrival_boundary(end_ms as f64, self.produced);
            }
        }
        let consumed_before = self.consumed;

        let n = self.graph.len();
        // Scratch buffers live in the twin so the hot loop does not allocate.
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        scratch.resize(4 * n, 0.0);
        let (max_process, rest) = scratch.split_at_mut(n);
        let (accept, rest) = rest.split_at_mut(n);
        let (inflow, processed) = rest.split_at_mut(n);
        let leading = self.source_leading();
        if leading && !self.consumers_started {
            // The restarted source tasks create new Kafka consumers, whose metrics start empty.
            self.consumers_started = true;
            self.rate_stat.reset();
            self.lag_stat.reset();
        }
        let running = self.status == JobStatus::Running || leading;
        if running {
            let checkpointing = self.pending_checkpoint.is_some();
            let overhead = if checkpointing {
                1.0 - self.setup.model.spec.checkpoint.overhead_fraction
            } else {
                1.0
            };
            let reachable = if self.tm_registered == 0 {
                0.0
            } else {
                1.0 - self.tm_unreachable as f64 / self.tm_registered as f64
            };
            let cores_per_subtask = (self.config.cpu / self.config.task_slots as f64)
                .min(self.setup.model.spec.capacity.max_cpu_per_subtask);
            // Subtasks sharing a slot share its cores, as they used them in the last tick.
            let mut slot_shares = std::mem::take(&mut self.slot_shares);
            let shared = self.setup.model.spec.capacity.slot_sharing_cpu;
            if shared {
                colocation::shares_into(
                    &self.parallelism,
                    &self.slot_demand,
                    self.slot_budget,
                    &mut slot_shares,
                );
            }
            let shares = &slot_shares;
            let share = |v: usize| {
                if shared {
                    shares[v].capacity_factor
                } else {
                    1.0
                }
            };
            let busy_factor = |v: usize| {
                if shared {
                    shares[v].mean_busy_factor
                } else {
                    1.0
                }
            };
            // Reverse pass: how much each vertex may process given downstream room.
            for v in (0..n).rev() {
                let cap = self.base_capacity_rps[v] * share(v) * overhead * reachable * dt_s;
                let room = if self.edge.has_crossings() {
                    let mut room = f64::INFINITY;
                    for (k, &c) in self.graph.outputs[v].iter().enumerate() {
                        room = room.min(self.edge.admit(v, k, accept[c], dt_s));
                    }
                    room
                } else {
                    self.graph.outputs[v]
                        .iter()
                        .map(|&c| accept[c])
                        .fold(f64::INFINITY, f64::min)
                };
                let sel = self.graph.vertices[v].selectivity;
                let by_room = if sel > 0.0 { room / sel } else { f64::INFINITY };
                max_process[v] = cap.min(by_room).max(0.0);
                if leading && !self.graph.vertices[v].is_source {
                    // Still restoring: what the source reads waits in this vertex's buffers.
                    max_process[v] = 0.0;
                }
                if v == 0 && self.edge.ingest.is_some() {
                    max_process[v] = max_process[v].min(self.edge.ingest_cap(dt_s));
                }
                accept[v] = (self.buffer_capacity[v] - self.queued[v]).max(0.0) + max_process[v];
            }
            // Forward pass: move records.
            for v in 0..n {
                let available = if self.graph.vertices[v].is_source {
                    self.produced - self.consumed
                } else {
                    self.queued[v] + inflow[v]
                };
                let done = available.min(max_process[v]).max(0.0);
                if self.graph.vertices[v].is_source {
                    self.consumed += done;
                    self.edge.ingested(done);
                } else {
                    self.queued[v] = available - done;
                }
                processed[v] = done;
                let out = done * self.graph.vertices[v].selectivity;
                let cap = self.base_capacity_rps[v] * share(v) * overhead * reachable * dt_s;
                if self.edge.has_crossings() {
                    let wanted = available.min(cap) * self.graph.vertices[v].selectivity;
                    for (k, &c) in self.graph.outputs[v].iter().enumerate() {
                        inflow[c] += self.edge.send(v, k, out, wanted);
                    }
                } else {
                    for &c in &self.graph.outputs[v] {
                        inflow[c] += out;
                    }
                }
                if self.graph.outputs[v].is_empty() {
                    self.sink_total += done;
                }
                let acc = &mut self.second_acc[v];
                acc.records_in += done;
                acc.records_out += out;
                let dt_ms = dt_s * 1000.0;
                if cap > 0.0 {
                    // `cap` is what the hottest (whole-unit assignment) or slowest (edge
                    // placement) subtask allows: its busy fraction is the max reported.
                    let busy_max = (done / cap).min(1.0);
                    // The load, spread over the subtasks' units, is `load_skew` times less;
                    // subtasks in less contended slots take less wall-clock time for it.
                    let busy = busy_max / self.load_skew[v] * busy_factor(v);
                    self.edge.add_busy(v, busy, cores_per_subtask, dt_s);
                    let want = available.min(cap);
                    let bp = ((want - done) / cap).clamp(0.0, 1.0 - busy_max) / self.load_skew[v]
                        * busy_factor(v);
                    // Reported busy time is the mean over subtasks: faster subtasks on faster
                    // nodes are busy for less of the second than the slowest one.
                    let busy_mean = busy * self.edge.busy_mean[v];
                    acc.busy_ms += busy_mean * dt_ms;
                    acc.on_cpu_ms += busy_mean / busy_factor(v) * share(v) * dt_ms;
                    acc.busy_max_ms += busy_max * dt_ms;
                    acc.backpressured_ms += bp * dt_ms;
                    acc.idle_ms += (1.0 - busy_mean - bp) * dt_ms;
                } else {
                    acc.idle_ms += dt_ms;
                }
            }
            if shared {
                for (v, &done) in processed.iter().enumerate() {
                    let full = self.parallelism[v] as f64 * self.per_subtask_rps[v] * dt_s;
                    self.slot_demand[v] = if full > 0.0 { done / full } else { 0.0 };
                }
            }
            self.slot_shares = slot_shares;
            let read = processed[0];
            if let Some(r) = self.reservoir.as_mut() {
                let t0 = self.now.as_ms() as f64;
                r.read(
                    consumed_before,
                    self.consumed,
                    t0,
                    end_ms as f64,
                    self.extra_latency_ms,
                );
            }
            self.rate_stat.record(self.now + dt, read);
            let partitions = self.effective_partitions() as f64;
            let per_partition_lag = self.pending_records() / partitions
                + self.setup.model.spec.kafka.fetch_lag_s * read / dt_s / partitions;
            self.lag_stat.record(self.now + dt, per_partition_lag);
        } else {
            self.slot_demand.iter_mut().for_each(|d| *d = 0.0);
        }
        self.scratch = scratch;
        self.edge.end_tick(dt_s);
        let nodes = self.homogeneous_nodes();
        self.edge.charge_tick(dt_s, nodes);
        self.trim_arrivals();
    }

    /// A failed-over attempt whose source reads ahead of the restoring rest of the job.
    fn source_leading(&self) -> bool {
        self.status != JobStatus::Running && self.source_reads_from.is_some_and(|t| self.now >= t)
    }

    /// Partitions each source subtask reads from, summed: the lag metric is per partition.
    fn effective_partitions(&self) -> u32 {
        self.setup.model.spec.kafka.partitions.max(1)
    }

    fn trim_arrivals(&mut self) {
        let mut keep_from = self.consumed;
        if let Some(c) = self.completed {
            keep_from = keep_from.min(c.offset);
        }
        if let Some(p) = self.pending_checkpoint {
            keep_from = keep_from.min(p.offset);
        }
        if let Some(o) = self.redeploy_offset {
            keep_from = keep_from.min(o);
        }
        while self.arrivals.len() > 2 && self.arrivals[1].1 <= keep_from {
            self.arrivals.pop_front();
        }
        if self.reservoir.is_some() {
            let keep_ms = self.arrival_ms(keep_from);
            if let Some(r) = self.reservoir.as_mut() {
                r.trim(keep_ms);
            }
        }
    }

    /// When the record at Kafka position `offset` arrived (ms), interpolated within a tick.
    fn arrival_ms(&self, offset: f64) -> f64 {
        let i = self.arrivals.partition_point(|&(_, cum)| cum < offset);
        if i >= self.arrivals.len() {
            return self.now.as_ms() as f64;
        }
        if i == 0 {
            return self.arrivals[0].0 as f64;
        }
        let (t0, c0) = self.arrivals[i - 1];
        let (t1, c1) = self.arrivals[i];
        if c1 <= c0 {
            return t1 as f64;
        }
        t0 as f64 + (t1 - t0) as f64 * (offset - c0) / (c1 - c0)
    }

    fn end_of_second(&mut self) {
        let epoch = self.setup.start_epoch + self.now.as_secs() as i64 - 1;
        self.last_second = std::mem::replace(
            &mut self.second_acc,
            vec![VertexSecond::default(); self.graph.len()],
        );
        let running = self.status == JobStatus::Running;
        if running {
            for (t, l) in self.totals.iter_mut().zip(&self.last_second) {
                t.busy_ms += l.busy_ms;
                t.backpressured_ms += l.backpressured_ms;
                t.idle_ms += l.idle_ms;
                t.records_in += l.records_in;
                t.records_out += l.records_out;
            }
        }
        self.edge.end_of_second(epoch);
        let workload = self.rate_at(SimTime::from_secs(self.now.as_secs() - 1));
        self.series.workload_rps.points.push((epoch, workload));
        let tms = (self.tm_registered + self.tm_leaving) as f64;
        self.series.task_managers.points.push((epoch, tms));
        self.series
            .task_slots
            .points
            .push((epoch, tms * self.config.task_slots as f64));
        if running {
            let latency = self.latency_now();
            self.last_latency_ms = Some(latency);
            self.last_throughput_rps = self.rate_stat.measure(self.now);
            self.last_lag = self.lag_stat.measure(self.now);
            self.series.latency_ms.points.push((epoch, latency));
            self.push_kafka_metrics(epoch, self.last_throughput_rps, self.last_lag);
        } else {
            // Deployed tasks whose histograms hold no sample yet report 0 (recorded after
            // every restart); otherwise the job has no metrics.
            let deployed = self.deploying_since.is_some_and(|t| t < self.now);
            let empty = (deployed && self.reservoir.is_some()).then_some(0.0);
            self.last_latency_ms = empty;
            if let Some(v) = empty {
                self.series.latency_ms.points.push((epoch, v));
            }
            self.last_throughput_rps = None;
            self.last_lag = None;
            if self.consumers_started {
                // A leading source's consumers report before the job runs.
                let (rate, lag) = (
                    self.rate_stat.measure(self.now),
                    self.lag_stat.measure(self.now),
                );
                self.push_kafka_metrics(epoch, rate, lag);
            }
        }
        if self.tm_registered > 0 {
            let cpu = self.cpu_load_now();
            self.last_cpu_load = Some(cpu);
            self.series.cpu_load.points.push((epoch, cpu));
        } else {
            self.last_cpu_load = None;
        }
    }

    /// Writes the Kafka consumer metrics of second `epoch` into the run's series.
    fn push_kafka_metrics(&mut self, epoch: i64, rate: Option<f64>, lag: Option<f64>) {
        if let Some(v) = rate {
            self.series.throughput_rps.points.push((epoch, v));
        }
        if let Some(v) = lag {
            self.series.consumer_lag.points.push((epoch, v));
        }
    }

    /// The latency metric as the experiments measured it: floor + time the record at the head
    /// of Kafka waited + time in in-flight buffers up to the measuring operator (+ window
    /// residence unless the job subtracts it), with per-second jitter.
    fn latency_now(&mut self) -> f64 {
        let head_ms = self.arrival_ms(self.consumed);
        let head_wait_ms = (self.now.as_ms() as f64 - head_ms).max(0.0);
        let buffer_ms = self.buffer_ms_now();
        let floor_ms = self.setup.model.spec.latency.floor_ms;
        let noise = self.jitter.sample(&mut self.rng_metrics);
        let Some(r) = self.reservoir.as_mut() else {
            return (floor_ms + head_wait_ms + buffer_ms + noise).max(0.0);
        };
        self.extra_latency_ms = buffer_ms;
        match r.p95_delay_ms(head_ms, self.now.as_ms() as f64, buffer_ms) {
            Some(delay_ms) => (floor_ms + delay_ms.max(0.0) + noise).max(0.0),
            None => 0.0,
        }
    }

    /// Time (ms) a record read now spends in in-flight buffers up to the measuring operator
    /// (+ window residence unless the job subtracts it, + WAN latency).
    fn buffer_ms_now(&self) -> f64 {
        let spec = &self.setup.model.spec.latency;
        let mut buffer_ms = 0.0;
        for v in 0..self.graph.len() {
            if !self.on_latency_path[v] {
                continue;
            }
            let rate = self.last_second[v].records_in;
            if self.queued[v] > 0.0 && rate > 0.0 {
                buffer_ms += self.queued[v] / rate * 1000.0;
            }
            if !spec.excludes_window_residence {
                buffer_ms += self.graph.vertices[v].window_residence_ms;
            }
            if self.edge.has_crossings() || self.edge.ingest.is_some() {
                buffer_ms += self.edge.latency_into_ms(v);
            }
        }
        buffer_ms
    }

    /// Mean JVM CPU load over TaskManagers: idle load plus the busy subtasks' share of cores.
    fn cpu_load_now(&self) -> f64 {
        let spec = &self.setup.model.spec.cpu_load;
        let busy_subtasks: f64 = (0..self.graph.len())
            .map(|v| self.last_second[v].on_cpu_ms / 1000.0)
            .zip(self.parallelism.iter())
            .map(|(b, &p)| b * p as f64)
            .sum();
        let cores = self.tm_registered as f64 * self.config.cpu;
        (spec.idle + spec.per_busy_subtask * busy_subtasks / cores).clamp(0.0, 1.0)
    }

    // ----- events -----

    fn handle(&mut self, ev: Event) {
        match ev {
            Event::CheckpointTrigger { attempt } if attempt == self.attempt => {
                self.trigger_checkpoint()
            }
            Event::CheckpointComplete { attempt, id } if attempt == self.attempt => {
                if let Some(p) = self.pending_checkpoint.filter(|p| p.id == id) {
                    let started = p.triggered_at;
                    self.completed = Some(CompletedCheckpoint {
                        id,
                        offset: p.offset,
                        completed_at: self.now,
                        duration: self.now.saturating_since(started),
                    });
                    self.pending_checkpoint = None;
                    self.log("checkpoint_completed", format!("id {id}"));
                }
            }
            Event::CheckpointTimeout { attempt, id }
                if attempt == self.attempt
                    && self.pending_checkpoint.is_some_and(|p| p.id == id) =>
            {
                self.pending_checkpoint = None;
                self.log("checkpoint_failed", format!("id {id}: timeout"));
            }
            Event::FailureDue { index } => self.failure_due(index),
            Event::FailureInject { index } => self.inject(index),
            Event::TaskManagerLost { count, fatal } => {
                let count = count.min(self.tm_registered);
                self.tm_registered -= count;
                self.tm_unreachable = self.tm_unreachable.saturating_sub(count);
                // A lost TaskManager ran tasks (failures hit working ones).
                self.tm_warm = self.tm_warm.saturating_sub(count).min(self.tm_registered);
                self.log("task_manager_lost", format!("{count} lost"));
                if fatal && self.status == JobStatus::Running {
                    self.restart(RestartCause::Failover);
                } else {
                    self.on_task_managers_changed();
                }
            }
            Event::TaskManagersRegistered { count } => {
                let count = count.min(self.tm_starting);
                self.tm_starting -= count;
                self.tm_registered += count;
                self.log(
                    "task_managers_registered",
                    format!("+{count}, now {}", self.tm_registered),
                );
                self.on_task_managers_changed();
            }
            Event::TaskManagersLeft { count } => {
                self.tm_leaving = self.tm_leaving.saturating_sub(count);
            }
            Event::Resume { attempt } if attempt == self.attempt => self.resume(),
            Event::SecondFailover { attempt, index }
                if attempt == self.attempt && self.status == JobStatus::Running =>
            {
                let Some(sf) = self.setup.model.spec.restart.second_failover.clone() else {
                    return;
                };
                self.log(
                    "failure_repeated",
                    format!(
                        "#{}: the restarted job fails again, {} s down",
                        index + 1,
                        sf.outage_s
                    ),
                );
                self.resume_at_least = self.now + SimDuration::from_secs_f64(sf.outage_s);
                self.restart(RestartCause::Failover);
            }
            Event::SavepointDone { attempt } if attempt == self.attempt => self.savepoint_done(),
            Event::ReactiveRestart { generation }
                if generation == self.reactive_generation && self.status == JobStatus::Running =>
            {
                let slots = self
                    .slots_total()
                    .min(self.setup.model.spec.job.max_parallelism);
                if slots > 0 && slots != self.parallelism[0] {
                    self.reconfigurations += 1;
                    self.restart(RestartCause::ReactiveRescale);
                }
            }
            Event::LinkUp { link, outage } if self.link_outage[link].0 == outage => {
                self.edge.link_up[link] = true;
                let name = self.edge.setup.links[link].name.clone();
                self.log("link_up", name);
            }
            Event::LinkHeartbeatCheck { link, outage }
                if self.link_outage[link].0 == outage
                    && !self.edge.link_up[link]
                    && self.status == JobStatus::Running
                    && self.edge.job_spans_link(link) =>
            {
                let name = self.edge.setup.links[link].name.clone();
                self.log(
                    "task_manager_lost",
                    format!("TaskManagers beyond link {name} (heartbeat timeout)"),
                );
                self.hold_until = self.link_outage[link].1;
                self.restart(RestartCause::Failover);
            }
            _ => {} // A timer of an earlier attempt: the restart cancelled it.
        }
    }

    /// Flink's `CheckpointCoordinator.startCheckpointScheduler`, run whenever the job turns
    /// RUNNING: the first trigger comes after a random delay uniform in [min pause (0),
    /// interval] (`getRandomInitDelay`), then every interval. So after a restart the first
    /// checkpoint comes on average half an interval in, not a whole one.
    fn start_checkpoint_scheduler(&mut self) {
        let interval_ms = self.config.checkpoint_interval.as_ms() as f64;
        let delay_ms = (self.rng_checkpoint.random::<f64>() * interval_ms).round() as u64;
        self.queue.schedule(
            self.now + SimDuration::from_ms(delay_ms),
            Event::CheckpointTrigger {
                attempt: self.attempt,
            },
        );
    }

    fn start_checkpointing(&mut self) {
        let at = self.now + self.config.checkpoint_interval;
        self.queue.schedule(
            at,
            Event::CheckpointTrigger {
                attempt: self.attempt,
            },
        );
    }

    fn trigger_checkpoint(&mut self) {
        // Periodic: the next trigger is one interval after this one.
        self.start_checkpointing();
        if self.status != JobStatus::Running || self.pending_checkpoint.is_some() {
            return;
        }
        let id = self.next_checkpoint_id;
        self.next_checkpoint_id += 1;
        let spec = self.setup.model.spec.checkpoint.clone();
        // Barrier alignment: the barrier waits behind the records already in flight.
        let alignment_s: f64 = (0..self.graph.len())
            .map(|v| {
                let rate = self.base_capacity_rps[v];
                if rate > 0.0 {
                    self.queued[v] / rate
                } else {
                    0.0
                }
            })
            .sum();
        let upload_s =
            self.state_mb_per_subtask() * spec.incremental_fraction / spec.upload_mb_per_s;
        let duration_s = spec.duration_base_ms / 1000.0 + alignment_s + upload_s;
        self.pending_checkpoint = Some(PendingCheckpoint {
            id,
            offset: self.consumed,
            triggered_at: self.now,
        });
        self.log("checkpoint_triggered", format!("id {id}"));
        // An unreachable TaskManager never acknowledges its barriers: the checkpoint can only
        // time out (or be aborted by the failover that follows).
        if duration_s > spec.timeout_s || self.tm_unreachable > 0 {
            self.queue.schedule(
                self.now + SimDuration::from_secs_f64(spec.timeout_s),
                Event::CheckpointTimeout {
                    attempt: self.attempt,
                    id,
                },
            );
        } else {
            self.queue.schedule(
                self.now + SimDuration::from_secs_f64(duration_s),
                Event::CheckpointComplete {
                    attempt: self.attempt,
                    id,
                },
            );
        }
    }

    fn state_mb_per_subtask(&self) -> f64 {
        self.graph
            .vertices
            .iter()
            .zip(&self.parallelism)
            .map(|(v, &p)| v.state_mb / p.max(1) as f64)
            .fold(0.0, f64::max)
    }

    fn failure_due(&mut self, index: usize) {
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
        let wait = match (plan.align_before_checkpoint, self.completed) {
            (Some(before), Some(c)) => {
                let since_ack = self.now.since(c.completed_at).as_secs_f64();
                self.config.checkpoint_interval.as_secs_f64() - since_ack - before.as_secs_f64()
            }
            _ => 0.0,
        };
        if wait > 0.0 {
            self.queue.schedule(
                self.now + SimDuration::from_secs_f64(wait),
                Event::FailureInject { index },
            );
        } else {
            self.inject(index);
        }
    }

    fn inject(&mut self, index: usize) {
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
                    self.queue.schedule(
                        self.now + duration + late,
                        Event::TaskManagersRegistered { count: 1 },
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
                    Event::TaskManagersRegistered { count: 1 },
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
                    Event::TaskManagersRegistered { count },
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

    /// Cancels all tasks and starts a new attempt.
    fn restart(&mut self, cause: RestartCause) {
        self.last_restart_cause = Some(cause);
        self.attempt += 1;
        self.restarts += 1;
        self.status = if cause == RestartCause::Redeploy {
            JobStatus::Redeploying
        } else {
            JobStatus::Restarting
        };
        self.pending_checkpoint = None;
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

    fn resume(&mut self) {
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

    fn on_task_managers_changed(&mut self) {
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

    fn savepoint_done(&mut self) {
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
            Event::TaskManagersRegistered { count: tms },
        );
    }

    fn set_config(&mut self, config: JobConfig) {
        self.log("config_changed", config_text(&config));
        self.configs.push((self.now, config.clone()));
        self.config = config;
    }

    /// Recomputes the running parallelism, capacities and buffers from config and slots.
    fn apply_parallelism(&mut self) {
        let max_par = self.setup.model.spec.job.max_parallelism;
        for v in 0..self.graph.len() {
            let p = match self.setup.scheduler {
                SchedulerMode::Reactive => self.slots_total().max(1),
                _ => self.config.parallelism(v),
            };
            self.parallelism[v] = p.clamp(1, max_par);
        }
        self.edge.lay_out(&self.graph, &self.parallelism);
        let spec = &self.setup.model.spec;
        let c = &spec.capacity;
        let usable_per_slot =
            ((self.config.cpu - c.tm_overhead_cores) / self.config.task_slots as f64).max(0.01);
        let slot_efficiency =
            (self.config.task_slots.max(1) as f64).powf(-c.slot_efficiency_exponent.unwrap_or(0.0));
        let cpu_factor = usable_per_slot.min(c.max_cpu_per_subtask)
            / (c.reference_cpu_per_slot - c.tm_overhead_cores)
            * slot_efficiency;
        self.slot_budget = usable_per_slot / usable_per_slot.min(c.max_cpu_per_subtask);
        let memory_per_slot_mb = self.config.memory_mb as f64 / self.config.task_slots as f64;
        let memory_factor = if memory_per_slot_mb >= c.memory_working_set_mb {
            1.0
        } else {
            (memory_per_slot_mb / c.memory_working_set_mb).powf(c.memory_exponent)
        };
        for v in 0..self.graph.len() {
            let vx = &self.graph.vertices[v];
            let p = self.parallelism[v] as f64;
            // Records are spread over subtasks by Kafka partitions (sources) or key groups
            // (keyed inputs), whole units each: the subtasks holding ceil(N / p) units saturate
            // first, so the vertex sustains N / ceil(N / p) subtasks' worth (Flink assigns
            // partitions round-robin and key-group ranges evenly; records are assumed spread
            // evenly over partitions and key groups).
            let units = if vx.is_source {
                Some(spec.kafka.partitions.max(1))
            } else if vx
                .inputs
                .iter()
                .any(|&(_, ship)| ship == ShipStrategy::Hash)
            {
                Some(spec.job.max_parallelism.max(1))
            } else {
                None
            };
            let units = units.filter(|_| c.whole_unit_assignment);
            let useful = match units {
                Some(n) => {
                    let per_subtask_units = (n as f64 / p).ceil();
                    n as f64 / per_subtask_units
                }
                None if vx.is_source => p.min(spec.kafka.partitions as f64),
                None => p,
            };
            // Without whole-unit assignment the load is spread evenly (and a source's idle
            // subtasks beyond the partitions are not counted), as before the option existed.
            self.load_skew[v] = if units.is_some() { p / useful } else { 1.0 };
            let efficiency = 1.0 / (1.0 + c.scaling_contention * (p - 1.0));
            let per_subtask = 1e6 / vx.cost_us_per_record
                * cpu_factor
                * memory_factor
                * self.edge.vertex_speed[v]
                * efficiency;
            self.base_capacity_rps[v] = useful * per_subtask;
            self.per_subtask_rps[v] = per_subtask;
            // In-flight buffers: the receiving input gates plus the senders' subpartitions.
            let channels = vx
                .inputs
                .iter()
                .map(|&(u, ship)| match ship {
                    ShipStrategy::Forward => 1.0,
                    _ => self.parallelism[u] as f64,
                })
                .sum::<f64>();
            let buffers = 2.0 * p * (BUFFERS_PER_CHANNEL * channels + FLOATING_BUFFERS_PER_GATE);
            self.buffer_capacity[v] = if vx.inputs.is_empty() {
                0.0
            } else {
                buffers * SEGMENT_BYTES / spec.job.record_bytes
            };
        }
    }

    fn parallelism_text(&self) -> String {
        self.parallelism
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    fn log(&mut self, kind: &'static str, detail: String) {
        self.events.push(EventRecord {
            time: self.now,
            kind,
            detail,
        });
    }

    /// Per-vertex capacity in records/s of vertex input at full speed (for tests and reports).
    pub fn capacity_rps(&self) -> &[f64] {
        &self.base_capacity_rps
    }
}

/// Vertices whose in-flight buffers a record passes before the latency is measured.
fn latency_path(graph: &JobGraph) -> Vec<bool> {
    let mut on = vec![false; graph.len()];
    let mut stack = vec![graph.latency_vertex];
    while let Some(v) = stack.pop() {
        if !on[v] {
            on[v] = true;
            stack.extend(graph.vertices[v].inputs.iter().map(|&(u, _)| u));
        }
    }
    on
}

pub fn config_text(c: &JobConfig) -> String {
    format!(
        "scaleOut {} taskSlots {} cpu {} memory {} MB chkInt {} ms",
        c.scale_out,
        c.task_slots,
        c.cpu,
        c.memory_mb,
        c.checkpoint_interval.as_ms()
    )
}
