//! Settled JVM CPU load per deployed configuration, recorded vs replayed: the only evidence
//! in the traces on how CPU per record depends on slots, cores and memory per TaskManager.
//!
//! Settled seconds: at least [`SETTLE_S`] after the configuration took effect, outside
//! [-[`FAIL_BEFORE_S`], +[`FAIL_AFTER_S`]] around every failure injection, with the configuration's
//! TaskManager count in both series and throughput above 0 on both sides. The CPU cost per
//! record is CPU load x TaskManagers x cores per TaskManager / throughput.
//! `tools/analysis/cpu_by_config.py` computes the same table from run folders, with the replay's
//! `configs.csv` as the timeline (this module uses the recording's), so its counts can differ by
//! a few seconds per change.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::report::stats::percentile;
use crate::runfolder::RunData;

/// Seconds after a configuration change before its seconds count as settled.
pub const SETTLE_S: i64 = 300;
/// Seconds before a failure injection left out.
pub const FAIL_BEFORE_S: i64 = 10;
/// Seconds after a failure injection left out (outage, restart and catch-up).
pub const FAIL_AFTER_S: i64 = 400;

/// One configuration's settled seconds, medians recorded / simulated.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConfigCpu {
    pub scale_out: u32,
    pub task_slots: u32,
    pub cpu: f64,
    pub memory_mb: u32,
    pub settled_s: usize,
    pub throughput_rps: (f64, f64),
    pub cpu_load: (f64, f64),
    pub cpu_us_per_record: (f64, f64),
}

/// Per configuration (scale-out, slots, CPU, memory), ascending; empty without a configuration timeline.
pub fn compare(recorded: &RunData, simulated: &RunData) -> Vec<ConfigCpu> {
    // Per settled second, recorded / simulated: CPU load, throughput, us CPU per record.
    type Second = [(f64, f64); 3];
    let mut groups: BTreeMap<(u32, u32, u64, u32), Vec<Second>> = BTreeMap::new();
    let configs = &recorded.configs;
    let end = recorded.start_epoch + recorded.window_s;
    for (i, c) in configs.iter().enumerate() {
        let until = configs.get(i + 1).map_or(end, |n| n.timestamp);
        let tms = (c.scale_out / c.task_slots.max(1)) as f64;
        for t in c.timestamp + SETTLE_S..until {
            if recorded
                .failures
                .iter()
                .any(|&f| f - FAIL_BEFORE_S <= t && t <= f + FAIL_AFTER_S)
            {
                continue;
            }
            let values = [
                recorded.cpu_load.at(t),
                simulated.cpu_load.at(t),
                recorded.throughput_rps.at(t),
                simulated.throughput_rps.at(t),
                recorded.task_managers.at(t),
                simulated.task_managers.at(t),
            ];
            let [Some(cr), Some(cs), Some(tr), Some(ts), Some(mr), Some(ms)] = values else {
                continue;
            };
            if mr.round() != tms || ms.round() != tms || tr <= 0.0 || ts <= 0.0 {
                continue;
            }
            let us = |load: f64, rps: f64| load * tms * c.cpu / rps * 1e6;
            groups
                .entry((c.scale_out, c.task_slots, c.cpu.to_bits(), c.memory_mb))
                .or_default()
                .push([(cr, cs), (tr, ts), (us(cr, tr), us(cs, ts))]);
        }
    }
    groups
        .into_iter()
        .map(|((scale_out, task_slots, cpu, memory_mb), rows)| {
            let median = |values: Vec<f64>| percentile(&values, 0.5).unwrap_or(f64::NAN);
            let med = |k: usize| {
                (
                    median(rows.iter().map(|r| r[k].0).collect()),
                    median(rows.iter().map(|r| r[k].1).collect()),
                )
            };
            ConfigCpu {
                scale_out,
                task_slots,
                cpu: f64::from_bits(cpu),
                memory_mb,
                settled_s: rows.len(),
                cpu_load: med(0),
                throughput_rps: med(1),
                cpu_us_per_record: med(2),
            }
        })
        .collect()
}

/// The report.md section; empty when there is at most one configuration.
pub fn render(rows: &[ConfigCpu]) -> String {
    if rows.len() < 2 {
        return String::new();
    }
    let mut out = format!(
        "\n## CPU per configuration (`calibrate::cpu_by_config`, settled seconds: >= {SETTLE_S} s \
         after a change, -{FAIL_BEFORE_S}..+{FAIL_AFTER_S} s around failures left out)\n\n\
         | scale-out x slots x CPU x memory MB | settled s | throughput rec / sim | CPU load rec / sim | \
         us CPU per record rec / sim |\n|:--|--:|--:|--:|--:|\n"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "| {} x {} x {} x {} | {} | {:.0} / {:.0} | {:.3} / {:.3} | {:.0} / {:.0} |",
            r.scale_out,
            r.task_slots,
            r.cpu,
            r.memory_mb,
            r.settled_s,
            r.throughput_rps.0,
            r.throughput_rps.1,
            r.cpu_load.0,
            r.cpu_load.1,
            r.cpu_us_per_record.0,
            r.cpu_us_per_record.1
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runfolder::{ConfigRow, Series};

    fn flat(from: i64, to: i64, v: f64) -> Series {
        Series {
            points: (from..to).map(|t| (t, v)).collect(),
        }
    }

    fn run(cpu_load: f64) -> RunData {
        let mut r = RunData {
            window_s: 2000,
            ..RunData::default()
        };
        r.cpu_load = flat(0, 2000, cpu_load);
        r.throughput_rps = flat(0, 2000, 24_000.0);
        r.task_managers = Series {
            points: (0..2000)
                .map(|t| (t, if t < 1000 { 24.0 } else { 6.0 }))
                .collect(),
        };
        r.failures = vec![1500];
        let row = |timestamp, scale_out, task_slots, cpu, memory_mb| ConfigRow {
            timestamp,
            scale_out,
            task_slots,
            cpu,
            memory_mb,
            checkpoint_interval_ms: 10_000,
        };
        r.configs = vec![row(0, 24, 1, 1.0, 4096), row(1000, 24, 4, 3.0, 1024)];
        r
    }

    #[test]
    fn settled_seconds_per_configuration_and_cpu_per_record() {
        let rows = compare(&run(0.25), &run(0.5));
        assert_eq!(rows.len(), 2);
        // 24 x 1 x 1: seconds 300..1000.
        assert_eq!((rows[0].scale_out, rows[0].task_slots), (24, 1));
        assert_eq!(rows[0].settled_s, 700);
        // 0.25 x 24 TaskManagers x 1 core / 24 K rec/s = 250 us.
        assert!((rows[0].cpu_us_per_record.0 - 250.0).abs() < 1e-9);
        assert!((rows[0].cpu_us_per_record.1 - 500.0).abs() < 1e-9);
        // 24 x 4 x 3: seconds 1300..2000 less 1490..=1900 around the failure.
        assert_eq!(rows[1].settled_s, 700 - 411);
        // 0.25 x 6 x 3 / 24 K = 187.5 us.
        assert!((rows[1].cpu_us_per_record.0 - 187.5).abs() < 1e-9);
        assert_eq!(rows[1].memory_mb, 1024);
        assert!(render(&rows).contains("| 24 x 4 x 3 x 1024 | 289 |"));
    }

    #[test]
    fn one_configuration_renders_nothing() {
        let mut r = run(0.25);
        r.configs.truncate(1);
        assert_eq!(compare(&r, &r).len(), 1);
        assert!(render(&compare(&r, &r)).is_empty());
    }
}
