//! Node classes: the machines TaskManagers run on (speed, cores, memory, power), from `models/nodes.toml`;
//! and the heterogeneous cluster of edge placement: sites, WAN links between them, the site of
//! every operator, and the linear power model.

use serde::{Deserialize, Serialize};

use crate::flink::model::{non_negative, positive};
use crate::scenario::SpecError;

/// The node classes shipped with the crate (`models/nodes.toml`).
pub const BUILTIN_NODES_TOML: &str = include_str!("../models/nodes.toml");

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NodeClass {
    pub name: String,
    /// Per-core speed relative to the reference server core.
    pub speed: f64,
    pub cores: u32,
    pub memory_mb: u32,
    pub power_idle_w: f64,
    pub power_max_w: f64,
}

impl NodeClass {
    /// Linear power model (edge_energy.md §B4): `P_idle + (P_max - P_idle) x u`, `u` clamped to
    /// 0..1. A powered node never draws less than its idle power (no CloudSim "off at 0" quirk).
    pub fn power_w(&self, utilisation: f64) -> f64 {
        let u = utilisation.clamp(0.0, 1.0);
        self.power_idle_w + (self.power_max_w - self.power_idle_w) * u
    }
}

/// Marginal WAN energy per bit, attributional accounting (edge_energy.md §B6: default
/// 2 µJ/bit, sweep 0.1-30 µJ/bit).
pub const DEFAULT_WAN_J_PER_BIT: f64 = 2e-6;

/// A place where nodes of one class sit (a data centre, a field site with Raspberry Pis).
#[derive(Clone, Debug, PartialEq)]
pub struct Site {
    pub name: String,
    pub node_class: NodeClass,
    /// Powered nodes at the site (each with `node_class.cores` cores = slots when slot sharing
    /// is off, as in the placement experiments).
    pub nodes: u32,
}

impl Site {
    pub fn cores(&self) -> u32 {
        self.nodes * self.node_class.cores
    }
    pub fn memory_mb(&self) -> f64 {
        self.nodes as f64 * self.node_class.memory_mb as f64
    }
}

/// A bandwidth-limited WAN link between two sites (an HTB rate limit plus delay, A5/A6).
#[derive(Clone, Debug, PartialEq)]
pub struct WanLink {
    pub name: String,
    /// Site indices of the two ends; the link carries both directions, sharing its capacity.
    pub a: usize,
    pub b: usize,
    pub bandwidth_bps: f64,
    pub rtt_ms: f64,
    /// Bytes the link's queue (qdisc) holds before it refuses data (A6: cap by bytes).
    pub queue_bytes: f64,
    /// Wire bytes per payload byte minus one (framing + TCP/IP headers, A6 ≈ 0.035); 0 by
    /// default so that 32-byte records give the placement experiments' 395 rec/s at 100 kbit/s.
    pub overhead_fraction: f64,
    /// Always-on power attributed to the link (edge_energy.md §B6 baseline term), W.
    pub base_power_w: f64,
}

impl WanLink {
    /// Payload bytes per second the link carries.
    pub fn payload_bytes_per_s(&self) -> f64 {
        self.bandwidth_bps / 8.0 / (1.0 + self.overhead_fraction)
    }
    pub fn connects(&self, x: usize, y: usize) -> bool {
        (self.a == x && self.b == y) || (self.a == y && self.b == x)
    }
}

/// The heterogeneous cluster and the placement of the job onto it. The default (no sites) is
/// the homogeneous twin: every subtask on the scenario's node class, nothing crosses a WAN.
#[derive(Clone, Debug, PartialEq)]
pub struct EdgeSetup {
    /// Sites; empty = one implicit site of `energy_node` nodes (the homogeneous twin).
    pub sites: Vec<Site>,
    pub links: Vec<WanLink>,
    /// Site of every operator of the job model (index into `sites`); empty = all on site 0.
    /// With a per-subtask plan this is the site most of the operator's subtasks run on.
    pub op_site: Vec<usize>,
    /// Per-subtask placement of operators (`[placement.operators]` lists or spread rules);
    /// empty or `None` = every subtask of the operator on `op_site`.
    pub op_plan: Vec<Option<SubtaskPlan>>,
    /// Operator chaining override (`pipeline.operator-chaining`); `None` = the job model's.
    pub chaining: Option<bool>,
    /// Slot sharing: with it a site needs max-parallelism slots, without it one slot per subtask.
    pub slot_sharing: bool,
    /// Node class of the homogeneous twin (energy only; its speed is `TwinSetup::node_speed`).
    pub energy_node: NodeClass,
    /// Homogeneous twin: nodes powered at least (default: as many as the TaskManagers' cores
    /// need, `ceil(TMs x cpu / cores)`).
    pub node_count: Option<u32>,
    pub wan_j_per_bit: f64,
    /// Where the input data is produced when that is not the sources' site (the `all-cloud`
    /// placement: raw events cross the WAN into a cloud Kafka before the source reads them).
    pub ingest_site: Option<usize>,
}

impl Default for EdgeSetup {
    fn default() -> Self {
        EdgeSetup {
            sites: Vec::new(),
            links: Vec::new(),
            op_site: Vec::new(),
            op_plan: Vec::new(),
            chaining: None,
            slot_sharing: true,
            energy_node: NodeClasses::builtin()
                .get("server")
                .cloned()
                .expect("shipped server class"),
            node_count: None,
            wan_j_per_bit: DEFAULT_WAN_J_PER_BIT,
            ingest_site: None,
        }
    }
}

impl EdgeSetup {
    /// Whether there is anything beyond the homogeneous twin.
    pub fn is_heterogeneous(&self) -> bool {
        !self.sites.is_empty()
    }
    /// The site of operator `op`.
    pub fn site_of_op(&self, op: usize) -> usize {
        self.op_site.get(op).copied().unwrap_or(0)
    }
    /// The link between two different sites, if any.
    pub fn link_between(&self, x: usize, y: usize) -> Option<usize> {
        self.links.iter().position(|l| l.connects(x, y))
    }
    pub fn site_index(&self, name: &str) -> Option<usize> {
        self.sites.iter().position(|s| s.name == name)
    }
    /// The per-subtask plan of operator `op`, if it has one.
    pub fn plan_of_op(&self, op: usize) -> Option<&SubtaskPlan> {
        self.op_plan.get(op).and_then(Option::as_ref)
    }
    /// Where each of the `p` subtasks of operator `op` runs.
    pub fn subtasks_of_op(&self, op: usize, p: u32) -> Vec<SubtaskSite> {
        match self.plan_of_op(op) {
            Some(plan) => plan.resolve(p),
            None => vec![
                SubtaskSite {
                    site: self.site_of_op(op),
                    node: None
                };
                p as usize
            ],
        }
    }
    /// Per operator, a key that is equal for two operators exactly when their subtasks run on
    /// the same sites (what chaining needs): the site, or for a per-subtask plan a number past
    /// the site indices shared by operators with an equal plan.
    pub fn chain_keys(&self) -> Vec<usize> {
        if self.op_plan.iter().all(Option::is_none) {
            return self.op_site.clone();
        }
        (0..self.op_site.len())
            .map(|i| match self.plan_of_op(i) {
                None => self.site_of_op(i),
                Some(plan) => {
                    let first = (0..=i)
                        .find(|&j| self.plan_of_op(j) == Some(plan))
                        .unwrap_or(i);
                    self.sites.len() + first
                }
            })
            .collect()
    }
}

/// Where one subtask runs: a site and, optionally, which of its nodes (`None`: the first node
/// with a free slot, the way Flink's default slot allocation packs TaskManagers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SubtaskSite {
    pub site: usize,
    pub node: Option<u32>,
}

/// Per-subtask placement of one operator (the flink-placement custom scheduler's
/// "<task> (<i>/<n>); <TaskManager>" lines, edge_energy.md §A1).
#[derive(Clone, Debug, PartialEq)]
pub enum SubtaskPlan {
    /// One entry per subtask. At another parallelism (after a rescale) the list counts as a
    /// spread with the shares it gives each site.
    List(Vec<SubtaskSite>),
    /// Subtasks split over sites in proportion to integer weights (largest remainder), in
    /// contiguous blocks in site order; `(site, weight)` sorted by site.
    Spread(Vec<(usize, u32)>),
}

impl SubtaskPlan {
    /// The site (and node) of each of `p` subtasks. Deterministic, integer arithmetic.
    pub fn resolve(&self, p: u32) -> Vec<SubtaskSite> {
        match self {
            SubtaskPlan::List(l) if l.len() == p as usize => l.clone(),
            SubtaskPlan::List(l) => {
                let mut w: std::collections::BTreeMap<usize, u32> = Default::default();
                for s in l {
                    *w.entry(s.site).or_insert(0) += 1;
                }
                SubtaskPlan::Spread(w.into_iter().collect()).resolve(p)
            }
            SubtaskPlan::Spread(w) => {
                let total: u64 = w.iter().map(|&(_, x)| x as u64).sum::<u64>().max(1);
                let p64 = p as u64;
                let mut count: Vec<u64> = w.iter().map(|&(_, x)| p64 * x as u64 / total).collect();
                let mut left = p64 - count.iter().sum::<u64>();
                // Largest remainder first, ties to the lower site.
                let mut order: Vec<usize> = (0..w.len()).collect();
                order.sort_by_key(|&k| std::cmp::Reverse(p64 * w[k].1 as u64 % total));
                for k in order {
                    if left == 0 {
                        break;
                    }
                    count[k] += 1;
                    left -= 1;
                }
                w.iter()
                    .zip(count)
                    .flat_map(|(&(site, _), n)| {
                        std::iter::repeat_n(SubtaskSite { site, node: None }, n as usize)
                    })
                    .collect()
            }
        }
    }
    /// The site with the most subtasks at parallelism `p` (ties: the lower index).
    pub fn main_site(&self, p: u32) -> usize {
        let mut n: std::collections::BTreeMap<usize, u32> = Default::default();
        for s in self.resolve(p) {
            *n.entry(s.site).or_insert(0) += 1;
        }
        n.iter()
            .max_by_key(|&(site, c)| (*c, std::cmp::Reverse(*site)))
            .map(|(s, _)| *s)
            .unwrap_or(0)
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NodeClasses {
    pub node_class: Vec<NodeClass>,
}

impl NodeClasses {
    /// Parses and checks a node-class file; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<NodeClasses, SpecError> {
        let classes: NodeClasses = toml::from_str(text).map_err(|e| SpecError::parse(file, e))?;
        for (i, c) in classes.node_class.iter().enumerate() {
            positive(&format!("node_class[{i}].speed"), c.speed, 100.0, file)?;
            positive(
                &format!("node_class[{i}].cores"),
                c.cores as f64,
                4096.0,
                file,
            )?;
            positive(
                &format!("node_class[{i}].memory_mb"),
                c.memory_mb as f64,
                1e8,
                file,
            )?;
            non_negative(
                &format!("node_class[{i}].power_idle_w"),
                c.power_idle_w,
                1e5,
                file,
            )?;
            if !(c.power_max_w >= c.power_idle_w && c.power_max_w <= 1e5) {
                return Err(SpecError::Invalid {
                    file: file.into(),
                    key: format!("node_class[{i}].power_max_w"),
                    expected: "watts >= power_idle_w and <= 100000".into(),
                    found: c.power_max_w.to_string(),
                });
            }
        }
        Ok(classes)
    }

    pub fn builtin() -> NodeClasses {
        Self::parse(BUILTIN_NODES_TOML, "models/nodes.toml").expect("shipped node classes parse")
    }

    pub fn get(&self, name: &str) -> Option<&NodeClass> {
        self.node_class.iter().find(|c| c.name == name)
    }

    pub fn names(&self) -> Vec<&str> {
        self.node_class.iter().map(|c| c.name.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_classes_have_server_and_pi() {
        let c = NodeClasses::builtin();
        assert_eq!(c.get("server").unwrap().speed, 1.0);
        assert_eq!(c.get("rpi4b").unwrap().power_idle_w, 2.7);
    }

    #[test]
    fn linear_power_matches_the_research_defaults() {
        let c = NodeClasses::builtin();
        let pi = c.get("rpi4b").unwrap();
        assert_eq!(pi.power_w(0.0), 2.7);
        assert!((pi.power_w(1.0) - 6.4).abs() < 1e-12);
        assert!((pi.power_w(0.5) - 4.55).abs() < 1e-12);
        assert_eq!(pi.power_w(3.0), pi.power_w(1.0));
        let s = c.get("server").unwrap();
        assert_eq!((s.power_w(0.0), s.power_w(1.0)), (100.0, 250.0));
    }

    #[test]
    fn a_100_kbit_link_carries_390_records_of_32_bytes() {
        let l = WanLink {
            name: "wan".into(),
            a: 0,
            b: 1,
            bandwidth_bps: 100_000.0,
            rtt_ms: 50.0,
            queue_bytes: 1.5e6,
            overhead_fraction: 0.0,
            base_power_w: 0.0,
        };
        assert!((l.payload_bytes_per_s() / 32.0 - 390.625).abs() < 1e-9);
        assert!(l.connects(1, 0) && !l.connects(0, 0));
    }

    #[test]
    fn spread_rules_split_subtasks_by_weight_in_site_blocks() {
        let sp = SubtaskPlan::Spread(vec![(0, 1), (1, 3)]);
        let sites = |p| sp.resolve(p).iter().map(|s| s.site).collect::<Vec<_>>();
        assert_eq!(sites(4), vec![0, 1, 1, 1]);
        assert_eq!(sites(2), vec![0, 1]); // 0.5 / 1.5: remainders 2 vs 2 -> lower site
        assert_eq!(sites(1), vec![1]);
        assert_eq!(sites(8), vec![0, 0, 1, 1, 1, 1, 1, 1]);
        assert_eq!(sp.main_site(4), 1);
        // A list at another parallelism keeps its shares.
        let at = |site| SubtaskSite { site, node: None };
        let l = SubtaskPlan::List(vec![at(0), at(1)]);
        assert_eq!(l.resolve(2), vec![at(0), at(1)]);
        assert_eq!(l.resolve(4), vec![at(0), at(0), at(1), at(1)]);
        assert_eq!(l.main_site(2), 0);
    }

    #[test]
    fn equal_plans_share_a_chain_key() {
        let mut e = EdgeSetup {
            sites: vec![
                Site {
                    name: "edge".into(),
                    node_class: NodeClasses::builtin().get("rpi4b").unwrap().clone(),
                    nodes: 1,
                },
                Site {
                    name: "cloud".into(),
                    node_class: NodeClasses::builtin().get("server").unwrap().clone(),
                    nodes: 1,
                },
            ],
            op_site: vec![0, 0, 1, 1],
            ..EdgeSetup::default()
        };
        assert_eq!(e.chain_keys(), vec![0, 0, 1, 1]);
        let sp = SubtaskPlan::Spread(vec![(0, 1), (1, 1)]);
        e.op_plan = vec![None, Some(sp.clone()), Some(sp), None];
        assert_eq!(e.chain_keys(), vec![0, 3, 3, 1]);
    }

    #[test]
    fn bad_power_is_rejected_with_the_key() {
        let text = "[[node_class]]\nname='x'\nspeed=1.0\ncores=1\nmemory_mb=1\npower_idle_w=5.0\npower_max_w=1.0\n";
        let e = NodeClasses::parse(text, "n.toml").unwrap_err().to_string();
        assert!(
            e.contains("n.toml") && e.contains("node_class[0].power_max_w"),
            "{e}"
        );
    }
}
