//! Scenarios: the TOML file as written (`ScenarioSpec`, unknown keys rejected) and its checked
//! form (`Scenario`), with every error naming the file, the key and what was expected.
//!
//! Relative paths inside a scenario resolve against the scenario file's folder.

mod duration;
mod spec;

pub use duration::{parse_duration, DurationValue};
pub use spec::*;

use std::path::{Path, PathBuf};

use crate::cluster::{
    EdgeSetup, NodeClass, NodeClasses, Site, SubtaskPlan, SubtaskSite, WanLink,
    DEFAULT_WAN_J_PER_BIT,
};
use crate::flink::failure::{
    Alignment, FailureKind, FailurePlan, FailureSchedule, InjectorClock, SecondFailover,
};
use crate::flink::graph::JobGraph;
use crate::flink::model::{JobModel, JobModelSpec};
use crate::flink::{JobConfig, SchedulerMode};
use crate::time::{SimDuration, SimTime};

/// A problem with an input file. Every variant names the file; fix the file and run again.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("{file}: cannot read the file: {reason}")]
    Io { file: String, reason: String },
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
    #[error("{file}: key `{key}`: expected {expected}, found {found}")]
    Invalid {
        file: String,
        key: String,
        expected: String,
        found: String,
    },
    #[error("{file}: key `workload`: {reason}")]
    Workload { file: String, reason: String },
}

impl SpecError {
    pub fn parse(file: &str, e: toml::de::Error) -> SpecError {
        SpecError::Parse {
            file: file.to_string(),
            message: e.to_string().trim_end().replace('\n', "\n    "),
        }
    }
    fn invalid(file: &Path, key: &str, expected: &str, found: impl ToString) -> SpecError {
        SpecError::Invalid {
            file: file.display().to_string(),
            key: key.to_string(),
            expected: expected.to_string(),
            found: found.to_string(),
        }
    }
}

/// A checked scenario, ready to run.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub path: PathBuf,
    /// The scenario file's bytes, hashed into the run manifest.
    pub text: String,
    pub name: String,
    pub description: String,
    pub seed: u64,
    pub duration: SimDuration,
    pub tick: SimDuration,
    pub start_epoch: i64,
    pub model_path: PathBuf,
    pub model: JobModel,
    pub scheduler: SchedulerMode,
    pub workload: crate::workload::WorkloadSpec,
    pub base_dir: PathBuf,
    pub node: NodeClass,
    pub config: JobConfig,
    pub failures: Option<FailurePlan>,
    pub policy: PolicySpec,
    pub output_dir: Option<PathBuf>,
    pub plots: bool,
    /// Sites, WAN links, placement and the energy model (default: the homogeneous twin).
    pub edge: EdgeSetup,
}

impl Scenario {
    pub fn horizon(&self) -> SimTime {
        SimTime::ZERO + self.duration
    }
}

fn read(path: &Path) -> Result<String, SpecError> {
    std::fs::read_to_string(path).map_err(|e| SpecError::Io {
        file: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// Reads a job model file.
pub fn load_model(path: &Path) -> Result<JobModel, SpecError> {
    let file = path.display().to_string();
    let text = read(path)?;
    let spec: JobModelSpec = toml::from_str(&text).map_err(|e| SpecError::parse(&file, e))?;
    JobModel::from_spec(spec, &file)
}

/// Reads and checks a scenario file.
pub fn load(path: &Path) -> Result<Scenario, SpecError> {
    let text = read(path)?;
    let spec: ScenarioSpec =
        toml::from_str(&text).map_err(|e| SpecError::parse(&path.display().to_string(), e))?;
    check(spec, path, text)
}

fn duration(file: &Path, key: &str, v: &DurationValue) -> Result<SimDuration, SpecError> {
    v.parse().map_err(|expected| SpecError::Invalid {
        file: file.display().to_string(),
        key: key.to_string(),
        expected,
        found: format!("{v:?}"),
    })
}

/// Turns a parsed spec into a checked scenario.
pub fn check(spec: ScenarioSpec, path: &Path, text: String) -> Result<Scenario, SpecError> {
    let base_dir = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let resolve = |p: &Path| {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            base_dir.join(p)
        }
    };
    let s = &spec.scenario;
    let dur = duration(path, "scenario.duration", &s.duration)?;
    if dur.is_zero() || dur > SimDuration::from_secs(366 * 86_400) {
        return Err(SpecError::invalid(
            path,
            "scenario.duration",
            "a duration > 0 and at most 366 days",
            format!("{dur}"),
        ));
    }
    let tick = match &s.tick {
        Some(t) => duration(path, "scenario.tick", t)?,
        None => SimDuration::from_secs(1),
    };
    if tick.as_ms() < 10 || tick.as_ms() > 1000 || 1000 % tick.as_ms() != 0 {
        return Err(SpecError::invalid(
            path,
            "scenario.tick",
            "a tick between 10ms and 1s that divides 1s (10ms, 20ms, 50ms, 100ms, 200ms, 250ms, 500ms, 1s)",
            format!("{tick}"),
        ));
    }
    let model_path = resolve(&spec.job.model);
    if !model_path.is_file() {
        return Err(SpecError::invalid(
            path,
            "job.model",
            "a job model file, relative to the scenario file's folder (e.g. \"../models/ysb.toml\")",
            format!(
                "{:?}, i.e. {}, which is not a file",
                spec.job.model,
                std::path::absolute(&model_path)
                    .unwrap_or_else(|_| model_path.clone())
                    .display()
            ),
        ));
    }
    let mut model = load_model(&model_path)?;
    for (op, sel) in &spec.job.selectivity {
        let key = format!("job.selectivity.{op:?}");
        let names: Vec<String> = model
            .spec
            .operators
            .iter()
            .map(|o| o.name.clone())
            .collect();
        let Some(o) = model.spec.operators.iter_mut().find(|o| &o.name == op) else {
            return Err(SpecError::invalid(
                path,
                &key,
                &format!("an operator of the job model, one of {names:?}"),
                format!("{op:?}"),
            ));
        };
        if !(sel.is_finite() && (0.0..=1e6).contains(sel)) {
            return Err(SpecError::invalid(
                path,
                &key,
                "a selectivity in 0..=1e6",
                sel,
            ));
        }
        o.selectivity = *sel;
    }

    let nodes = match &spec.cluster.nodes {
        Some(p) => {
            let p = resolve(p);
            NodeClasses::parse(&read(&p)?, &p.display().to_string())?
        }
        None => NodeClasses::builtin(),
    };
    let node = nodes
        .get(&spec.cluster.node_class)
        .cloned()
        .ok_or_else(|| {
            SpecError::invalid(
                path,
                "cluster.node_class",
                &format!("one of {:?}", nodes.names()),
                format!("{:?}", spec.cluster.node_class),
            )
        })?;

    let c = &spec.config;
    if c.scale_out == 0 || c.scale_out > model.spec.job.max_parallelism {
        return Err(SpecError::invalid(
            path,
            "config.scale_out",
            &format!(
                "an integer in 1..={} (the job model's max_parallelism)",
                model.spec.job.max_parallelism
            ),
            c.scale_out,
        ));
    }
    if c.task_slots == 0 || c.task_slots > 64 {
        return Err(SpecError::invalid(
            path,
            "config.task_slots",
            "an integer in 1..=64",
            c.task_slots,
        ));
    }
    if !(c.cpu.is_finite() && c.cpu > 0.0 && c.cpu <= 256.0) {
        return Err(SpecError::invalid(
            path,
            "config.cpu",
            "cores per TaskManager in (0, 256]",
            c.cpu,
        ));
    }
    if c.memory_mb < 256 || c.memory_mb > 1_048_576 {
        return Err(SpecError::invalid(
            path,
            "config.memory_mb",
            "MB per TaskManager in 256..=1048576",
            c.memory_mb,
        ));
    }
    let min_process_mb = crate::flink::memory::min_process_mb();
    if model.spec.capacity.gc.is_some() && (c.memory_mb as f64) < min_process_mb {
        return Err(SpecError::invalid(
            path,
            "config.memory_mb",
            &format!(
                "at least {:.0} MB: Flink's default memory model leaves no task heap below that \
                 (the job model {} has [capacity.gc], which models the heap)",
                min_process_mb.ceil(),
                model_path.display()
            ),
            c.memory_mb,
        ));
    }
    let interval = duration(path, "config.checkpoint_interval", &c.checkpoint_interval)?;
    if interval < SimDuration::from_secs(1) || interval > SimDuration::from_secs(86_400) {
        return Err(SpecError::invalid(
            path,
            "config.checkpoint_interval",
            "a duration between 1s and 24h",
            format!("{interval}"),
        ));
    }
    let config = JobConfig {
        scale_out: c.scale_out,
        task_slots: c.task_slots,
        cpu: c.cpu,
        memory_mb: c.memory_mb,
        checkpoint_interval: interval,
        parallelism_overrides: vec![],
    };
    let edge = check_edge(&spec, path, &nodes, &node, &model, &config)?;
    let failures = match &spec.failures {
        None => None,
        Some(f) => Some(check_failures(f, path, &edge)?),
    };
    let workload = spec.workload.clone();
    Ok(Scenario {
        path: path.to_path_buf(),
        text,
        name: s.name.clone(),
        description: s.description.clone(),
        seed: s.seed,
        duration: dur,
        tick,
        start_epoch: s.start_epoch,
        model_path,
        model,
        scheduler: spec.job.scheduler,
        workload,
        base_dir: base_dir.clone(),
        node,
        config,
        failures,
        policy: spec.policy.clone().unwrap_or_default(),
        output_dir: spec
            .output
            .as_ref()
            .and_then(|o| o.dir.as_ref())
            .map(|d| resolve(d)),
        plots: spec.output.as_ref().map(|o| o.plots).unwrap_or(true),
        edge,
    })
}

/// Checks `[cluster]` sites/links/energy keys and `[placement]` into an [`EdgeSetup`].
fn check_edge(
    spec: &ScenarioSpec,
    path: &Path,
    nodes: &NodeClasses,
    node: &NodeClass,
    model: &JobModel,
    config: &JobConfig,
) -> Result<EdgeSetup, SpecError> {
    let c = &spec.cluster;
    let mut edge = EdgeSetup {
        energy_node: node.clone(),
        node_count: c.node_count,
        ..EdgeSetup::default()
    };
    if let Some(n) = c.node_count {
        if n == 0 || n > 100_000 {
            return Err(SpecError::invalid(
                path,
                "cluster.node_count",
                "an integer in 1..=100000",
                n,
            ));
        }
    }
    if let Some(j) = c.wan_j_per_bit {
        if !(j.is_finite() && (0.0..=1e-3).contains(&j)) {
            return Err(SpecError::invalid(
                path,
                "cluster.wan_j_per_bit",
                "joules per bit in 0..=0.001 (research default 2e-6)",
                j,
            ));
        }
        edge.wan_j_per_bit = j;
    } else {
        edge.wan_j_per_bit = DEFAULT_WAN_J_PER_BIT;
    }
    for (i, site) in c.sites.iter().enumerate() {
        let key = |k: &str| format!("cluster.sites[{i}].{k}");
        if site.name.is_empty() || edge.site_index(&site.name).is_some() {
            return Err(SpecError::invalid(
                path,
                &key("name"),
                "a unique, non-empty site name",
                format!("{:?}", site.name),
            ));
        }
        let class = nodes.get(&site.node_class).cloned().ok_or_else(|| {
            SpecError::invalid(
                path,
                &key("node_class"),
                &format!("one of {:?}", nodes.names()),
                format!("{:?}", site.node_class),
            )
        })?;
        if site.nodes == 0 || site.nodes > 100_000 {
            return Err(SpecError::invalid(
                path,
                &key("nodes"),
                "an integer in 1..=100000",
                site.nodes,
            ));
        }
        edge.sites.push(Site {
            name: site.name.clone(),
            node_class: class,
            nodes: site.nodes,
        });
    }
    for (i, l) in c.links.iter().enumerate() {
        let key = |k: &str| format!("cluster.links[{i}].{k}");
        let site_names: Vec<&str> = edge.sites.iter().map(|s| s.name.as_str()).collect();
        let mut ends = [0usize; 2];
        for (j, end) in l.between.iter().enumerate() {
            ends[j] = edge.site_index(end).ok_or_else(|| {
                SpecError::invalid(
                    path,
                    &key("between"),
                    &format!("two names of [[cluster.sites]] {site_names:?}"),
                    format!("{end:?}"),
                )
            })?;
        }
        if ends[0] == ends[1] {
            return Err(SpecError::invalid(
                path,
                &key("between"),
                "two different sites",
                format!("{:?}", l.between),
            ));
        }
        if edge.link_between(ends[0], ends[1]).is_some() {
            return Err(SpecError::invalid(
                path,
                &key("between"),
                "at most one link per pair of sites",
                format!("{:?}", l.between),
            ));
        }
        if !(l.bandwidth_bps.is_finite() && l.bandwidth_bps > 0.0 && l.bandwidth_bps <= 1e13) {
            return Err(SpecError::invalid(
                path,
                &key("bandwidth_bps"),
                "bits per second > 0 and <= 1e13",
                l.bandwidth_bps,
            ));
        }
        if !(l.rtt_ms.is_finite() && (0.0..=60_000.0).contains(&l.rtt_ms)) {
            return Err(SpecError::invalid(
                path,
                &key("rtt_ms"),
                "milliseconds in 0..=60000",
                l.rtt_ms,
            ));
        }
        // edge_energy.md §A6: a 1 000-packet qdisc of 1 500-B packets.
        let queue_bytes = l.queue_bytes.unwrap_or(1.5e6);
        if !(queue_bytes.is_finite() && (0.0..=1e12).contains(&queue_bytes)) {
            return Err(SpecError::invalid(
                path,
                &key("queue_bytes"),
                "bytes in 0..=1e12",
                queue_bytes,
            ));
        }
        if !(l.overhead_fraction.is_finite() && (0.0..=1.0).contains(&l.overhead_fraction)) {
            return Err(SpecError::invalid(
                path,
                &key("overhead_fraction"),
                "a fraction in 0..=1 (edge_energy.md §A6: ~0.035 TCP/IP headers)",
                l.overhead_fraction,
            ));
        }
        if !(l.base_power_w.is_finite() && (0.0..=1e6).contains(&l.base_power_w)) {
            return Err(SpecError::invalid(
                path,
                &key("base_power_w"),
                "watts in 0..=1e6",
                l.base_power_w,
            ));
        }
        edge.links.push(WanLink {
            name: l.name.clone(),
            a: ends[0],
            b: ends[1],
            bandwidth_bps: l.bandwidth_bps,
            rtt_ms: l.rtt_ms,
            queue_bytes,
            overhead_fraction: l.overhead_fraction,
            base_power_w: l.base_power_w,
        });
    }
    let Some(p) = &spec.placement else {
        return Ok(edge);
    };
    if edge.sites.is_empty() {
        return Err(SpecError::invalid(
            path,
            "placement",
            "[[cluster.sites]] to place operators on",
            "no sites",
        ));
    }
    let default_site = match &p.default_site {
        None => edge.sites.len() - 1,
        Some(name) => edge.site_index(name).ok_or_else(|| {
            SpecError::invalid(
                path,
                "placement.default_site",
                &format!(
                    "a site name, one of {:?}",
                    edge.sites.iter().map(|s| &s.name).collect::<Vec<_>>()
                ),
                format!("{name:?}"),
            )
        })?,
    };
    let ops = &model.spec.operators;
    let site_names: Vec<&str> = edge.sites.iter().map(|s| s.name.as_str()).collect();
    let mut op_site = vec![default_site; ops.len()];
    let mut op_plan: Vec<Option<SubtaskPlan>> = vec![None; ops.len()];
    for (op, value) in &p.operators {
        let key = format!("placement.operators.{op:?}");
        let i = ops.iter().position(|o| &o.name == op).ok_or_else(|| {
            SpecError::invalid(
                path,
                &key,
                &format!(
                    "an operator of the job model, one of {:?}",
                    ops.iter().map(|o| &o.name).collect::<Vec<_>>()
                ),
                format!("{op:?}"),
            )
        })?;
        match parse_operator_placement(&edge, value, path, &key, &site_names)? {
            OperatorPlacement::Site(s) => op_site[i] = s,
            OperatorPlacement::Plan(plan) => op_plan[i] = Some(plan),
        }
    }
    edge.op_site = op_site;
    edge.op_plan = op_plan;
    edge.chaining = p.chaining;
    edge.slot_sharing = p.slot_sharing;
    if edge.op_plan.iter().any(Option::is_some) {
        // Lists must give one site per subtask at the configured parallelism; the main site
        // of a planned operator is where most of its subtasks run.
        let chaining = edge.chaining.unwrap_or(model.spec.job.chaining);
        let graph = JobGraph::build_placed(model, chaining, Some(&edge.chain_keys()));
        let max_par = model.spec.job.max_parallelism;
        for (i, op) in ops.iter().enumerate() {
            let Some(plan) = edge.plan_of_op(i).cloned() else {
                continue;
            };
            let par = config.parallelism(graph.vertex_of_op[i]).clamp(1, max_par);
            if let SubtaskPlan::List(l) = &plan {
                if l.len() != par as usize {
                    return Err(SpecError::invalid(
                        path,
                        &format!("placement.operators.{:?}", op.name),
                        &format!(
                            "a list of {par} sites, one per subtask (the operator's parallelism is {par})"
                        ),
                        format!("{} entries", l.len()),
                    ));
                }
            }
            edge.op_site[i] = plan.main_site(par);
            // A list with one site for every subtask and no nodes is the shorthand.
            if let SubtaskPlan::List(l) = &plan {
                if l.iter().all(|e| e.site == l[0].site && e.node.is_none()) {
                    edge.op_plan[i] = None;
                }
            }
        }
    }
    if edge.op_plan.iter().all(Option::is_none) {
        edge.op_plan.clear();
    }
    crate::placement::check_feasible(&edge, model, config)
        .map_err(|e| SpecError::invalid(path, &e.key, &e.expected, e.found))?;
    Ok(edge)
}

/// One `[placement.operators]` entry, checked.
enum OperatorPlacement {
    Site(usize),
    Plan(SubtaskPlan),
}

/// Parses `"site"`, `["site", "site:node", ...]` or `{ spread = { site = weight } }`. A list
/// or spread that puts every subtask on one site without naming nodes is the shorthand.
fn parse_operator_placement(
    edge: &EdgeSetup,
    value: &toml::Value,
    path: &Path,
    key: &str,
    site_names: &[&str],
) -> Result<OperatorPlacement, SpecError> {
    let site = |name: &str, k: &str| {
        edge.site_index(name).ok_or_else(|| {
            SpecError::invalid(
                path,
                k,
                &format!("a site name, one of {site_names:?}"),
                format!("{name:?}"),
            )
        })
    };
    let shapes = "a site name, a list of \"site\" or \"site:node\" (one per subtask), or { spread = { site = weight, ... } }";
    match value {
        toml::Value::String(name) => Ok(OperatorPlacement::Site(site(name, key)?)),
        toml::Value::Array(items) => {
            let mut list = Vec::new();
            for (j, item) in items.iter().enumerate() {
                let k = format!("{key}[{j}]");
                let Some(text) = item.as_str() else {
                    return Err(SpecError::invalid(
                        path,
                        &k,
                        "a site name or \"site:node\"",
                        item,
                    ));
                };
                let entry = if edge.site_index(text).is_some() {
                    SubtaskSite {
                        site: site(text, &k)?,
                        node: None,
                    }
                } else if let Some((name, node)) = text.rsplit_once(':') {
                    let s = site(name, &k)?;
                    let nodes = edge.sites[s].nodes;
                    let node: u32 = node.parse().ok().filter(|&n| n < nodes).ok_or_else(|| {
                        SpecError::invalid(
                            path,
                            &k,
                            &format!(
                                "a node index 0..{} of site {name:?} after the colon",
                                nodes - 1
                            ),
                            format!("{text:?}"),
                        )
                    })?;
                    SubtaskSite {
                        site: s,
                        node: Some(node),
                    }
                } else {
                    return Err(SpecError::invalid(
                        path,
                        &k,
                        &format!("a site name, one of {site_names:?}, or \"site:node\""),
                        format!("{text:?}"),
                    ));
                };
                list.push(entry);
            }
            if list.is_empty() {
                return Err(SpecError::invalid(path, key, shapes, "an empty list"));
            }
            Ok(OperatorPlacement::Plan(SubtaskPlan::List(list)))
        }
        toml::Value::Table(t) => {
            let spread = match (t.len(), t.get("spread")) {
                (1, Some(toml::Value::Table(w))) => w,
                _ => return Err(SpecError::invalid(path, key, shapes, value)),
            };
            let k = format!("{key}.spread");
            let mut weights = Vec::new();
            for (name, w) in spread {
                let s = site(name, &k)?;
                let w = w
                    .as_integer()
                    .filter(|w| (1..=1_000_000).contains(w))
                    .ok_or_else(|| {
                        SpecError::invalid(
                            path,
                            &format!("{k}.{name}"),
                            "an integer weight in 1..=1000000",
                            w,
                        )
                    })?;
                weights.push((s, w as u32));
            }
            weights.sort();
            match weights.len() {
                0 => Err(SpecError::invalid(
                    path,
                    &k,
                    "at least one site = weight",
                    "none",
                )),
                1 => Ok(OperatorPlacement::Site(weights[0].0)),
                _ => Ok(OperatorPlacement::Plan(SubtaskPlan::Spread(weights))),
            }
        }
        other => Err(SpecError::invalid(path, key, shapes, other)),
    }
}

fn check_failures(
    f: &FailuresSpec,
    path: &Path,
    edge: &EdgeSetup,
) -> Result<FailurePlan, SpecError> {
    let opt = |key: &str, v: &Option<DurationValue>| -> Result<Option<SimDuration>, SpecError> {
        v.as_ref().map(|d| duration(path, key, d)).transpose()
    };
    let need = |key: &str, v: &Option<DurationValue>| -> Result<SimDuration, SpecError> {
        opt(key, v)?.ok_or_else(|| {
            SpecError::invalid(
                path,
                key,
                "a duration (this schedule/kind needs it)",
                "nothing",
            )
        })
    };
    let kind = match f.kind.as_str() {
        "network_delay" => FailureKind::NetworkDelay {
            duration: need("failures.delay_duration", &f.delay_duration)?,
        },
        "tm_crash" => FailureKind::TaskManagerCrash {
            // Live Flink: a killed TaskManager is noticed in 0.1-0.4 s through broken network
            // channels (research/live_flink.md §6).
            detection: opt("failures.detection", &f.detection)?
                .unwrap_or(SimDuration::from_ms(400)),
        },
        "node_loss" => FailureKind::NodeLoss {
            task_managers: f.task_managers.unwrap_or(1).max(1),
            down_for: need("failures.down_for", &f.down_for)?,
        },
        "link_outage" => {
            let names: Vec<&str> = edge.links.iter().map(|l| l.name.as_str()).collect();
            let name = f.link.as_deref().unwrap_or("");
            let link = edge
                .links
                .iter()
                .position(|l| l.name == name)
                .ok_or_else(|| {
                    SpecError::invalid(
                        path,
                        "failures.link",
                        &format!("the name of a [[cluster.links]] entry, one of {names:?}"),
                        format!("{name:?}"),
                    )
                })?;
            FailureKind::LinkOutage {
                link,
                down_for: need("failures.down_for", &f.down_for)?,
            }
        }
        other => {
            return Err(SpecError::invalid(
                path,
                "failures.kind",
                "one of \"network_delay\", \"tm_crash\", \"node_loss\", \"link_outage\"",
                format!("{other:?}"),
            ))
        }
    };
    let schedule = match f.schedule.as_str() {
        "periodic" => {
            let every = need("failures.every", &f.every)?;
            if every.is_zero() {
                return Err(SpecError::invalid(
                    path,
                    "failures.every",
                    "a duration > 0",
                    "0",
                ));
            }
            FailureSchedule::Periodic { every }
        }
        "poisson" => {
            let mean = need("failures.mean_interval", &f.mean_interval)?;
            if mean.as_ms() < 1000 {
                return Err(SpecError::invalid(
                    path,
                    "failures.mean_interval",
                    "a duration >= 1s",
                    format!("{mean}"),
                ));
            }
            FailureSchedule::Poisson {
                mean_interval: mean,
            }
        }
        "weibull" => {
            let shape = f.shape.unwrap_or(0.0);
            if !(shape.is_finite() && shape > 0.05 && shape <= 20.0) {
                return Err(SpecError::invalid(
                    path,
                    "failures.shape",
                    "a Weibull shape in (0.05, 20]",
                    shape,
                ));
            }
            let scale = need("failures.scale", &f.scale)?;
            if scale.as_ms() < 1000 {
                return Err(SpecError::invalid(
                    path,
                    "failures.scale",
                    "a duration >= 1s",
                    format!("{scale}"),
                ));
            }
            FailureSchedule::Weibull { shape, scale }
        }
        "list" => {
            let mut at = Vec::new();
            for (i, v) in f.at.iter().enumerate() {
                at.push(SimTime::ZERO + duration(path, &format!("failures.at[{i}]"), v)?);
            }
            at.sort();
            FailureSchedule::At(at)
        }
        other => {
            return Err(SpecError::invalid(
                path,
                "failures.schedule",
                "one of \"periodic\", \"poisson\", \"weibull\", \"list\"",
                format!("{other:?}"),
            ))
        }
    };
    let before = opt(
        "failures.align_before_checkpoint",
        &f.align_before_checkpoint,
    )?;
    let injector_interval = opt(
        "failures.injector_checkpoint_interval",
        &f.injector_checkpoint_interval,
    )?;
    let alignment = match (before, injector_interval) {
        (None, None) => Alignment::None,
        (None, Some(_)) => {
            return Err(SpecError::invalid(
                path,
                "failures.injector_checkpoint_interval",
                "to be given together with failures.align_before_checkpoint (it only sets the interval that alignment computes with)",
                "no align_before_checkpoint",
            ))
        }
        (Some(before), interval) => {
            if let Some(i) = interval.filter(|i| *i <= before) {
                return Err(SpecError::invalid(
                    path,
                    "failures.injector_checkpoint_interval",
                    &format!("an interval longer than align_before_checkpoint ({before}): the injector would never find time to inject"),
                    i.to_string(),
                ));
            }
            Alignment::BeforeCheckpoint(InjectorClock { before, interval })
        }
    };
    Ok(FailurePlan {
        kind,
        schedule,
        alignment,
        second_failover: SecondFailover::Model,
    })
}
