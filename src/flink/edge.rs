//! Edge placement and energy inside the twin: per-vertex sites and node speeds, WAN links as
//! capacities on the edges that cross them (with a byte queue, sharing and outages), the latency
//! a link adds, and the joules every node class and the WAN use.
//!
//! Link model (research/edge_energy.md §A6, simplified to what a fluid tick can carry):
//! - subtasks are placed one by one (`[placement.operators]`: a site, a per-subtask list or a
//!   spread rule); records are spread evenly over a vertex's subtasks (Kafka partitions evenly
//!   assigned, round-robin `rebalance`, uniform key groups for `hash`), so a vertex runs at
//!   parallelism x its slowest subtask, and the share of a job edge's records that goes from
//!   site `a` to site `b` follows the partitioning: `forward` pairs subtask i with subtask i
//!   (`count(i: a -> b) / p`), `hash`/`rebalance` is all-to-all (`n_a / p_up x n_b / p_down`);
//! - every such share between two different sites crosses the link between them (a crossing
//!   part with fraction `phi`) and has its own queue `Q_e` (records) holding at most its share
//!   of the link's `queue_bytes`; the job edge is held back by its most constrained part
//!   (round-robin and key-hash writers block on the channel without credit);
//! - per tick the link delivers at most `payload bytes/s x dt`; it is shared among its crossing
//!   parts **max-min fairly by their demand in the previous tick** (what the sender would have
//!   sent unthrottled plus its queue; TCP-like, §A6.3): a part that wants less than an equal
//!   split gets what it wants, the others split the rest — deterministic and work-conserving
//!   (a small filtered flow is not starved by a raw flow with a Kafka backlog behind it);
//! - reverse pass: a crossing edge admits `(queue room) + min(link share, consumer room)`
//!   records; a full queue backpressures the sender exactly like a full in-flight buffer;
//! - latency across a link: RTT/2 + serialisation of one network buffer (full 32 KiB, or what
//!   arrives within the 100-ms buffer timeout) + queueing `Q_e / delivery rate`;
//! - an outage sets the link's capacity to 0 for its duration.
//!
//! Energy (§B4, §B7): every powered node draws `P_idle + (P_max - P_idle) x u` with `u` = busy
//! core-seconds of the subtasks on its site / (nodes x cores x dt); WAN energy is
//! `wan_j_per_bit x bits delivered + base_power_w x t` per link.

use std::collections::BTreeMap;

use crate::cluster::{EdgeSetup, NodeClass};
use crate::runfolder::Series;

use super::graph::JobGraph;
use super::model::ShipStrategy;

/// `execution.buffer-timeout` default (A6 [R]): a partially filled buffer ships after 100 ms.
const BUFFER_TIMEOUT_S: f64 = 0.1;
/// Flink's network segment (`taskmanager.memory.segment-size` default 32 KiB).
const SEGMENT_BYTES: f64 = 32_768.0;

/// Bytes of a raw input record: the job's `record_bytes` as the source reads it.
fn setup_record_bytes(graph: &JobGraph) -> f64 {
    graph
        .vertices
        .first()
        .map(|v| v.in_record_bytes)
        .unwrap_or(1.0)
}

/// The part of one job edge that crosses one WAN link.
#[derive(Clone, Debug, PartialEq)]
pub struct CrossEdge {
    pub from: usize,
    pub to: usize,
    pub link: usize,
    /// Payload bytes per record on this edge (the sender's `out_record_bytes`).
    pub record_bytes: f64,
    /// Share of the edge's records that take this link (1 when every subtask of both ends
    /// sits on one site each).
    pub fraction: f64,
}

/// How records of a job edge spread over (sender site, receiver site) pairs: `(a, b, n, d)`
/// means `n / d` of the records go from site `a` to site `b` (exact integers, so a
/// per-operator placement gives exactly 1). `forward` with equal parallelism pairs subtask i
/// with subtask i; anything else (hash, rebalance, forward between different parallelisms,
/// which Flink turns into rebalance) is all-to-all with even shares.
pub fn traffic_pairs(
    up: &[usize],
    down: &[usize],
    ship: ShipStrategy,
) -> Vec<(usize, usize, u64, u64)> {
    let mut n: BTreeMap<(usize, usize), u64> = BTreeMap::new();
    let d = if ship == ShipStrategy::Forward && up.len() == down.len() {
        for (a, b) in up.iter().zip(down) {
            *n.entry((*a, *b)).or_insert(0) += 1;
        }
        up.len() as u64
    } else {
        let count = |sites: &[usize]| {
            let mut c: BTreeMap<usize, u64> = BTreeMap::new();
            for s in sites {
                *c.entry(*s).or_insert(0) += 1;
            }
            c
        };
        let (cu, cd) = (count(up), count(down));
        for (a, x) in &cu {
            for (b, y) in &cd {
                n.insert((*a, *b), x * y);
            }
        }
        (up.len() * down.len()) as u64
    };
    n.into_iter()
        .map(|((a, b), k)| (a, b, k, d.max(1)))
        .collect()
}

/// Energy used so far, split as the reports want it.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EnergyTotals {
    pub energy_j: f64,
    /// Node energy per node class name (sorted by name), J.
    pub node_energy_j: std::collections::BTreeMap<String, f64>,
    /// Idle part of the node energy (what the nodes draw at zero utilisation), J.
    pub idle_energy_j: f64,
    pub wan_energy_j: f64,
    /// Payload bytes carried over WAN links.
    pub wan_bytes: f64,
}

/// The edge part of the twin's state.
#[derive(Clone, Debug)]
pub struct EdgeState {
    pub setup: EdgeSetup,
    /// Main site of each vertex (0 for the homogeneous twin): where its first operator is
    /// placed, or where most of its subtasks run.
    pub vertex_site: Vec<usize>,
    /// Site of every subtask of every vertex at the current parallelism.
    pub subtask_site: Vec<Vec<usize>>,
    /// Node speed of each vertex's slowest subtask (records are spread evenly, so it paces
    /// the vertex).
    pub vertex_speed: Vec<f64>,
    /// Per vertex: `(site, weight)`, weight = the site's subtasks' busy time relative to the
    /// slowest subtask's (`sum of min speed / speed`; = subtask count on one site).
    busy_weight: Vec<Vec<(usize, f64)>>,
    /// Per vertex: mean busy time of its subtasks relative to the slowest (1 on one site).
    pub busy_mean: Vec<f64>,
    /// For each vertex, per output (aligned with `graph.outputs[v]`), the crossing parts
    /// (indices into `cross`) and the share of records that stays on its site.
    pub out_cross: Vec<Vec<(Vec<usize>, f64)>>,
    pub cross: Vec<CrossEdge>,
    /// Sites that run at least one subtask.
    site_used: Vec<bool>,
    /// Records queued on each crossing edge's link share.
    pub queue: Vec<f64>,
    share: Vec<f64>,
    demand: Vec<f64>,
    deliver_max: Vec<f64>,
    delivered_sec: Vec<f64>,
    /// Records delivered per crossing edge over the last completed second.
    pub delivered_last_second: Vec<f64>,
    pub link_up: Vec<bool>,
    /// The link raw input crosses before the sources read it (`ingest_site`), and its bytes.
    pub ingest: Option<(usize, f64)>,
    pub totals: EnergyTotals,
    busy_core_s: Vec<f64>,
    busy_core_s_total: Vec<f64>,
    second_j: f64,
    /// Mean power per second (W), the run folder's `power.csv`.
    pub power_w: Series,
    /// The homogeneous twin's node speed.
    node_speed: f64,
    /// Length of the last tick (link capacity per tick for the shares).
    dt_s: f64,
}

impl EdgeState {
    /// Lays the job graph onto the sites (every vertex at parallelism 1 until [`lay_out`]
    /// is given the real one); `node_speed` is the homogeneous twin's speed.
    ///
    /// [`lay_out`]: EdgeState::lay_out
    pub fn new(setup: EdgeSetup, graph: &JobGraph, node_speed: f64) -> EdgeState {
        let n = graph.len();
        let sites = setup.sites.len().max(1);
        let links = setup.links.len();
        let mut st = EdgeState {
            vertex_site: vec![0; n],
            subtask_site: vec![Vec::new(); n],
            vertex_speed: vec![node_speed; n],
            busy_weight: vec![Vec::new(); n],
            busy_mean: vec![1.0; n],
            out_cross: vec![Vec::new(); n],
            cross: Vec::new(),
            site_used: vec![false; sites],
            queue: Vec::new(),
            share: Vec::new(),
            demand: Vec::new(),
            deliver_max: Vec::new(),
            delivered_sec: Vec::new(),
            delivered_last_second: Vec::new(),
            link_up: vec![true; links],
            ingest: None,
            totals: EnergyTotals::default(),
            busy_core_s: vec![0.0; sites],
            busy_core_s_total: vec![0.0; sites],
            second_j: 0.0,
            power_w: Series::default(),
            node_speed,
            dt_s: 1.0,
            setup,
        };
        st.lay_out(graph, &vec![1; n]);
        st
    }

    fn speed_of(&self, site: usize) -> f64 {
        if self.setup.is_heterogeneous() {
            self.setup.sites[site].node_class.speed
        } else {
            self.node_speed
        }
    }

    /// Places every subtask at `parallelism` (per vertex) and derives speeds, busy-time
    /// weights and the crossing parts. Queues survive when the crossing parts stay the same
    /// (always for per-operator placement); otherwise they start empty (a rescale restarts
    /// the job and loses the records in flight anyway).
    pub fn lay_out(&mut self, graph: &JobGraph, parallelism: &[u32]) {
        let n = graph.len();
        let hetero = self.setup.is_heterogeneous();
        self.subtask_site = (0..n)
            .map(|v| {
                let p = parallelism.get(v).copied().unwrap_or(1).max(1);
                if hetero {
                    let op = graph.vertices[v].operators[0];
                    self.setup
                        .subtasks_of_op(op, p)
                        .iter()
                        .map(|s| s.site)
                        .collect()
                } else {
                    vec![0; p as usize]
                }
            })
            .collect();
        self.vertex_site = (0..n)
            .map(|v| {
                let op = graph.vertices[v].operators[0];
                match self.setup.plan_of_op(op) {
                    Some(plan) if hetero => plan.main_site(self.subtask_site[v].len() as u32),
                    _ if hetero => self.setup.site_of_op(op),
                    _ => 0,
                }
            })
            .collect();
        self.site_used = vec![false; self.setup.sites.len().max(1)];
        self.vertex_speed.clear();
        self.busy_weight.clear();
        self.busy_mean.clear();
        for v in 0..n {
            let sites = &self.subtask_site[v];
            let slowest = sites
                .iter()
                .map(|&s| self.speed_of(s))
                .fold(f64::INFINITY, f64::min);
            let mut w: BTreeMap<usize, f64> = BTreeMap::new();
            for &s in sites {
                self.site_used[s] = true;
                *w.entry(s).or_insert(0.0) += slowest / self.speed_of(s);
            }
            let total: f64 = w.values().sum();
            self.vertex_speed.push(slowest);
            self.busy_mean.push(total / sites.len() as f64);
            self.busy_weight.push(w.into_iter().collect());
        }
        let mut cross = Vec::new();
        let mut out_cross = vec![Vec::new(); n];
        for (v, outs) in out_cross.iter_mut().enumerate() {
            for &c in &graph.outputs[v] {
                let ship = graph.vertices[c]
                    .inputs
                    .iter()
                    .find(|&&(u, _)| u == v)
                    .map(|&(_, s)| s)
                    .unwrap_or_default();
                let mut by_link: BTreeMap<usize, (u64, u64)> = BTreeMap::new();
                let mut local = (0u64, 1u64);
                for (a, b, k, d) in
                    traffic_pairs(&self.subtask_site[v], &self.subtask_site[c], ship)
                {
                    // A pair without a link stays local (scenarios are checked for links).
                    match (a != b).then(|| self.setup.link_between(a, b)).flatten() {
                        Some(l) => by_link.entry(l).or_insert((0, d)).0 += k,
                        None => local = (local.0 + k, d),
                    }
                }
                let parts = by_link
                    .into_iter()
                    .map(|(l, (k, d))| {
                        cross.push(CrossEdge {
                            from: v,
                            to: c,
                            link: l,
                            record_bytes: graph.vertices[v].out_record_bytes,
                            fraction: k as f64 / d as f64,
                        });
                        cross.len() - 1
                    })
                    .collect();
                outs.push((parts, local.0 as f64 / local.1 as f64));
            }
        }
        self.ingest = self.setup.ingest_site.and_then(|s| {
            let src_site = self.vertex_site.first().copied().unwrap_or(0);
            (s != src_site)
                .then(|| self.setup.link_between(s, src_site))
                .flatten()
                .map(|l| (l, setup_record_bytes(graph)))
        });
        self.out_cross = out_cross;
        if cross != self.cross {
            let k = cross.len();
            self.cross = cross;
            self.queue = vec![0.0; k];
            self.share = vec![0.0; k];
            self.demand = vec![0.0; k];
            self.deliver_max = vec![0.0; k];
            self.delivered_sec = vec![0.0; k];
            self.delivered_last_second = vec![0.0; k];
            self.update_shares();
        }
    }

    /// Whether any job edge crosses a link (the hot loop's fast path skips the link code).
    pub fn has_crossings(&self) -> bool {
        !self.cross.is_empty()
    }

    /// Records the sources may read this tick when the raw input crosses a link (infinite
    /// otherwise).
    #[inline]
    pub fn ingest_cap(&self, dt_s: f64) -> f64 {
        match self.ingest {
            None => f64::INFINITY,
            Some((l, bytes)) if self.link_up[l] => {
                self.setup.links[l].payload_bytes_per_s() * dt_s / bytes
            }
            Some(_) => 0.0,
        }
    }

    /// Accounts records the sources read over the ingest link.
    #[inline]
    pub fn ingested(&mut self, records: f64) {
        if let Some((_, bytes)) = self.ingest {
            let b = records * bytes;
            self.totals.wan_bytes += b;
            let j = b * 8.0 * self.setup.wan_j_per_bit;
            self.totals.wan_energy_j += j;
            self.totals.energy_j += j;
            self.second_j += j;
        }
    }

    /// Reverse pass: records the edge `v -> outputs[v][k]` admits this tick, given the consumer
    /// admits `accept_c`: the most constrained of its crossing parts (each gets its fraction
    /// of the consumer's room) and its local share.
    #[inline]
    pub fn admit(&mut self, v: usize, k: usize, accept_c: f64, dt_s: f64) -> f64 {
        let (parts, local) = &self.out_cross[v][k];
        if parts.is_empty() {
            return accept_c;
        }
        let mut room = if *local > 0.0 {
            accept_c
        } else {
            f64::INFINITY
        };
        for &e in parts {
            let ce = &self.cross[e];
            let link = &self.setup.links[ce.link];
            let bytes_per_s = if self.link_up[ce.link] {
                link.payload_bytes_per_s()
            } else {
                0.0
            };
            let by_link = self.share[e] * bytes_per_s * dt_s / ce.record_bytes;
            self.deliver_max[e] = by_link.min(accept_c * ce.fraction).max(0.0);
            let queue_cap = self.share_of_queue(e) * link.queue_bytes / ce.record_bytes;
            let part = (queue_cap - self.queue[e]).max(0.0) + self.deliver_max[e];
            room = room.min(part / ce.fraction);
        }
        room
    }

    fn share_of_queue(&self, e: usize) -> f64 {
        // Queue space is split like capacity, but never below an equal share so a starved
        // flow can still start.
        let on_link = self
            .cross
            .iter()
            .filter(|c| c.link == self.cross[e].link)
            .count()
            .max(1) as f64;
        self.share[e].max(1.0 / on_link)
    }

    /// Forward pass: `out` records leave `v` on its `k`-th output; returns what reaches the
    /// consumer this tick. `wanted` is what `v` would have sent unthrottled (demand).
    #[inline]
    pub fn send(&mut self, v: usize, k: usize, out: f64, wanted: f64) -> f64 {
        let local = self.out_cross[v][k].1;
        let mut reached = if local > 0.0 { out * local } else { 0.0 };
        for i in 0..self.out_cross[v][k].0.len() {
            let e = self.out_cross[v][k].0[i];
            let phi = self.cross[e].fraction;
            self.demand[e] = (wanted * phi + self.queue[e]) * self.cross[e].record_bytes;
            self.queue[e] += out * phi;
            let delivered = self.queue[e].min(self.deliver_max[e]).max(0.0);
            self.queue[e] -= delivered;
            self.delivered_sec[e] += delivered;
            let bytes = delivered * self.cross[e].record_bytes;
            self.totals.wan_bytes += bytes;
            let j = bytes * 8.0 * self.setup.wan_j_per_bit;
            self.totals.wan_energy_j += j;
            self.totals.energy_j += j;
            self.second_j += j;
            reached += delivered;
        }
        reached
    }

    /// After a tick of `dt_s`: new link shares from this tick's demand.
    pub fn end_tick(&mut self, dt_s: f64) {
        if self.has_crossings() {
            self.dt_s = dt_s;
            self.update_shares();
        }
    }

    /// Max-min fair shares (TCP-like, edge_energy.md §A6.3) of each link among the crossing
    /// parts on it, by last tick's demand (what the sender wanted to ship plus its queue): a
    /// part that wants less than an equal split gets what it wants, the rest is split equally
    /// among the others, and capacity nobody wants is split equally. One part gets the whole
    /// link; before any demand the split is equal.
    fn update_shares(&mut self) {
        for l in 0..self.setup.links.len() {
            let mut on: Vec<usize> = (0..self.cross.len())
                .filter(|&e| self.cross[e].link == l)
                .collect();
            if on.len() == 1 {
                self.share[on[0]] = 1.0;
                continue;
            }
            let cap = self.setup.links[l].payload_bytes_per_s() * self.dt_s;
            let total: f64 = on.iter().map(|&e| self.demand[e]).sum();
            if on.is_empty() || cap <= 0.0 || total <= 0.0 {
                for &e in &on {
                    self.share[e] = 1.0 / on.len() as f64;
                }
                continue;
            }
            // Water-filling, smallest demand first (ties: part order).
            on.sort_by(|&x, &y| self.demand[x].total_cmp(&self.demand[y]).then(x.cmp(&y)));
            let mut left = cap;
            let n = on.len();
            for (i, &e) in on.iter().enumerate() {
                let give = self.demand[e].min(left / (n - i) as f64);
                self.share[e] = give / cap;
                left -= give;
            }
            for &e in &on {
                self.share[e] += left / cap / n as f64;
            }
        }
    }

    /// A restart loses the records in flight on the links.
    pub fn clear_queues(&mut self) {
        self.queue.iter_mut().for_each(|q| *q = 0.0);
    }

    /// Adds the busy core-seconds of vertex `v` in a tick of `dt_s`: `busy` is its slowest
    /// subtask's busy fraction; each site gets `busy x weight x cores_per_subtask x dt`.
    #[inline]
    pub fn add_busy(&mut self, v: usize, busy: f64, cores_per_subtask: f64, dt_s: f64) {
        for &(s, w) in &self.busy_weight[v] {
            let c = busy * w * cores_per_subtask * dt_s;
            self.busy_core_s[s] += c;
            self.busy_core_s_total[s] += c;
        }
    }

    /// Busy core-seconds on site `s` since the start.
    pub fn busy_core_s_total(&self, s: usize) -> f64 {
        self.busy_core_s_total.get(s).copied().unwrap_or(0.0)
    }

    /// Charges the nodes' energy for a tick of `dt_s`. `homogeneous_nodes` is the number of
    /// powered nodes of the homogeneous twin (ignored with sites).
    pub fn charge_tick(&mut self, dt_s: f64, homogeneous_nodes: u32) {
        let hetero = self.setup.is_heterogeneous();
        for s in 0..self.busy_core_s.len() {
            let (class, nodes): (&NodeClass, u32) = if hetero {
                (&self.setup.sites[s].node_class, self.setup.sites[s].nodes)
            } else {
                (&self.setup.energy_node, homogeneous_nodes)
            };
            let busy = std::mem::take(&mut self.busy_core_s[s]);
            if nodes == 0 {
                continue;
            }
            let cores = nodes as f64 * class.cores as f64;
            let u = busy / (cores * dt_s);
            let j = nodes as f64 * class.power_w(u) * dt_s;
            let idle = nodes as f64 * class.power_idle_w * dt_s;
            *self
                .totals
                .node_energy_j
                .entry(class.name.clone())
                .or_insert(0.0) += j;
            self.totals.idle_energy_j += idle;
            self.totals.energy_j += j;
            self.second_j += j;
        }
        for link in &self.setup.links {
            let j = link.base_power_w * dt_s;
            self.totals.wan_energy_j += j;
            self.totals.energy_j += j;
            self.second_j += j;
        }
    }

    /// At a second boundary: the power series and per-second link counters.
    pub fn end_of_second(&mut self, epoch: i64) {
        self.power_w
            .points
            .push((epoch, std::mem::take(&mut self.second_j)));
        if self.has_crossings() {
            self.delivered_last_second =
                std::mem::replace(&mut self.delivered_sec, vec![0.0; self.cross.len()]);
        }
    }

    /// Latency a record picks up crossing links on its way into vertex `v`, ms (the slowest
    /// crossing input counts).
    pub fn latency_into_ms(&self, v: usize) -> f64 {
        let mut worst: f64 = 0.0;
        if let (0, Some((l, bytes))) = (v, self.ingest) {
            // Raw input crossing into the cloud's Kafka: RTT/2 + one record's serialisation.
            let link = &self.setup.links[l];
            let bps = link.payload_bytes_per_s();
            worst = link.rtt_ms / 2.0 + if bps > 0.0 { bytes / bps * 1000.0 } else { 0.0 };
        }
        for (e, ce) in self.cross.iter().enumerate() {
            if ce.to != v {
                continue;
            }
            let link = &self.setup.links[ce.link];
            let bps = link.payload_bytes_per_s() * self.share[e].max(1e-9);
            let rate = self.delivered_last_second[e];
            let bytes_per_s = rate * ce.record_bytes;
            let buffer = (bytes_per_s * BUFFER_TIMEOUT_S).clamp(ce.record_bytes, SEGMENT_BYTES);
            let serialisation_ms = if bps > 0.0 {
                buffer / bps * 1000.0
            } else {
                0.0
            };
            let queue_ms = if self.queue[e] > 0.0 {
                let drain = if rate > 0.0 {
                    rate
                } else {
                    bps / ce.record_bytes
                };
                if drain > 0.0 {
                    self.queue[e] / drain * 1000.0
                } else {
                    0.0
                }
            } else {
                0.0
            };
            worst = worst.max(link.rtt_ms / 2.0 + serialisation_ms + queue_ms);
        }
        worst
    }

    /// Sites a link outage cuts off from each other: true if the job has a vertex on each
    /// side of link `l` (TaskManagers beyond it stop heartbeating).
    pub fn job_spans_link(&self, l: usize) -> bool {
        let link = &self.setup.links[l];
        let used = |s: usize| self.site_used.get(s).copied().unwrap_or(false);
        used(link.a) && used(link.b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_pairs_subtask_i_with_subtask_i() {
        let t = traffic_pairs(&[0, 0], &[0, 1], ShipStrategy::Forward);
        assert_eq!(t, vec![(0, 0, 1, 2), (0, 1, 1, 2)]);
        // One site each: everything crosses, exactly 1.
        let t = traffic_pairs(&[0, 0, 0], &[1, 1, 1], ShipStrategy::Forward);
        assert_eq!(t, vec![(0, 1, 3, 3)]);
    }

    #[test]
    fn hash_and_rebalance_are_all_to_all_with_even_shares() {
        // 1 of 2 senders on the edge, 1 of 4 receivers there: edge -> cloud = 1/2 x 3/4.
        for ship in [ShipStrategy::Hash, ShipStrategy::Rebalance] {
            let t = traffic_pairs(&[0, 1], &[0, 1, 1, 1], ship);
            assert_eq!(
                t,
                vec![(0, 0, 1, 8), (0, 1, 3, 8), (1, 0, 1, 8), (1, 1, 3, 8)]
            );
        }
        // Forward between different parallelisms is a rebalance in Flink.
        let t = traffic_pairs(&[0], &[0, 1], ShipStrategy::Forward);
        assert_eq!(t, vec![(0, 0, 1, 2), (0, 1, 1, 2)]);
    }
}
