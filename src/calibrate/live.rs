//! What a live recording (`demeter-sim live --record`) adds for its replay: the per-vertex
//! in-place rescales (`parallelism.csv`) and the offered load reconstructed from the per-poll
//! REST rates (`vertices.csv`).

use std::path::Path;

use anyhow::{bail, Context};

use crate::time::SimTime;

/// The parts of a live run folder a replay needs beyond [`crate::runfolder::RunData`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LiveRun {
    /// The per-vertex parallelism the running job had, from when (seconds since the start);
    /// the first row is the initial parallelism.
    pub parallelism: Vec<(SimTime, Vec<u32>)>,
    /// The in-place rescales requested (`events.csv` kind `rescale`): when, and the target
    /// parallelism per vertex.
    pub rescale_requests: Vec<(SimTime, Vec<u32>)>,
    /// Offered load per second since the start (see [`offered_load`]).
    pub offered_rps: Vec<f64>,
    /// The last vertex's records in per second at each poll, as (epoch second, rate).
    pub processed_rps: Vec<(i64, f64)>,
    /// When the job ran again (`events.csv`: `job_state` Running, and `job_restart`, which the
    /// backend logs when a restart's new attempt is seen), seconds since the start.
    pub running_s: Vec<f64>,
    pub restart_seen_s: Vec<f64>,
}

/// One rescale or failure: when it was requested or injected, and how long after it the job
/// ran again, recorded and simulated.
#[derive(Clone, Debug, PartialEq)]
pub struct TimelineRow {
    pub what: String,
    pub at_s: f64,
    pub recorded_s: Option<f64>,
    pub simulated_s: Option<f64>,
}

/// The job ran again after `after_s`: the first `job_state` Running after it, or else the
/// first `job_restart` seen (an in-place rescale can be over between two polls, so only the
/// restart counter shows it).
fn recorded_resume(live: &LiveRun, after_s: f64) -> Option<f64> {
    let first = |v: &[f64]| v.iter().copied().find(|&t| t > after_s);
    match (first(&live.running_s), first(&live.restart_seen_s)) {
        (Some(r), Some(x)) if r - x <= RESUME_SLACK_S => Some(r),
        (_, Some(x)) => Some(x),
        (r, None) => r,
    }
}

/// A Running state seen within this long of the restart counter's step belongs to it.
const RESUME_SLACK_S: f64 = 3.0;

/// The rescale and failure timeline, recorded vs simulated (durations from the request or the
/// injection to the job running again, seconds).
pub fn timeline_rows(
    live: &LiveRun,
    run: &crate::runfolder::RunData,
    result: &crate::simulate::RunResult,
) -> Vec<TimelineRow> {
    let sim_running: Vec<f64> = result
        .twin
        .events()
        .iter()
        .filter(|e| e.kind == "job_running")
        .map(|e| e.time.as_secs_f64())
        .collect();
    let sim_resume = |after: f64| sim_running.iter().copied().find(|&t| t > after);
    let mut rows: Vec<TimelineRow> = live
        .rescale_requests
        .iter()
        .map(|(t, p)| {
            let at = t.as_secs_f64();
            TimelineRow {
                what: format!("rescale in place to {p:?}"),
                at_s: at,
                recorded_s: recorded_resume(live, at).map(|x| x - at),
                simulated_s: sim_resume(at).map(|x| x - at),
            }
        })
        .collect();
    for &f in &run.failures {
        // failures.csv holds the epoch second the backend saw the loss; the kill itself was
        // up to a second earlier, when the job started restarting.
        let at = (f - run.start_epoch) as f64;
        rows.push(TimelineRow {
            what: "TaskManager killed".into(),
            at_s: at,
            recorded_s: recorded_resume(live, at - 1.0).map(|x| x - at),
            simulated_s: sim_resume(at).map(|x| x - at),
        });
    }
    rows.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
    rows
}

/// `run` with its throughput series replaced by the last vertex's records in per second.
///
/// Why: the live backend records the source vertex's records out per poll as throughput, and
/// that counter stands still over REST for seconds while the source is backpressured (in
/// ds2-step-tm-kill, 40-60 s: the source's mean out 218-328 rec/s while `work`, busy
/// 1 000 ms/s, took in 885-900 rec/s; over the run the source's out averages 590 rec/s and
/// `work`'s in 1 123 rec/s, which no job can do). Every record passes the last vertex, so its input
/// rate is the job's throughput.
pub fn processed_run(run: &crate::runfolder::RunData, live: &LiveRun) -> crate::runfolder::RunData {
    let mut r = run.clone();
    r.throughput_rps = crate::runfolder::Series {
        points: live.processed_rps.clone(),
    };
    r
}

/// Reads `parallelism.csv` and `vertices.csv` of the live run folder `dir`.
pub fn read_live_run(dir: &Path, start_epoch: i64, window_s: i64) -> anyhow::Result<LiveRun> {
    let p = dir.join("parallelism.csv");
    let text = std::fs::read_to_string(&p)
        .with_context(|| format!("{}: a live run folder needs it", p.display()))?;
    let mut parallelism = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let mut cols = line.split('|');
        let ts: i64 = cols
            .next()
            .and_then(|c| c.trim().parse().ok())
            .with_context(|| format!("{}:{}: expected an epoch second", p.display(), i + 1))?;
        let ps = cols
            .map(|c| c.trim().parse::<u32>())
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| {
                format!(
                    "{}:{}: expected a parallelism per vertex",
                    p.display(),
                    i + 1
                )
            })?;
        if ps.is_empty() || ps.contains(&0) {
            bail!(
                "{}:{}: expected a parallelism >= 1 per vertex",
                p.display(),
                i + 1
            );
        }
        parallelism.push((SimTime::from_secs((ts - start_epoch).max(0) as u64), ps));
    }
    let v = dir.join("vertices.csv");
    let text = std::fs::read_to_string(&v)
        .with_context(|| format!("{}: a live run folder needs it", v.display()))?;
    let mut polls = Vec::new();
    let mut processed_rps = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let cols: Vec<f64> = line
            .split('|')
            .map(|c| c.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .ok()
            .filter(|c: &Vec<f64>| c.len() >= 7)
            .with_context(|| {
                format!(
                    "{}:{}: expected time_s|pending|parallelism|in/s|out/s|busy|backpressured...",
                    v.display(),
                    i + 1
                )
            })?;
        // time_s, pending, then per vertex: parallelism, in/s, out/s, busy, backpressured.
        let last = 2 + (cols.len() - 2) / 5 * 5 - 5;
        let epoch = start_epoch + cols[0].floor() as i64;
        if processed_rps.last().map(|p: &(i64, f64)| p.0) != Some(epoch) {
            processed_rps.push((epoch, cols[last + 1]));
        }
        polls.push(Poll {
            time_s: cols[0],
            pending: cols[1],
            source_out_rps: cols[4],
        });
    }
    let e = dir.join("events.csv");
    let text = std::fs::read_to_string(&e)
        .with_context(|| format!("{}: a live run folder needs it", e.display()))?;
    let mut rescale_requests = Vec::new();
    let (mut running_s, mut restart_seen_s) = (Vec::new(), Vec::new());
    for (i, line) in text.lines().enumerate().skip(1) {
        let mut cols = line.splitn(3, ',');
        {
            let mut c = line.splitn(3, ',');
            if let (Some(t), Some(kind), Some(detail)) = (c.next(), c.next(), c.next()) {
                if let Ok(t) = t.parse::<f64>() {
                    if kind == "job_restart" {
                        restart_seen_s.push(t);
                    } else if kind == "job_state"
                        && detail.trim_start_matches('"').starts_with("Running")
                    {
                        running_s.push(t);
                    }
                }
            }
        }
        let (Some(t), Some("rescale"), Some(detail)) = (cols.next(), cols.next(), cols.next())
        else {
            continue;
        };
        // detail: "[1, 1] -> [1, 3] in place"
        let target = detail
            .split("->")
            .nth(1)
            .and_then(|r| r.split(']').next())
            .map(|r| r.trim().trim_start_matches('[').to_string());
        let parsed = target.and_then(|r| {
            r.split(',')
                .map(|c| c.trim().parse::<u32>().ok())
                .collect::<Option<Vec<u32>>>()
        });
        let (Ok(t), Some(ps)) = (t.parse::<f64>(), parsed) else {
            bail!(
                "{}:{}: expected time_s,rescale,\"[..] -> [p, ...] in place\"",
                e.display(),
                i + 1
            );
        };
        rescale_requests.push((SimTime::from_ms((t.max(0.0) * 1000.0).round() as u64), ps));
    }
    Ok(LiveRun {
        parallelism,
        rescale_requests,
        offered_rps: offered_load(&polls, window_s.max(1) as usize),
        processed_rps,
        running_s,
        restart_seen_s,
    })
}

/// One REST poll of the source.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Poll {
    pub time_s: f64,
    /// `pendingRecords` of the source (the generator's backlog).
    pub pending: f64,
    /// Records out per second of the source vertex since the previous poll.
    pub source_out_rps: f64,
}

/// The offered load per second, reconstructed from the recording: the records that arrived by
/// a poll are those the source emitted so far plus its backlog, A(t) = sum(out x dt) + pending;
/// the load between two polls is the growth of A over that interval. A restart rewinds the
/// source to its last checkpoint and reads `pendingRecords` 0 for a while, so an interval where
/// A falls tells nothing about arrivals: it takes the next interval's rate (the rate after the
/// restart). Before the first poll the first interval's rate applies.
pub fn offered_load(polls: &[Poll], seconds: usize) -> Vec<f64> {
    let mut intervals: Vec<(f64, f64, Option<f64>)> = Vec::new();
    let mut emitted = 0.0;
    for w in polls.windows(2) {
        let dt = w[1].time_s - w[0].time_s;
        if dt <= 0.0 {
            continue;
        }
        let a0 = emitted + w[0].pending;
        emitted += w[1].source_out_rps * dt;
        let a1 = emitted + w[1].pending;
        let rate = (a1 - a0) / dt;
        intervals.push((w[0].time_s, w[1].time_s, (rate >= 0.0).then_some(rate)));
    }
    // Fill the unknown intervals from the next known one (else the last known).
    let mut next = None;
    for iv in intervals.iter_mut().rev() {
        match iv.2 {
            Some(r) => next = Some(r),
            None => iv.2 = next,
        }
    }
    let mut last = None;
    for iv in intervals.iter_mut() {
        match iv.2 {
            Some(r) => last = Some(r),
            None => iv.2 = last,
        }
    }
    (0..seconds)
        .map(|s| {
            let (a, b) = (s as f64, s as f64 + 1.0);
            // The time-weighted mean over [s, s+1) of the intervals covering it.
            let (mut sum, mut w) = (0.0, 0.0);
            for &(t0, t1, r) in &intervals {
                let overlap = t1.min(b) - t0.max(a);
                if overlap > 0.0 {
                    sum += r.unwrap_or(0.0) * overlap;
                    w += overlap;
                }
            }
            if w > 0.0 {
                sum / w
            } else if b <= intervals.first().map_or(0.0, |i| i.0) {
                intervals.first().and_then(|i| i.2).unwrap_or(0.0)
            } else {
                intervals.last().and_then(|i| i.2).unwrap_or(0.0)
            }
        })
        .collect()
}

/// RMS of simulated minus recorded durations over the rows that have both, seconds.
pub fn resume_rms_error_s(rows: &[TimelineRow]) -> Option<f64> {
    let d: Vec<f64> = rows
        .iter()
        .filter_map(|r| Some(r.simulated_s? - r.recorded_s?))
        .collect();
    (!d.is_empty()).then(|| (d.iter().map(|x| x * x).sum::<f64>() / d.len() as f64).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poll(time_s: f64, pending: f64, source_out_rps: f64) -> Poll {
        Poll {
            time_s,
            pending,
            source_out_rps,
        }
    }

    #[test]
    fn a_resume_is_the_running_state_or_else_the_restart_step() {
        let live = LiveRun {
            running_s: vec![22.056, 103.024],
            restart_seen_s: vec![22.055, 37.021, 102.019],
            ..LiveRun::default()
        };
        // Running seen with the restart: the Running time.
        assert_eq!(recorded_resume(&live, 20.318), Some(22.056));
        // No Running state polled for this one: the restart counter's step.
        assert_eq!(recorded_resume(&live, 35.396), Some(37.021));
        // Running 1 s after the restart step: still this restart's.
        assert_eq!(recorded_resume(&live, 101.0), Some(103.024));
        assert_eq!(recorded_resume(&live, 200.0), None);
    }

    #[test]
    fn the_committed_recording_reads() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("traces/live/ds2-step-tm-kill");
        let live = read_live_run(&dir, 1_795_330_728, 150).unwrap();
        assert_eq!(live.parallelism.first().unwrap().1, vec![1, 1]);
        let targets: Vec<Vec<u32>> = live.rescale_requests.iter().map(|r| r.1.clone()).collect();
        assert_eq!(targets, [vec![1, 3], vec![1, 1], vec![1, 3], vec![1, 1]]);
        assert_eq!(live.rescale_requests[0].0, SimTime::from_ms(20_318));
        assert_eq!(live.offered_rps.len(), 150);
        // Before the step the generator ran at 300 rec/s.
        assert!(
            (live.offered_rps[5] - 300.0).abs() < 15.0,
            "{}",
            live.offered_rps[5]
        );
    }

    #[test]
    fn load_is_output_plus_backlog_growth_and_restarts_take_the_next_rate() {
        // 100 rec/s emitted with no backlog, then 100 emitted + 50/s of backlog growth, then a
        // restart (backlog reads 0, nothing emitted), then 200 rec/s.
        let polls = [
            poll(0.0, 0.0, 0.0),
            poll(1.0, 0.0, 100.0),
            poll(2.0, 50.0, 100.0),
            poll(3.0, 100.0, 100.0),
            poll(4.0, 0.0, 0.0),
            poll(5.0, 0.0, 200.0),
        ];
        let load = offered_load(&polls, 6);
        assert_eq!(load, vec![100.0, 150.0, 150.0, 200.0, 200.0, 200.0]);
    }
}
