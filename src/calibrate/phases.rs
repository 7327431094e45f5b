//! The restart-phase breakdown of a run: latency share and consumer lag shortly after a
//! restart versus once the job has settled, so a replay shows where it misses the recording.
//!
//! A restart is a recorded failure injection or a savepoint redeploy as the replay reads them
//! (`replay::redeploy_episodes`: the TaskManager count at 0 for at least
//! `replay::REDEPLOY_MIN_ZERO_S` after a non-zero level, coming back within 60 s). On the recorded
//! operator35 YSB runs the two phases tell different stories (research/demeter.md §6; README
//! "Validation and calibration"): settled at 24 TaskManagers the recorded job carries
//! 2.0-2.4 s of per-partition arrivals as lag where the Static run carries 0.7 s.

use crate::report::stats::{percentile, share_at_most_pct};
use crate::runfolder::{RunData, Series};

/// How long after a restart a second counts as "after a restart": the operator35 catch-up
/// duration (5 min, research/demeter.md §3.3), which also bounds the recorded catch-ups after
/// the operator's redeploys (they come 215-225 s apart).
pub const SETTLE_S: i64 = 300;

/// One phase of one run.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PhaseStats {
    /// Seconds of the window in this phase.
    pub seconds: i64,
    /// Share of this phase's latency samples <= 1.5 s, %.
    pub latency_le_1500ms_pct: Option<f64>,
    /// Median of consumer lag / (throughput / partitions): seconds of one partition's
    /// consumption the lag metric holds (seconds with throughput > 0).
    pub lag_partition_s_p50: Option<f64>,
}

/// Both phases of one run.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Phases {
    /// Within [`SETTLE_S`] after a restart.
    pub after_restart: PhaseStats,
    /// At least [`SETTLE_S`] after the last restart.
    pub settled: PhaseStats,
}

/// The restart epochs of `run` inside its window: failures and redeploys, ascending.
pub fn restarts(run: &RunData) -> Vec<i64> {
    let mut out = run.failures_in_window();
    out.extend(
        super::replay::redeploy_episodes(run)
            .into_iter()
            .map(|(start_s, _, _)| run.start_epoch + start_s),
    );
    out.sort_unstable();
    out.dedup();
    out
}

/// `run`'s phases, with the restarts given (the recorded run's, for a replay and its
/// recording alike) and `partitions` Kafka partitions of the input topic.
pub fn phases(run: &RunData, restarts: &[i64], partitions: u32) -> Phases {
    let (from, to) = (run.start_epoch, run.start_epoch + run.window_s);
    let settled_at = |t: i64| {
        let i = restarts.partition_point(|&r| r <= t);
        i == 0 || t - restarts[i - 1] >= SETTLE_S
    };
    let stats = |settled: bool| {
        let in_phase = |t: i64| settled_at(t) == settled;
        let seconds = (from..to).filter(|&t| in_phase(t)).count() as i64;
        let lat: Vec<f64> = run
            .latency_ms
            .range(from, to)
            .iter()
            .filter(|&&(t, _)| in_phase(t))
            .map(|&(_, v)| v)
            .collect();
        let share = share_at_most_pct(&lat, 1500.0);
        let lag_s: Vec<f64> =
            per_partition_lag_s(&run.consumer_lag, &run.throughput_rps, partitions)
                .into_iter()
                .filter(|&(t, _)| t >= from && t < to && in_phase(t))
                .map(|(_, v)| v)
                .collect();
        PhaseStats {
            seconds,
            latency_le_1500ms_pct: share,
            lag_partition_s_p50: percentile(&lag_s, 0.5),
        }
    };
    Phases {
        after_restart: stats(false),
        settled: stats(true),
    }
}

/// Lag / (throughput / partitions) per second where both have a sample and throughput > 0.
fn per_partition_lag_s(lag: &Series, throughput: &Series, partitions: u32) -> Vec<(i64, f64)> {
    lag.points
        .iter()
        .filter_map(|&(t, l)| {
            let r = throughput.at(t)?;
            (r > 0.0).then(|| (t, l / (r / partitions.max(1) as f64)))
        })
        .collect()
}

/// The Markdown section of the validation report: recorded vs simulated per phase.
pub fn render(recorded: &Phases, simulated: &Phases) -> String {
    let opt =
        |v: Option<f64>, d: usize| v.map(|x| format!("{x:.d$}")).unwrap_or_else(|| "–".into());
    let mut out = format!(
        "\n## By restart phase (a restart: a failure injection or a redeploy; settled: >= {SETTLE_S} s after it)\n\n\
         | phase | seconds | <=1.5 s % recorded | <=1.5 s % simulated | lag / partition rate p50 s, recorded | simulated |\n\
         |:--|--:|--:|--:|--:|--:|\n"
    );
    for (name, r, s) in [
        (
            "after a restart",
            &recorded.after_restart,
            &simulated.after_restart,
        ),
        ("settled", &recorded.settled, &simulated.settled),
    ] {
        out.push_str(&format!(
            "| {name} | {} | {} | {} | {} | {} |\n",
            r.seconds,
            opt(r.latency_le_1500ms_pct, 1),
            opt(s.latency_le_1500ms_pct, 1),
            opt(r.lag_partition_s_p50, 2),
            opt(s.lag_partition_s_p50, 2),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(points: Vec<(i64, f64)>) -> Series {
        Series { points }
    }

    fn empty(window_s: i64) -> RunData {
        RunData {
            name: "x".into(),
            window_s,
            ..RunData::default()
        }
    }

    /// A 1 000-s run: one failure at 100, a redeploy (TaskManagers 0 for 20 s) at 600, and a
    /// 5-s dip to 0 at 900 that is not a redeploy.
    fn run() -> RunData {
        let mut data = empty(1000);
        data.failures = vec![100, 5000];
        data.task_managers = series(
            (0..1000)
                .map(|t| {
                    let zero = (600..620).contains(&t) || (900..905).contains(&t);
                    (t, if zero { 0.0 } else { 24.0 })
                })
                .collect(),
        );
        // Latency bad exactly in the first 50 s after each restart.
        data.latency_ms = series(
            (0..1000)
                .map(|t| {
                    let bad = (100..150).contains(&t) || (600..650).contains(&t);
                    (t, if bad { 3000.0 } else { 1100.0 })
                })
                .collect(),
        );
        data.throughput_rps = series((0..1000).map(|t| (t, 24_000.0)).collect());
        data.consumer_lag = series(
            (0..1000)
                .map(|t| (t, if t < 100 { 700.0 } else { 2_000.0 }))
                .collect(),
        );
        data
    }

    #[test]
    fn restarts_are_failures_in_the_window_and_zero_runs_of_ten_seconds() {
        assert_eq!(restarts(&run()), vec![100, 600]);
    }

    #[test]
    fn phases_split_the_window_at_300_s_after_each_restart() {
        let r = run();
        let p = phases(&r, &restarts(&r), 24);
        // After a restart: [100, 400) and [600, 900) -> 600 s, 100 of them bad.
        assert_eq!(p.after_restart.seconds, 600);
        assert_eq!(p.settled.seconds, 400);
        let share = p.after_restart.latency_le_1500ms_pct.unwrap();
        assert!((share - 500.0 / 600.0 * 100.0).abs() < 1e-9, "{share}");
        assert_eq!(p.settled.latency_le_1500ms_pct, Some(100.0));
        // 1 000 rec/s per partition: 700 records = 0.7 s before the failure, 2 s after.
        // Settled = [0, 100) + [400, 600) + [900, 1000): 100 x 0.7 s and 300 x 2 s.
        assert_eq!(p.settled.lag_partition_s_p50, Some(2.0));
        assert_eq!(p.after_restart.lag_partition_s_p50, Some(2.0));
    }

    #[test]
    fn empty_series_give_no_statistics() {
        let r = empty(100);
        let p = phases(&r, &[], 24);
        assert_eq!(p.settled.seconds, 100);
        assert_eq!(p.settled.latency_le_1500ms_pct, None);
        assert_eq!(p.settled.lag_partition_s_p50, None);
        assert!(render(&p, &p).contains("| settled | 100 | – | – | – | – |"));
    }
}
