//! The design document's cost model (seeds/004; edge_energy.md §A1, §A8), computed from
//! observed metrics only: per vertex `trueOutputProcessingRate = numRecordsOutPerSecond /
//! (busyTimeMsPerSecond / 1000)`, selectivity = out / in, byte selectivity from the bytes each
//! edge sends (`numBytesOut / numBytesIn`), and statefulness. Pipeline: (1) run everything but
//! the sources in the cloud and observe; (2) compute the true rates; (3) walk downstream from
//! the sources and move lightweight operators — stateless and data-reducing (byte selectivity
//! < 1) — onto free edge slots while the edge CPU stays below `u_max`, best "bytes saved per
//! edge core-second" first (§A8 tie-break). The first stateful or non-reducing operator on a
//! path stops the walk there.

use crate::flink::graph::JobGraph;
use crate::flink::model::{JobModel, OperatorKind};
use crate::policy::Observation;

/// What the cost model sees of one vertex (a Flink task) in the baseline run.
#[derive(Clone, Debug, PartialEq)]
pub struct OperatorMetrics {
    pub vertex: String,
    /// Operators chained into the vertex (model indices).
    pub operators: Vec<usize>,
    /// Upstream vertices.
    pub inputs: Vec<usize>,
    pub parallelism: u32,
    pub records_in_per_s: f64,
    pub records_out_per_s: f64,
    /// Mean over subtasks, ms per s.
    pub busy_time_ms_per_s: f64,
    /// `numBytesOutPerSecond / numRecordsOutPerSecond` of the vertex and of its input.
    pub bytes_out_per_record: f64,
    pub bytes_in_per_record: f64,
    /// Keyed or window state (Flink reports it in checkpoint statistics).
    pub stateful: bool,
    pub is_source: bool,
    pub is_sink: bool,
}

impl OperatorMetrics {
    /// DS2's true output rate of one subtask: records out per second of busy time.
    pub fn true_output_rate_per_subtask(&self) -> Option<f64> {
        let busy_s = self.busy_time_ms_per_s / 1000.0;
        (busy_s > 0.0 && self.parallelism > 0)
            .then(|| self.records_out_per_s / self.parallelism as f64 / busy_s)
    }
    /// Busy core-seconds per input record on the observed hardware.
    pub fn cost_s_per_record(&self) -> Option<f64> {
        (self.records_in_per_s > 0.0).then(|| {
            self.busy_time_ms_per_s / 1000.0 * self.parallelism as f64 / self.records_in_per_s
        })
    }
    pub fn selectivity(&self) -> Option<f64> {
        (self.records_in_per_s > 0.0).then(|| self.records_out_per_s / self.records_in_per_s)
    }
    /// Bytes out per byte in.
    pub fn byte_selectivity(&self) -> Option<f64> {
        let bytes_in = self.records_in_per_s * self.bytes_in_per_record;
        (bytes_in > 0.0).then(|| self.records_out_per_s * self.bytes_out_per_record / bytes_in)
    }
}

/// Reads the cost model's inputs off an observation of the baseline run. Rates are the
/// counters accumulated since the job started running divided by that time (Flink's
/// `numRecordsIn` / `accumulated busy time` counters), which smooths per-second noise.
pub fn metrics_from_observation(
    obs: &Observation,
    graph: &JobGraph,
    model: &JobModel,
) -> Vec<OperatorMetrics> {
    let elapsed_s = obs.time.saturating_since(obs.running_since).as_secs_f64();
    let ops = &model.spec.operators;
    obs.vertices
        .iter()
        .enumerate()
        .map(|(v, vo)| {
            let vx = &graph.vertices[v];
            let per_s = |total: f64, now: f64| {
                if elapsed_s >= 1.0 {
                    total / elapsed_s
                } else {
                    now
                }
            };
            let bytes_in = vx
                .inputs
                .first()
                .map(|&(u, _)| graph.vertices[u].out_record_bytes)
                .unwrap_or(model.spec.job.record_bytes);
            OperatorMetrics {
                vertex: vo.name.clone(),
                operators: vx.operators.clone(),
                inputs: vx.inputs.iter().map(|&(u, _)| u).collect(),
                parallelism: vo.parallelism,
                records_in_per_s: per_s(vo.records_in_total, vo.records_in_per_s),
                records_out_per_s: per_s(vo.records_out_total, vo.records_out_per_s),
                busy_time_ms_per_s: per_s(vo.busy_time_ms_total, vo.busy_time_ms_per_s),
                bytes_out_per_record: vx.out_record_bytes,
                bytes_in_per_record: bytes_in,
                stateful: vx.state_mb > 0.0 || vx.is_window,
                is_source: vx.is_source,
                is_sink: graph.outputs[v].is_empty()
                    || vx
                        .operators
                        .iter()
                        .any(|&i| ops[i].kind == OperatorKind::Sink),
            }
        })
        .collect()
}

/// The cluster facts the cost model needs beside the metrics.
#[derive(Clone, Debug, PartialEq)]
pub struct CostModelParams {
    /// Speed of an edge core relative to the cloud core the metrics were observed on.
    pub edge_speed_ratio: f64,
    /// Edge cores (= slots) and how many the sources already take.
    pub edge_cores: u32,
    pub edge_slots_used: u32,
    /// Keep edge CPU below this share of its cores (§A8: 0.7-0.8 keeps queues short).
    pub u_max: f64,
    /// Offered load over what the sources managed to read (>= 1 when the WAN throttled them):
    /// scales observed rates to the demand the edge would see.
    pub demand_scale: f64,
    /// Slot sharing at the edge (a vertex then needs no extra slot beyond the largest).
    pub slot_sharing: bool,
}

/// The cost model's verdict on one vertex.
#[derive(Clone, Debug, PartialEq)]
pub struct Explanation {
    pub vertex: String,
    pub offload: bool,
    pub reason: String,
    pub selectivity: Option<f64>,
    pub byte_selectivity: Option<f64>,
    pub true_output_rate_per_subtask: Option<f64>,
    pub edge_cpu_cores: Option<f64>,
}

/// The recommended placement: operators to run at the edge, and why for every vertex.
#[derive(Clone, Debug, PartialEq)]
pub struct Recommendation {
    pub at_edge: Vec<usize>,
    pub explanations: Vec<Explanation>,
    pub edge_cpu_cores: f64,
}

/// Applies the cost model. Deterministic: candidates are ordered by score, then vertex index.
pub fn recommend(metrics: &[OperatorMetrics], p: &CostModelParams) -> Recommendation {
    let n = metrics.len();
    let mut at_edge = vec![false; n];
    let mut edge_cpu = 0.0;
    let mut slots = p.edge_slots_used;
    for (v, m) in metrics.iter().enumerate() {
        if m.is_source {
            at_edge[v] = true;
            // The sources' own CPU at the edge.
            if let Some(c) = m.cost_s_per_record() {
                edge_cpu += m.records_in_per_s * p.demand_scale * c / p.edge_speed_ratio;
            }
        }
    }
    let mut reasons: Vec<Option<(bool, String, Option<f64>)>> = vec![None; n];
    let cpu_limit = p.u_max * p.edge_cores as f64;
    loop {
        // Frontier: vertices not at the edge whose inputs all are.
        let mut best: Option<(f64, usize, f64)> = None;
        for (v, m) in metrics.iter().enumerate() {
            if at_edge[v] || reasons[v].is_some() || !m.inputs.iter().all(|&u| at_edge[u]) {
                continue;
            }
            if m.is_sink {
                reasons[v] = Some((
                    false,
                    "sink: results are consumed in the cloud".into(),
                    None,
                ));
                continue;
            }
            if m.stateful {
                reasons[v] = Some((
                    false,
                    "stateful: keyed/window state stays in the cloud".into(),
                    None,
                ));
                continue;
            }
            let (Some(beta), Some(cost)) = (m.byte_selectivity(), m.cost_s_per_record()) else {
                reasons[v] = Some((false, "no records observed: no data to judge".into(), None));
                continue;
            };
            if beta >= 1.0 {
                reasons[v] = Some((
                    false,
                    format!("does not reduce data (byte selectivity {beta:.3} >= 1)"),
                    None,
                ));
                continue;
            }
            let edge_cost = cost / p.edge_speed_ratio;
            let cores = m.records_in_per_s * p.demand_scale * edge_cost;
            let need_slots = if p.slot_sharing { 0 } else { m.parallelism };
            if slots + need_slots > p.edge_cores {
                reasons[v] = Some((
                    false,
                    format!(
                        "no free edge slots ({} used of {}, needs {})",
                        slots, p.edge_cores, need_slots
                    ),
                    Some(cores),
                ));
                continue;
            }
            if edge_cpu + cores > cpu_limit {
                reasons[v] = Some((
                    false,
                    format!(
                        "edge CPU would reach {:.2} of {:.2} cores (u_max {})",
                        edge_cpu + cores,
                        p.edge_cores,
                        p.u_max
                    ),
                    Some(cores),
                ));
                continue;
            }
            // §A8 tie-break: bytes saved per edge core-second.
            let score = m.bytes_in_per_record * (1.0 - beta) / edge_cost.max(1e-12);
            if best.is_none_or(|(s, _, _)| score > s) {
                best = Some((score, v, cores));
            }
        }
        let Some((_, v, cores)) = best else { break };
        let m = &metrics[v];
        at_edge[v] = true;
        edge_cpu += cores;
        if !p.slot_sharing {
            slots += m.parallelism;
        }
        let saved = m.records_in_per_s
            * p.demand_scale
            * m.bytes_in_per_record
            * (1.0 - m.byte_selectivity().unwrap_or(1.0));
        reasons[v] = Some((
            true,
            format!(
                "stateless, byte selectivity {:.3}: saves {:.0} B/s of WAN for {:.3} edge cores",
                m.byte_selectivity().unwrap_or(1.0),
                saved,
                cores
            ),
            Some(cores),
        ));
    }
    let explanations = metrics
        .iter()
        .enumerate()
        .map(|(v, m)| {
            let (offload, reason, cores) = if m.is_source {
                (
                    true,
                    "source: pinned where the data is produced".into(),
                    None,
                )
            } else if m.is_sink {
                (
                    false,
                    "sink: results are consumed in the cloud".into(),
                    None,
                )
            } else {
                reasons[v].clone().unwrap_or((
                    false,
                    "an upstream operator stays in the cloud (never edge -> cloud -> edge)".into(),
                    None,
                ))
            };
            Explanation {
                vertex: m.vertex.clone(),
                offload,
                reason,
                selectivity: m.selectivity(),
                byte_selectivity: m.byte_selectivity(),
                true_output_rate_per_subtask: m.true_output_rate_per_subtask(),
                edge_cpu_cores: cores,
            }
        })
        .collect();
    let at_edge_ops = metrics
        .iter()
        .enumerate()
        .filter(|(v, m)| at_edge[*v] && !m.is_source)
        .flat_map(|(_, m)| m.operators.iter().copied())
        .collect();
    Recommendation {
        at_edge: at_edge_ops,
        explanations,
        edge_cpu_cores: edge_cpu,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &str, inputs: Vec<usize>, rin: f64, rout: f64, busy: f64) -> OperatorMetrics {
        OperatorMetrics {
            vertex: name.into(),
            operators: vec![],
            inputs,
            parallelism: 1,
            records_in_per_s: rin,
            records_out_per_s: rout,
            busy_time_ms_per_s: busy,
            bytes_out_per_record: 32.0,
            bytes_in_per_record: 32.0,
            stateful: false,
            is_source: false,
            is_sink: false,
        }
    }

    fn params() -> CostModelParams {
        CostModelParams {
            edge_speed_ratio: 0.3,
            edge_cores: 4,
            edge_slots_used: 1,
            u_max: 0.75,
            demand_scale: 1.0,
            slot_sharing: false,
        }
    }

    #[test]
    fn true_output_rate_is_out_over_busy_seconds() {
        // 300 rec/s out at 2 ms/s busy: 150 000 rec/s of busy time (the design doc's formula).
        let x = m("f", vec![0], 1000.0, 300.0, 2.0);
        assert!((x.true_output_rate_per_subtask().unwrap() - 150_000.0).abs() < 1e-6);
        assert!((x.selectivity().unwrap() - 0.3).abs() < 1e-12);
        assert!((x.byte_selectivity().unwrap() - 0.3).abs() < 1e-12);
    }

    #[test]
    fn reducing_stateless_filter_goes_to_the_edge_stateful_and_sink_stay() {
        let mut src = m("src", vec![], 1000.0, 1000.0, 20.0);
        src.is_source = true;
        let filter = m("filter", vec![0], 1000.0, 300.0, 5.0);
        let mut window = m("window", vec![1], 300.0, 3.0, 50.0);
        window.stateful = true;
        let mut sink = m("sink", vec![2], 3.0, 0.0, 0.1);
        sink.is_sink = true;
        let r = recommend(&[src, filter, window, sink], &params());
        let offload: Vec<bool> = r.explanations.iter().map(|e| e.offload).collect();
        assert_eq!(offload, vec![true, true, false, false]);
        assert!(r.explanations[2].reason.starts_with("stateful"));
        assert!(r.explanations[3].reason.starts_with("sink"));
    }

    #[test]
    fn a_map_that_keeps_all_bytes_stays_and_blocks_its_downstream() {
        let mut src = m("src", vec![], 1000.0, 1000.0, 20.0);
        src.is_source = true;
        let map = m("map", vec![0], 1000.0, 1000.0, 5.0);
        let filter = m("filter", vec![1], 1000.0, 10.0, 5.0);
        let r = recommend(&[src, map, filter], &params());
        assert!(!r.explanations[1].offload && r.explanations[1].reason.contains(">= 1"));
        assert!(!r.explanations[2].offload && r.explanations[2].reason.contains("upstream"));
    }

    #[test]
    fn edge_cpu_and_slots_limit_offloading() {
        let mut src = m("src", vec![], 10_000.0, 10_000.0, 20.0);
        src.is_source = true;
        // 10 000 rec/s at 100 us/rec server = 1 core; 3.3 cores on a Pi at 0.3 > 0.75 x 4.
        let heavy = m("heavy", vec![0], 10_000.0, 100.0, 1000.0);
        let r = recommend(&[src, heavy], &params());
        assert!(!r.explanations[1].offload && r.explanations[1].reason.contains("edge CPU"));
        let mut p = params();
        p.edge_slots_used = 4;
        let light = m("light", vec![0], 10_000.0, 100.0, 1.0);
        let mut src = m("src", vec![], 10_000.0, 10_000.0, 20.0);
        src.is_source = true;
        let r = recommend(&[src, light], &p);
        assert!(r.explanations[1].reason.contains("slots"));
    }
}
