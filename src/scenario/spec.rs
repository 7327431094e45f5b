//! The scenario file as written: serde types with unknown keys rejected.

use std::path::PathBuf;

use serde::Deserialize;

use super::DurationValue;
use crate::flink::SchedulerMode;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSpec {
    pub scenario: ScenarioSection,
    pub job: JobRef,
    pub workload: crate::workload::WorkloadSpec,
    #[serde(default)]
    pub cluster: ClusterSpec,
    pub config: ConfigSpec,
    pub failures: Option<FailuresSpec>,
    pub policy: Option<PolicySpec>,
    pub output: Option<OutputSpec>,
    /// Edge placement: which site each operator runs on (needs `[[cluster.sites]]`).
    pub placement: Option<PlacementSpec>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSection {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub seed: u64,
    pub duration: DurationValue,
    pub tick: Option<DurationValue>,
    /// Epoch second of simulated time zero, used for the run folder's timestamps.
    #[serde(default = "default_start_epoch")]
    pub start_epoch: i64,
}

fn default_start_epoch() -> i64 {
    // 2023-09-29 08:08:03 UTC, the start of the recorded Static YSB run (research/demeter.md §6).
    1_695_974_883
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobRef {
    pub model: PathBuf,
    #[serde(default)]
    pub scheduler: SchedulerMode,
    /// Per-operator selectivity overrides (operator name -> output records per input record),
    /// e.g. the placement experiments' filter at 0.3 and 0.7 from one model file.
    #[serde(default)]
    pub selectivity: std::collections::BTreeMap<String, f64>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSpec {
    /// A node-class file; the shipped `models/nodes.toml` when absent.
    pub nodes: Option<PathBuf>,
    #[serde(default = "default_node_class")]
    pub node_class: String,
    /// Homogeneous cluster: nodes powered at least (energy); default as the TaskManagers need.
    pub node_count: Option<u32>,
    /// Marginal WAN energy per bit, J (default 2e-6, edge_energy.md §B6).
    pub wan_j_per_bit: Option<f64>,
    /// Sites of a heterogeneous (edge + cloud) cluster; none = the homogeneous twin.
    #[serde(default)]
    pub sites: Vec<SiteSpec>,
    /// WAN links between sites.
    #[serde(default)]
    pub links: Vec<LinkSpec>,
}

impl Default for ClusterSpec {
    fn default() -> Self {
        ClusterSpec {
            nodes: None,
            node_class: default_node_class(),
            node_count: None,
            wan_j_per_bit: None,
            sites: Vec::new(),
            links: Vec::new(),
        }
    }
}

/// `[[cluster.sites]]`: nodes of one class at one place.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteSpec {
    pub name: String,
    pub node_class: String,
    #[serde(default = "one_node")]
    pub nodes: u32,
}

fn one_node() -> u32 {
    1
}

/// `[[cluster.links]]`: a WAN link between two sites.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    pub name: String,
    /// The two site names.
    pub between: [String; 2],
    pub bandwidth_bps: f64,
    #[serde(default)]
    pub rtt_ms: f64,
    /// Queue (qdisc) bytes; default 1.5 MB = 1 000 packets of 1 500 B (edge_energy.md §A6).
    pub queue_bytes: Option<f64>,
    #[serde(default)]
    pub overhead_fraction: f64,
    #[serde(default)]
    pub base_power_w: f64,
}

/// `[placement]`: the site of each operator, or of each of its subtasks.
#[derive(Clone, Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PlacementSpec {
    /// Site of operators not listed (default: the last site, conventionally the cloud).
    pub default_site: Option<String>,
    /// Operator name -> where its subtasks run: a site name (every subtask; the shorthand),
    /// a list with one `"site"` or `"site:node"` per subtask, or `{ spread = { site = weight,
    /// ... } }`. Checked in `scenario::check_edge`.
    #[serde(default)]
    pub operators: std::collections::BTreeMap<String, toml::Value>,
    /// Override the job model's operator chaining.
    pub chaining: Option<bool>,
    /// Slot sharing (default true, Flink's default); the placement experiments disable it.
    #[serde(default = "yes")]
    pub slot_sharing: bool,
}

fn default_node_class() -> String {
    "server".into()
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigSpec {
    pub scale_out: u32,
    pub task_slots: u32,
    pub cpu: f64,
    pub memory_mb: u32,
    pub checkpoint_interval: DurationValue,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailuresSpec {
    /// network_delay | tm_crash | node_loss
    pub kind: String,
    /// periodic | poisson | weibull | list
    pub schedule: String,
    pub every: Option<DurationValue>,
    pub mean_interval: Option<DurationValue>,
    pub shape: Option<f64>,
    pub scale: Option<DurationValue>,
    #[serde(default)]
    pub at: Vec<DurationValue>,
    pub delay_duration: Option<DurationValue>,
    pub detection: Option<DurationValue>,
    pub task_managers: Option<u32>,
    pub down_for: Option<DurationValue>,
    pub align_before_checkpoint: Option<DurationValue>,
    /// The checkpoint interval the injector computes its wait with (default: the job's own).
    pub injector_checkpoint_interval: Option<DurationValue>,
    /// `link_outage`: the name of the WAN link that goes down (for `down_for`).
    pub link: Option<String>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    #[serde(default = "default_policy")]
    pub name: String,
    /// The policy's own parameters; each policy rejects keys it does not know.
    #[serde(default)]
    pub params: toml::Table,
}

impl Default for PolicySpec {
    fn default() -> Self {
        PolicySpec {
            name: default_policy(),
            params: toml::Table::new(),
        }
    }
}

fn default_policy() -> String {
    "static".into()
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    pub dir: Option<PathBuf>,
    #[serde(default = "yes")]
    pub plots: bool,
}

fn yes() -> bool {
    true
}
