//! Running one scenario: scenario + overrides -> twin + policy -> control loop -> `RunResult`,
//! and writing a `RunResult` as a run folder.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::backend::{Backend, SimBackend};
use crate::control::{self, Decision};
use crate::flink::{Alignment, FailurePlan, Twin, TwinSetup};
use crate::policy::{self, Policy};
use crate::rng;
use crate::runfolder::{ConfigRow, RunData, Series};
use crate::scenario::{Scenario, SpecError};
use crate::time::{SimDuration, SimTime};
use crate::workload::{self, WorkloadSpec};

/// Command-line or sweep overrides of a scenario's values.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub policy: Option<String>,
    pub seed: Option<u64>,
    pub duration: Option<SimDuration>,
    pub workload: Option<WorkloadSpec>,
}

/// A scenario made runnable: the twin's inputs and the policy.
pub struct Prepared {
    pub setup: TwinSetup,
    /// Sites, links, placement and energy model (default: the homogeneous twin).
    pub edge: crate::cluster::EdgeSetup,
    pub policy: Box<dyn Policy>,
    pub seed: u64,
    pub policy_name: String,
    pub workload_mean_rps: f64,
    pub failures_scheduled: usize,
}

/// Everything a run produced.
pub struct RunResult {
    pub twin: Twin,
    /// Profiling runs the policy launched (Demeter), in start order.
    pub profiles: Vec<crate::policy::profile::ProfileResult>,
    pub failures_scheduled: usize,
    pub decisions: Vec<Decision>,
    /// The policy's per-vertex evaluations (`evaluations.csv`; empty if it reports none).
    pub evaluations: Vec<crate::policy::Evaluation>,
    pub seed: u64,
    pub policy_name: String,
}

/// Builds the twin's inputs; reads workload files. Errors name the scenario file and key.
pub fn prepare(scenario: &Scenario, overrides: &Overrides) -> Result<Prepared, SpecError> {
    let seed = overrides.seed.unwrap_or(scenario.seed);
    let duration = overrides.duration.unwrap_or(scenario.duration);
    let file = scenario.path.display().to_string();
    let mut policy_spec = scenario.policy.clone();
    if let Some(name) = &overrides.policy {
        if *name != policy_spec.name {
            policy_spec.name = name.clone();
            policy_spec.params = toml::Table::new();
        }
    }
    let mut policy =
        policy::build(&policy_spec, rng::derive_seed(seed, "policy")).map_err(|e| {
            SpecError::Invalid {
                file: file.clone(),
                key: "policy".into(),
                expected: "a known policy with valid parameters".into(),
                found: e.to_string(),
            }
        })?;
    policy.attach(&scenario.model, &scenario.edge);
    let workload_spec = overrides.workload.as_ref().unwrap_or(&scenario.workload);
    let duration_s = duration.as_ms().div_ceil(1000);
    let mut wrng = rng::stream(seed, "workload");
    let workload = workload::build(workload_spec, &scenario.base_dir, duration_s, &mut wrng)
        .map_err(|e| SpecError::Workload {
            file: file.clone(),
            reason: e.to_string(),
        })?;
    let rates = workload.rates_rps;
    if policy.wants_workload_history() {
        // The dataset the generators replay, without their noise: one dataset length (18 h,
        // research/demeter.md §5.3) or the run's if the workload is shorter.
        let clean = workload_spec.without_noise();
        let mut prng = rng::stream(seed, "pretrain-workload");
        let history = workload::build(&clean, &scenario.base_dir, 64_800, &mut prng)
            .or_else(|_| workload::build(&clean, &scenario.base_dir, duration_s, &mut prng))
            .map_err(|e| SpecError::Workload {
                file: file.clone(),
                reason: e.to_string(),
            })?;
        policy.pretrain(&history.rates_rps);
    }
    let mean = rates.iter().sum::<f64>() / rates.len().max(1) as f64;
    let horizon = SimTime::ZERO + duration;
    let failures_scheduled = scenario
        .failures
        .as_ref()
        .map(|p| {
            p.due_times(horizon, &mut rng::stream(seed, "failures"))
                .len()
        })
        .unwrap_or(0);
    let hints = policy.deployment();
    let mut config = scenario.config.clone();
    let mut failures = scenario.failures.clone();
    if let Some(interval) = hints.checkpoint_interval {
        config.checkpoint_interval = interval;
        // The policy's job hard-codes its interval (reactive35's YAML: 20 s); the experiment's
        // injector still computes with the one it configured (research/demeter.md §3.2).
        if let Some(FailurePlan {
            alignment: Alignment::BeforeCheckpoint(clock),
            ..
        }) = failures.as_mut()
        {
            clock
                .interval
                .get_or_insert(scenario.config.checkpoint_interval);
        }
    }
    Ok(Prepared {
        edge: scenario.edge.clone(),
        setup: TwinSetup {
            model: scenario.model.clone(),
            config,
            scheduler: hints.scheduler.unwrap_or(scenario.scheduler),
            node_speed: scenario.node.speed,
            workload_rps: rates,
            tick: scenario.tick,
            horizon,
            failures,
            seed,
            start_epoch: scenario.start_epoch,
        },
        policy_name: policy.name().to_string(),
        policy,
        seed,
        workload_mean_rps: mean,
        failures_scheduled,
    })
}

/// Runs a prepared scenario to its horizon. `on_progress(now, horizon)` is called as it goes.
pub fn execute(prepared: Prepared, on_progress: impl FnMut(SimTime, SimTime)) -> RunResult {
    let Prepared {
        setup,
        edge,
        mut policy,
        seed,
        policy_name,
        failures_scheduled,
        ..
    } = prepared;
    let mut backend = SimBackend::new(Twin::with_edge(setup, edge));
    let log = control::run_logged(&mut backend, policy.as_mut(), on_progress)
        .expect("the simulated backend never fails");
    debug_assert!(backend.now() >= backend.horizon());
    let (twin, profiles) = backend.into_parts();
    RunResult {
        twin,
        profiles,
        failures_scheduled,
        decisions: log.decisions,
        evaluations: log.evaluations,
        seed,
        policy_name,
    }
}

impl RunResult {
    /// The run in the recorded experiments' shape.
    pub fn run_data(&self) -> RunData {
        let t = &self.twin;
        let s = t.series();
        let epoch = |at: SimTime| t.start_epoch() + at.as_secs() as i64;
        RunData {
            name: self.policy_name.clone(),
            start_epoch: t.start_epoch(),
            window_s: t.horizon().as_secs() as i64,
            latency_ms: s.latency_ms.clone(),
            throughput_rps: s.throughput_rps.clone(),
            consumer_lag: s.consumer_lag.clone(),
            cpu_load: s.cpu_load.clone(),
            task_managers: s.task_managers.clone(),
            task_slots: s.task_slots.clone(),
            failures: t.failures_injected().iter().map(|&f| epoch(f)).collect(),
            scheduled_failures: Some(self.failures_scheduled as u32),
            profiling: self
                .profiles
                .iter()
                .map(|p| crate::runfolder::ProfilingRow {
                    start_epoch: epoch(p.started_at),
                    stop_epoch: epoch(p.finished_at),
                    config: ConfigRow {
                        timestamp: epoch(p.started_at),
                        scale_out: p.config.scale_out,
                        task_slots: p.config.task_slots,
                        cpu: p.config.cpu,
                        memory_mb: p.config.memory_mb,
                        checkpoint_interval_ms: p.config.checkpoint_interval.as_ms(),
                    },
                    throughput_rps: p.throughput_rps,
                    latency_ms: p.latency_ms,
                    recovery_s: p.recovery_s,
                })
                .collect(),
            configs: t
                .config_timeline()
                .iter()
                .map(|(at, c)| ConfigRow {
                    timestamp: epoch(*at),
                    scale_out: c.scale_out,
                    task_slots: c.task_slots,
                    cpu: c.cpu,
                    memory_mb: c.memory_mb,
                    checkpoint_interval_ms: c.checkpoint_interval.as_ms(),
                })
                .collect(),
        }
    }

    pub fn workload_series(&self) -> &Series {
        &self.twin.series().workload_rps
    }

    /// The run's summary with the energy fields filled in (the section-6 table itself comes
    /// from the run folder's series and has no energy).
    pub fn summary(&self) -> crate::report::Summary {
        let mut s = crate::report::summarize(&self.run_data());
        crate::report::energy::attach(&mut s, self.twin.energy());
        s
    }
}

/// `manifest.json`: what produced this run folder.
#[derive(Debug, Serialize)]
pub struct Manifest {
    pub tool: &'static str,
    pub version: &'static str,
    pub scenario: String,
    pub scenario_sha256: String,
    pub model: String,
    pub model_sha256: String,
    pub seed: u64,
    pub policy: String,
    pub duration_s: u64,
    pub tick_ms: u64,
    pub start_epoch: i64,
    pub window_s: i64,
    pub scheduled_failures: usize,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes `manifest.json`, `events.csv`, `decisions.csv`, `evaluations.csv` (when the policy
/// reported evaluations) and `workload.csv` into `dir`
/// (the recorded-format files are written by `runfolder`).
pub fn write_extras(
    dir: &Path,
    scenario: &Scenario,
    result: &RunResult,
) -> std::io::Result<Vec<PathBuf>> {
    let t = &result.twin;
    let model_text = std::fs::read(&scenario.model_path).unwrap_or_default();
    let manifest = Manifest {
        tool: "demeter-sim",
        version: env!("CARGO_PKG_VERSION"),
        scenario: scenario.path.display().to_string(),
        scenario_sha256: sha256_hex(scenario.text.as_bytes()),
        model: scenario.model_path.display().to_string(),
        model_sha256: sha256_hex(&model_text),
        seed: result.seed,
        policy: result.policy_name.clone(),
        duration_s: t.horizon().as_secs(),
        tick_ms: scenario.tick.as_ms(),
        start_epoch: t.start_epoch(),
        window_s: t.horizon().as_secs() as i64,
        scheduled_failures: result.failures_scheduled,
    };
    let mut written = Vec::new();
    let p = dir.join("manifest.json");
    std::fs::write(&p, serde_json::to_string_pretty(&manifest)? + "\n")?;
    written.push(p);

    written.extend(crate::report::energy::write(
        dir,
        t.energy(),
        &t.edge().power_w,
    )?);
    written.push(write_events(dir, result)?);
    written.push(write_decisions(dir, result)?);
    if !result.evaluations.is_empty() {
        written.push(crate::runfolder::write_evaluations(
            dir,
            &result.policy_name,
            t.start_epoch() * 1000,
            &result.evaluations,
        )?);
    }

    let p = dir.join("workload.csv");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&p)?);
    writeln!(f, "timestamp|value")?;
    for (ts, v) in &result.workload_series().points {
        writeln!(f, "{ts}|{v}")?;
    }
    f.flush()?;
    written.push(p);
    Ok(written)
}

/// `events.csv`: what happened to the job, one line per event.
pub fn write_events(dir: &Path, result: &RunResult) -> std::io::Result<PathBuf> {
    let p = dir.join("events.csv");
    let mut w = csv::Writer::from_path(&p)?;
    w.write_record(["time_s", "kind", "detail"])?;
    for e in result.twin.events() {
        w.write_record([
            format!("{:.3}", e.time.as_secs_f64()),
            e.kind.to_string(),
            e.detail.clone(),
        ])?;
    }
    w.flush()?;
    Ok(p)
}

/// `decisions.csv`: every action the policy took, whether the backend refused it, and why the
/// policy took it (when it says: Demeter's rescale rule).
pub fn write_decisions(dir: &Path, result: &RunResult) -> std::io::Result<PathBuf> {
    let p = dir.join("decisions.csv");
    let mut w = csv::Writer::from_path(&p)?;
    w.write_record(["time_s", "action", "refused", "reason"])?;
    for d in &result.decisions {
        w.write_record([
            format!("{:.3}", d.time.as_secs_f64()),
            format!("{:?}", d.action),
            d.refused.clone().unwrap_or_default(),
            d.reason.unwrap_or_default().to_string(),
        ])?;
    }
    w.flush()?;
    Ok(p)
}
