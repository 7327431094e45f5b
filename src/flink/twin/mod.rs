//! The twin: one Flink job on a cluster, advanced by fluid ticks between discrete events.
//!
//! Between events, records move as rates: Kafka accumulates the offered load, the source reads
//! what the job can take, each vertex processes what its capacity and its downstream buffers
//! allow (backpressure), and per-second metrics are emitted the way Flink, Kafka and Prometheus
//! showed them in the recorded experiments. Discrete events (checkpoints, failures, heartbeat
//! timeouts, TaskManager registration, restarts, reconfigurations) change the job's state at
//! exact instants. Nothing here does I/O or reads a wall clock.
//!
//! This file holds the state, the constructors, the read accessors, the event loop
//! (`advance_until`) and the event dispatch; the `impl Twin` blocks of the child modules hold
//! the fluid tick (`step`), end-of-second metrics (`metrics`), checkpoints (`checkpoint`),
//! failure injection (`failures`), restarts and reconfiguration (`restart`), per-vertex
//! capacity and buffers (`capacity`) and edge placement (`placement`).

mod capacity;
mod checkpoint;
mod failures;
mod metrics;
mod placement;
mod restart;
mod step;

use std::collections::VecDeque;

use rand_distr::Normal;

use super::colocation;
use super::config::{JobConfig, SchedulerMode};
use super::edge::{EdgeState, EnergyTotals};
use super::failure::{Alignment, FailurePlan};
use super::graph::JobGraph;
use super::kafka_metrics::SampledStat;
use super::latency_metric::LatencyReservoir;
use super::model::JobModel;
use crate::cluster::EdgeSetup;
use crate::engine::EventQueue;
use crate::rng::{stream, SimRng};
use crate::runfolder::Series;
use crate::time::{SimDuration, SimTime};
use metrics::latency_path;

/// How long before a replay's recorded injection its checkpoint phase is planned: longer than
/// the longest checkpoint interval the experiments configured (90 s) plus the checkpoint.
const REPHASE_LOOKAHEAD: SimDuration = SimDuration::from_secs(150);

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
        /// The periodic timer this trigger belongs to (a rephase starts a new one).
        timer: u64,
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
    /// A replay's recorded injection is near: plan the checkpoint the recorded job had taken.
    RephasePlan {
        index: usize,
    },
    /// Take a checkpoint now and run the periodic timer from here (a replay's recorded phase).
    CheckpointRephase {
        attempt: u64,
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
        /// The TaskManagers' JVMs ran the job before and kept running (a reactive-mode
        /// TaskManager back from a network delay, `reactive_rejoin_warm`): they count as warm.
        warm: bool,
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
    /// Cores one fully busy subtask uses, in units of a reference slot's usable cores: what its
    /// slot lets it use, capped at `max_cpu_per_subtask`. Scales its busy time into the CPU
    /// it reports (1 for the 1-core slots the load was fitted on).
    cpu_units_per_busy_subtask: f64,
    /// Cores a TaskManager's JVM spends on background GC beyond the reference containers'.
    gc_background_cores: f64,
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
    /// The live periodic checkpoint timer; triggers of older timers are ignored.
    checkpoint_timer: u64,
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
    /// A failure due while the next checkpoint was less than the alignment away: the injector
    /// polls until that checkpoint completes, then waits the alignment from it.
    failure_awaiting_checkpoint: Option<usize>,
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
            cpu_units_per_busy_subtask: 1.0,
            gc_background_cores: 0.0,
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
            checkpoint_timer: 0,
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
            failure_awaiting_checkpoint: None,
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
        let recorded = matches!(
            twin.setup.failures.as_ref().map(|p| p.alignment),
            Some(Alignment::Recorded(_))
        );
        for (i, t) in twin.due.clone().into_iter().enumerate() {
            twin.queue.schedule(t, Event::FailureDue { index: i });
            if recorded {
                twin.queue.schedule(
                    t.saturating_sub(REPHASE_LOOKAHEAD),
                    Event::RephasePlan { index: i },
                );
            }
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

    // ----- events -----

    fn handle(&mut self, ev: Event) {
        match ev {
            Event::CheckpointTrigger { attempt, timer }
                if attempt == self.attempt && timer == self.checkpoint_timer =>
            {
                self.trigger_checkpoint()
            }
            Event::RephasePlan { index } => self.plan_rephase(index),
            Event::CheckpointRephase { attempt } if attempt == self.attempt => {
                self.rephase_checkpoints()
            }
            Event::CheckpointComplete { attempt, id } if attempt == self.attempt => {
                if let Some(p) = self.pending_checkpoint.filter(|p| p.id == id) {
                    if self.tm_unreachable > 0 {
                        // A TaskManager cut off since the trigger never acknowledges in time:
                        // the checkpoint can only time out or be aborted by the failover.
                        let timeout =
                            SimDuration::from_secs_f64(self.setup.model.spec.checkpoint.timeout_s);
                        self.queue.schedule(
                            p.triggered_at + timeout,
                            Event::CheckpointTimeout { attempt, id },
                        );
                        return;
                    }
                    let started = p.triggered_at;
                    self.completed = Some(CompletedCheckpoint {
                        id,
                        offset: p.offset,
                        completed_at: self.now,
                        duration: self.now.saturating_since(started),
                    });
                    self.pending_checkpoint = None;
                    self.log("checkpoint_completed", format!("id {id}"));
                    if let Some(index) = self.failure_awaiting_checkpoint.take() {
                        self.align_failure(index);
                    }
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
            Event::TaskManagersRegistered { count, warm } => {
                let count = count.min(self.tm_starting);
                self.tm_starting -= count;
                self.tm_registered += count;
                if warm {
                    self.tm_warm = (self.tm_warm + count).min(self.tm_registered);
                }
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
