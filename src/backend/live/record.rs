//! What a live run records: one row per second of the six run-folder series, failures,
//! configurations, events and decisions (each with the observation it was based on), written
//! as a run folder in the recorded format.

use std::path::{Path, PathBuf};

use crate::policy::{Action, JobState, Observation};
use crate::runfolder::{self, ConfigRow, RunData, Series};
use crate::time::SimTime;

/// One line of `events.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveEvent {
    pub time: SimTime,
    pub kind: String,
    pub detail: String,
}

/// One action the policy took on the live job.
#[derive(Clone, Debug)]
pub struct RecordedDecision {
    pub time: SimTime,
    pub action: String,
    /// "applied", or why the backend refused it.
    pub outcome: String,
    /// Summary of the observation the decision was based on.
    pub basis: String,
    /// Why the policy took it (`Policy::explain`), attached after the run.
    pub reason: Option<&'static str>,
}

/// The run so far.
#[derive(Clone, Debug, Default)]
pub struct Recording {
    start_ms: u64,
    pub run: RunData,
    pub events: Vec<LiveEvent>,
    pub decisions: Vec<RecordedDecision>,
    /// Per poll: time and the per-vertex rates/parallelism (for calibration).
    pub vertex_rows: Vec<String>,
    /// Per change of the running job's per-vertex parallelism: (epoch second, parallelism).
    pub parallelism: Vec<(i64, Vec<u32>)>,
    /// Vertex names, in job order (the header of `parallelism.csv`).
    pub vertex_names: Vec<String>,
    last_config: Option<(ConfigRow, Vec<u32>)>,
}

/// A one-line summary of an observation, for decision logs.
pub fn summarize_observation(o: &Observation) -> String {
    let v: Vec<String> = o
        .vertices
        .iter()
        .map(|v| {
            format!(
                "{}: p={} in={:.0}/s busy={:.0} bp={:.0}",
                v.name,
                v.parallelism,
                v.records_in_per_s,
                v.busy_time_ms_per_s,
                v.backpressured_time_ms_per_s
            )
        })
        .collect();
    format!(
        "t={:.1}s {:?} since={:.1}s pending={:.0} tms={} slots={}/{} [{}]",
        o.time.as_secs_f64(),
        o.job_state,
        o.running_since.as_secs_f64(),
        o.pending_records,
        o.task_managers,
        o.task_slots_available,
        o.task_slots_total,
        v.join("; ")
    )
}

fn push(series: &mut Series, t: i64, v: f64) {
    if !v.is_finite() {
        return;
    }
    match series.points.last_mut() {
        Some((lt, lv)) if *lt == t => *lv = v,
        _ => series.points.push((t, v)),
    }
}

impl Recording {
    pub fn new(start_ms: u64) -> Recording {
        Recording {
            start_ms,
            run: RunData {
                name: "live".into(),
                start_epoch: (start_ms / 1000) as i64,
                ..RunData::default()
            },
            ..Default::default()
        }
    }

    /// When the run started, milliseconds since the Unix epoch.
    pub fn start_ms(&self) -> u64 {
        self.start_ms
    }

    fn epoch(&self, t: SimTime) -> i64 {
        ((self.start_ms + t.as_ms()) / 1000) as i64
    }

    pub fn event(&mut self, time: SimTime, kind: &str, detail: &str) {
        self.events.push(LiveEvent {
            time,
            kind: kind.into(),
            detail: detail.into(),
        });
    }

    pub fn failure(&mut self, t: SimTime) {
        let e = self.epoch(t);
        if self.run.failures.last() != Some(&e) {
            self.run.failures.push(e);
        }
    }

    /// An applied change; the new configuration is written once the job runs with it.
    pub fn config_changed(&mut self, _t: SimTime) {}

    pub fn decision(&mut self, t: SimTime, action: &Action, outcome: &str, basis: &str) {
        self.decisions.push(RecordedDecision {
            time: t,
            action: format!("{action:?}"),
            outcome: outcome.into(),
            basis: basis.into(),
            reason: None,
        });
    }

    /// The policy's reasons for the decisions recorded so far, in order (the control loop's
    /// log: one entry per applied or refused action). Ignored unless there is one per decision.
    pub fn set_reasons(&mut self, reasons: &[Option<&'static str>]) {
        if reasons.len() == self.decisions.len() {
            for (d, r) in self.decisions.iter_mut().zip(reasons) {
                d.reason = *r;
            }
        }
    }

    /// An observation handed to the policy (nothing to record beyond the poll itself).
    pub fn observed(&mut self, _o: &Observation) {}

    /// One poll. Rates are only written when they rest on two polls of the running job.
    pub fn sample(&mut self, o: &Observation, rates_valid: bool) {
        let t = self.epoch(o.time);
        let running = o.job_state == JobState::Running;
        push(&mut self.run.task_managers, t, f64::from(o.task_managers));
        push(&mut self.run.task_slots, t, f64::from(o.task_slots_total));
        if let Some(c) = o.cpu_load {
            push(&mut self.run.cpu_load, t, c);
        }
        if running && rates_valid {
            if let Some(x) = o.throughput_rps {
                push(&mut self.run.throughput_rps, t, x);
            }
        }
        if running {
            if let Some(l) = o.consumer_lag {
                push(&mut self.run.consumer_lag, t, l);
            }
        }
        if running && rates_valid {
            let cols: Vec<String> = o
                .vertices
                .iter()
                .map(|v| {
                    format!(
                        "{}|{:.3}|{:.3}|{:.3}|{:.3}",
                        v.parallelism,
                        v.records_in_per_s,
                        v.records_out_per_s,
                        v.busy_time_ms_per_s,
                        v.backpressured_time_ms_per_s
                    )
                })
                .collect();
            self.vertex_rows.push(format!(
                "{:.3}|{:.0}|{}",
                o.time.as_secs_f64(),
                o.pending_records,
                cols.join("|")
            ));
        }
        let row = ConfigRow {
            timestamp: t,
            scale_out: o.config.scale_out,
            task_slots: o.config.task_slots,
            cpu: o.config.cpu,
            memory_mb: o.config.memory_mb,
            checkpoint_interval_ms: o.config.checkpoint_interval.as_ms(),
        };
        // A rescale that keeps the largest parallelism (e.g. [1, 4] -> [2, 4]) changes no
        // column of configs.csv but is a reconfiguration all the same: compare per vertex.
        let parallelism: Vec<u32> = o.vertices.iter().map(|v| v.parallelism).collect();
        let changed = self.last_config.as_ref().is_none_or(|(c, p)| {
            (
                c.scale_out,
                c.task_slots,
                c.memory_mb,
                c.checkpoint_interval_ms,
                p,
            ) != (
                row.scale_out,
                row.task_slots,
                row.memory_mb,
                row.checkpoint_interval_ms,
                &parallelism,
            )
        });
        if running && changed {
            self.run.configs.push(row.clone());
            self.parallelism.push((t, parallelism.clone()));
            self.vertex_names = o.vertices.iter().map(|v| v.name.clone()).collect();
            self.last_config = Some((row, parallelism));
        }
        self.run.window_s = (t - self.run.start_epoch + 1).max(0);
    }

    /// `parallelism.csv`: `timestamp|<vertex>|...`, one row per parallelism the running job
    /// was seen with (the per-vertex detail of `configs.csv`).
    pub fn parallelism_csv(&self) -> String {
        let mut out = String::from("timestamp");
        for n in &self.vertex_names {
            out.push('|');
            out.push_str(&n.replace(['|', '\n'], " "));
        }
        out.push('\n');
        for (t, p) in &self.parallelism {
            out.push_str(&t.to_string());
            for x in p {
                out.push('|');
                out.push_str(&x.to_string());
            }
            out.push('\n');
        }
        out
    }

    /// Writes the run folder: the recorded-format files plus `manifest.json`, `events.csv`,
    /// `decisions.csv`, `parallelism.csv` and `vertices.csv`. Returns the files written.
    pub fn write(&self, dir: &Path, manifest: &serde_json::Value) -> Result<Vec<PathBuf>, String> {
        runfolder::write_run_folder(dir, &self.run).map_err(|e| e.to_string())?;
        let mut written: Vec<PathBuf> = runfolder::METRICS
            .iter()
            .map(|m| {
                dir.join("data")
                    .join(format!("{}-{m}-data.csv", self.run.name))
            })
            .collect();
        written.push(dir.join("failures.csv"));
        written.push(dir.join("configs.csv"));
        let io = |p: &Path, e: std::io::Error| format!("writing {}: {e}", p.display());
        let mut m = manifest.clone();
        m["start_epoch"] = self.run.start_epoch.into();
        m["window_s"] = self.run.window_s.into();
        m["scheduled_failures"] = 0.into();
        let p = dir.join("manifest.json");
        let text = serde_json::to_string_pretty(&m).map_err(|e| e.to_string())? + "\n";
        std::fs::write(&p, text).map_err(|e| io(&p, e))?;
        written.push(p);

        let csv_err = |p: &Path, e: csv::Error| format!("writing {}: {e}", p.display());
        let p = dir.join("events.csv");
        let mut w = csv::Writer::from_path(&p).map_err(|e| csv_err(&p, e))?;
        w.write_record(["time_s", "kind", "detail"])
            .map_err(|e| csv_err(&p, e))?;
        for e in &self.events {
            w.write_record([
                format!("{:.3}", e.time.as_secs_f64()),
                e.kind.clone(),
                e.detail.clone(),
            ])
            .map_err(|e| csv_err(&p, e))?;
        }
        w.flush().map_err(|e| io(&p, e))?;
        written.push(p);

        let p = dir.join("decisions.csv");
        let mut w = csv::Writer::from_path(&p).map_err(|e| csv_err(&p, e))?;
        w.write_record(["time_s", "action", "refused", "observation", "reason"])
            .map_err(|e| csv_err(&p, e))?;
        for RecordedDecision {
            time: t,
            action: a,
            outcome,
            basis,
            reason,
        } in &self.decisions
        {
            let refused = if outcome == "applied" {
                ""
            } else {
                outcome.as_str()
            };
            w.write_record([
                format!("{:.3}", t.as_secs_f64()),
                a.clone(),
                refused.to_string(),
                basis.clone(),
                reason.unwrap_or_default().to_string(),
            ])
            .map_err(|e| csv_err(&p, e))?;
        }
        w.flush().map_err(|e| io(&p, e))?;
        written.push(p);

        let p = dir.join("parallelism.csv");
        std::fs::write(&p, self.parallelism_csv()).map_err(|e| io(&p, e))?;
        written.push(p);

        let p = dir.join("vertices.csv");
        let mut text = String::from(
            "# per poll: time_s|pending|then per vertex: parallelism|in/s|out/s|busy ms/s|backpressured ms/s\n",
        );
        for r in &self.vertex_rows {
            text.push_str(r);
            text.push('\n');
        }
        std::fs::write(&p, text).map_err(|e| io(&p, e))?;
        written.push(p);
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::ds2::test_support::{observation, vertex};

    fn job(t_s: u64, source: u32, work: u32) -> Observation {
        observation(
            t_s,
            0,
            vec![
                vertex("Source: gen -> parse", source, true, &[]),
                vertex("work -> sink: Writer", work, false, &[(0, true)]),
            ],
        )
    }

    /// Issue 6 bug: a rescale that kept the largest parallelism ([1, 4] -> [2, 4]) wrote no
    /// configs.csv row, so `summarize` showed no reconfiguration although one was applied.
    #[test]
    fn every_per_vertex_rescale_is_a_configuration_row_and_summarize_counts_it() {
        let mut r = Recording::new(1_795_000_000_000);
        for (t, s, w) in [
            (0, 1, 4),
            (1, 1, 4),
            (5, 2, 4),
            (6, 2, 4),
            (9, 2, 2),
            (12, 4, 4),
        ] {
            r.sample(&job(t, s, w), true);
        }
        assert_eq!(
            r.parallelism,
            vec![
                (1_795_000_000, vec![1, 4]),
                (1_795_000_005, vec![2, 4]),
                (1_795_000_009, vec![2, 2]),
                (1_795_000_012, vec![4, 4]),
            ]
        );
        assert_eq!(r.run.configs.len(), 4);
        let dir = tempfile::tempdir().unwrap();
        r.write(dir.path(), &serde_json::json!({"source": "live"}))
            .unwrap();
        let back = crate::runfolder::read_run_folder(dir.path()).unwrap();
        let s = crate::report::summarize(&back);
        assert_eq!(s.config_changes, Some(3));
        let csv = std::fs::read_to_string(dir.path().join("parallelism.csv")).unwrap();
        assert_eq!(
            csv,
            "timestamp|Source: gen -> parse|work -> sink: Writer\n1795000000|1|4\n1795000005|2|4\n1795000009|2|2\n1795000012|4|4\n"
        );
    }

    #[test]
    fn a_job_that_is_not_running_writes_no_configuration() {
        let mut r = Recording::new(1_795_000_000_000);
        let mut o = job(0, 1, 1);
        o.job_state = JobState::Restarting;
        r.sample(&o, false);
        assert!(r.run.configs.is_empty() && r.parallelism.is_empty());
        r.sample(&job(1, 1, 2), true);
        assert_eq!(r.parallelism, vec![(1_795_000_001, vec![1, 2])]);
    }
}
