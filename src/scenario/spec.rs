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
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSpec {
    /// A node-class file; the shipped `models/nodes.toml` when absent.
    pub nodes: Option<PathBuf>,
    #[serde(default = "default_node_class")]
    pub node_class: String,
}

impl Default for ClusterSpec {
    fn default() -> Self {
        ClusterSpec {
            nodes: None,
            node_class: default_node_class(),
        }
    }
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
