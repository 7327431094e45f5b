//! Edge placement and energy inside the twin: per-vertex sites and node speeds, WAN links as
//! capacities on the edges that cross them (with a byte queue, sharing and outages), the latency
//! a link adds, and the joules every node class and the WAN use.
//!
//! Link model (research/edge_energy.md §A6, simplified to what a fluid tick can carry):
//! - every job edge whose endpoints sit on different sites crosses the link between them and
//!   has its own queue `Q_e` (records) holding at most its share of the link's `queue_bytes`;
//! - per tick the link delivers at most `payload bytes/s x dt`; it is shared among its crossing
//!   edges **in proportion to their demand in the previous tick** (what the sender would have
//!   sent unthrottled plus its queue; equal split before any demand) — deterministic, and
//!   work-conserving for two or more saturated flows;
//! - reverse pass: a crossing edge admits `(queue room) + min(link share, consumer room)`
//!   records; a full queue backpressures the sender exactly like a full in-flight buffer;
//! - latency across a link: RTT/2 + serialisation of one network buffer (full 32 KiB, or what
//!   arrives within the 100-ms buffer timeout) + queueing `Q_e / delivery rate`;
//! - an outage sets the link's capacity to 0 for its duration.
//!
//! Energy (§B4, §B7): every powered node draws `P_idle + (P_max - P_idle) x u` with `u` = busy
//! core-seconds of the subtasks on its site / (nodes x cores x dt); WAN energy is
//! `wan_j_per_bit x bits delivered + base_power_w x t` per link.

use crate::cluster::{EdgeSetup, NodeClass};
use crate::runfolder::Series;

use super::graph::JobGraph;

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

/// One job edge that crosses a WAN link.
#[derive(Clone, Debug, PartialEq)]
pub struct CrossEdge {
    pub from: usize,
    pub to: usize,
    pub link: usize,
    /// Payload bytes per record on this edge (the sender's `out_record_bytes`).
    pub record_bytes: f64,
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
    /// Site of each vertex (0 for the homogeneous twin).
    pub vertex_site: Vec<usize>,
    /// Node speed of each vertex's site.
    pub vertex_speed: Vec<f64>,
    /// For each vertex, per output (aligned with `graph.outputs[v]`), the crossing edge index.
    pub out_cross: Vec<Vec<Option<usize>>>,
    pub cross: Vec<CrossEdge>,
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
}

impl EdgeState {
    /// Lays the job graph onto the sites; `node_speed` is the homogeneous twin's speed.
    pub fn new(setup: EdgeSetup, graph: &JobGraph, node_speed: f64) -> EdgeState {
        let n = graph.len();
        let hetero = setup.is_heterogeneous();
        let vertex_site: Vec<usize> = graph
            .vertices
            .iter()
            .map(|vx| {
                if hetero {
                    setup.site_of_op(vx.operators[0])
                } else {
                    0
                }
            })
            .collect();
        let vertex_speed = vertex_site
            .iter()
            .map(|&s| {
                if hetero {
                    setup.sites[s].node_class.speed
                } else {
                    node_speed
                }
            })
            .collect();
        let mut cross = Vec::new();
        let mut out_cross = vec![Vec::new(); n];
        for v in 0..n {
            for &c in &graph.outputs[v] {
                let (sv, sc) = (vertex_site[v], vertex_site[c]);
                let link = if sv != sc {
                    setup.link_between(sv, sc)
                } else {
                    None
                };
                out_cross[v].push(link.map(|l| {
                    cross.push(CrossEdge {
                        from: v,
                        to: c,
                        link: l,
                        record_bytes: graph.vertices[v].out_record_bytes,
                    });
                    cross.len() - 1
                }));
            }
        }
        let ingest = setup.ingest_site.and_then(|s| {
            let src_site = vertex_site.first().copied().unwrap_or(0);
            (s != src_site)
                .then(|| setup.link_between(s, src_site))
                .flatten()
                .map(|l| (l, setup_record_bytes(graph)))
        });
        let k = cross.len();
        let sites = setup.sites.len().max(1);
        let links = setup.links.len();
        let mut st = EdgeState {
            vertex_site,
            vertex_speed,
            out_cross,
            queue: vec![0.0; k],
            share: vec![0.0; k],
            demand: vec![0.0; k],
            deliver_max: vec![0.0; k],
            delivered_sec: vec![0.0; k],
            delivered_last_second: vec![0.0; k],
            cross,
            link_up: vec![true; links],
            ingest,
            totals: EnergyTotals::default(),
            busy_core_s: vec![0.0; sites],
            busy_core_s_total: vec![0.0; sites],
            second_j: 0.0,
            power_w: Series::default(),
            setup,
        };
        st.update_shares();
        st
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
    /// admits `accept_c`.
    #[inline]
    pub fn admit(&mut self, v: usize, k: usize, accept_c: f64, dt_s: f64) -> f64 {
        let Some(e) = self.out_cross[v][k] else {
            return accept_c;
        };
        let ce = &self.cross[e];
        let link = &self.setup.links[ce.link];
        let bytes_per_s = if self.link_up[ce.link] {
            link.payload_bytes_per_s()
        } else {
            0.0
        };
        let by_link = self.share[e] * bytes_per_s * dt_s / ce.record_bytes;
        self.deliver_max[e] = by_link.min(accept_c).max(0.0);
        let queue_cap = self.share_of_queue(e) * link.queue_bytes / ce.record_bytes;
        (queue_cap - self.queue[e]).max(0.0) + self.deliver_max[e]
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
        let Some(e) = self.out_cross[v][k] else {
            return out;
        };
        self.demand[e] = (wanted + self.queue[e]) * self.cross[e].record_bytes;
        self.queue[e] += out;
        let delivered = self.queue[e].min(self.deliver_max[e]).max(0.0);
        self.queue[e] -= delivered;
        self.delivered_sec[e] += delivered;
        let bytes = delivered * self.cross[e].record_bytes;
        self.totals.wan_bytes += bytes;
        let j = bytes * 8.0 * self.setup.wan_j_per_bit;
        self.totals.wan_energy_j += j;
        self.totals.energy_j += j;
        self.second_j += j;
        delivered
    }

    /// After a tick: new link shares from this tick's demand.
    pub fn end_tick(&mut self) {
        if self.has_crossings() {
            self.update_shares();
        }
    }

    fn update_shares(&mut self) {
        for l in 0..self.setup.links.len() {
            let on: Vec<usize> = (0..self.cross.len())
                .filter(|&e| self.cross[e].link == l)
                .collect();
            let total: f64 = on.iter().map(|&e| self.demand[e]).sum();
            for &e in &on {
                self.share[e] = if total > 0.0 {
                    self.demand[e] / total
                } else {
                    1.0 / on.len() as f64
                };
            }
        }
    }

    /// A restart loses the records in flight on the links.
    pub fn clear_queues(&mut self) {
        self.queue.iter_mut().for_each(|q| *q = 0.0);
    }

    /// Adds `busy_subtasks x cores_per_subtask x dt` busy core-seconds for vertex `v`.
    #[inline]
    pub fn add_busy(&mut self, v: usize, busy_core_s: f64) {
        let s = self.vertex_site[v];
        self.busy_core_s[s] += busy_core_s;
        self.busy_core_s_total[s] += busy_core_s;
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
        self.vertex_site.contains(&link.a) && self.vertex_site.contains(&link.b)
    }
}
