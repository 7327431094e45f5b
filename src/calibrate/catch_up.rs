//! Per-failure catch-up: how long the job works off its replay backlog after a failure, read off
//! the CPU load series, and what the latency metric shows meanwhile; the same measure on a
//! recording and on its replay, so the fit sees how fast the job drains, not only whether the
//! lag metric (held for up to a minute) is back to normal.
//!
//! After a failure the TaskManagers run near their cores' limit until the backlog is gone (the
//! Static YSB recording: JVM CPU load 0.9-0.99 for 5-23 s, against 0.2-0.35 before), so the
//! catch-up is the run of seconds, starting within a few seconds of processing resuming, whose
//! 3-s mean CPU load stays [`CPU_RISE`] above the load before the failure.

use crate::report::stats::{mean, percentile};
use crate::runfolder::{RunData, Series};

/// How far above its level before the failure the 3-s mean CPU load must be to count as
/// catching up (JVM CPU load, 0..1 of the container). A definition, set between the recorded
/// levels: 0.2-0.35 before the failures and 0.9-0.99 while catching up (Static YSB and TSW),
/// and below the twin's 0.70 at full load before the refit, so neither side is cut off.
pub const CPU_RISE: f64 = 0.25;
/// The latency level above which [`CatchUp::seconds_over`] and [`CatchUp::area_over_s`] count.
pub const LATENCY_SLO_MS: f64 = 1500.0;
/// Seconds after the injection over which the latency is summed (the reservoir tail included).
pub const LATENCY_SPAN_S: i64 = 250;
/// The span around processing resuming searched for [`CatchUp::cpu_peak`]: from this long
/// before (the source's lead) ...
pub const PEAK_BEFORE_S: i64 = 5;
/// ... to this long after (the recorded catch-ups end within 5-64 s).
pub const PEAK_AFTER_S: i64 = 30;

/// One failure's catch-up.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CatchUp {
    /// Injection epoch second.
    pub injected: i64,
    /// First second with a latency sample above 0 after the job was down (processing resumed).
    pub resumed: Option<i64>,
    /// How long before `resumed` the Kafka throughput metric has reported without a gap: how
    /// far the restarted source's consumers ran ahead of the first latency sample (None: the
    /// throughput series had no gap between the injection and `resumed`).
    pub consumers_ahead_s: Option<i64>,
    /// Length of the high-CPU run that starts within 3 s of `resumed`, s.
    pub duration_s: Option<i64>,
    /// Mean CPU load over that run.
    pub cpu_mean: Option<f64>,
    /// Mean CPU load over the 10 s from `resumed` (what a comparison uses when one side shows
    /// no high-CPU run: no visible catch-up counts as 0 s at this load).
    pub cpu_after_resume: Option<f64>,
    /// The highest centred 3-s mean CPU load from [`PEAK_BEFORE_S`] before to [`PEAK_AFTER_S`]
    /// after `resumed`: the level a saturated TaskManager reads (recorded 0.96-0.99).
    pub cpu_peak: Option<f64>,
    /// Seconds with latency above [`LATENCY_SLO_MS`] in the [`LATENCY_SPAN_S`] after the
    /// injection (or up to the next one).
    pub seconds_over: i64,
    /// Latency-seconds above [`LATENCY_SLO_MS`] over the same span, s.
    pub area_over_s: f64,
}

/// The catch-up after every failure injected inside the run's window.
pub fn catch_ups(run: &RunData) -> Vec<CatchUp> {
    catch_ups_at(run, &run.failures)
}

/// The catch-up after each of `failures` (epoch seconds, ascending) inside the run's window: a
/// replay is measured at its recording's injection times.
pub fn catch_ups_at(run: &RunData, failures: &[i64]) -> Vec<CatchUp> {
    let from = run.start_epoch;
    let to = run.start_epoch + run.window_s;
    let failures: Vec<i64> = failures
        .iter()
        .copied()
        .filter(|&f| f >= from && f < to)
        .collect();
    failures
        .iter()
        .enumerate()
        .map(|(i, &f)| {
            let next = failures.get(i + 1).copied().unwrap_or(to).min(to);
            measure(run, f, next)
        })
        .collect()
}

fn measure(run: &RunData, injected: i64, next: i64) -> CatchUp {
    let lat = &run.latency_ms;
    let span_end = (injected + LATENCY_SPAN_S).min(next);
    let over: Vec<f64> = lat
        .range(injected, span_end)
        .iter()
        .map(|&(_, v)| v)
        .filter(|&v| v > LATENCY_SLO_MS)
        .collect();
    let resumed = resumed_at(lat, injected, next.min(injected + 300));
    let consumers_ahead_s = resumed.and_then(|r| ahead_of(&run.throughput_rps, injected, r));
    let before: Vec<f64> = run
        .cpu_load
        .range(injected - 120, injected - 5)
        .iter()
        .map(|&(_, v)| v)
        .collect();
    let run_cpu = match (resumed, percentile(&before, 0.5)) {
        (Some(r), Some(level)) => high_cpu_run(&run.cpu_load, r, level + CPU_RISE, next),
        _ => None,
    };
    let cpu_after_resume = resumed.and_then(|r| {
        let w: Vec<f64> = run
            .cpu_load
            .range(r, (r + 10).min(next))
            .iter()
            .map(|p| p.1)
            .collect();
        mean(&w)
    });
    let cpu_peak = resumed.and_then(|r| {
        (r - PEAK_BEFORE_S..(r + PEAK_AFTER_S).min(next))
            .filter_map(|t| mean3(&run.cpu_load, t))
            .reduce(f64::max)
    });
    CatchUp {
        injected,
        resumed,
        consumers_ahead_s,
        cpu_after_resume,
        cpu_peak,
        duration_s: run_cpu.map(|(d, _)| d),
        cpu_mean: run_cpu.map(|(_, m)| m),
        seconds_over: over.len() as i64,
        area_over_s: over.iter().map(|v| (v - LATENCY_SLO_MS) / 1000.0).sum(),
    }
}

/// The first second in `(injected, until)` with a latency sample above 0 after one missing or
/// at 0 (the job went down and came back).
fn resumed_at(lat: &Series, injected: i64, until: i64) -> Option<i64> {
    let mut down = false;
    let mut expect = injected + 1;
    for &(t, v) in lat.range(injected + 1, until) {
        if t > expect || v <= 0.0 {
            down = true;
        } else if down {
            return Some(t);
        }
        expect = t + 1;
    }
    None
}

/// Seconds from the start of the gap-free run of `series` samples that ends just before
/// `resumed` to `resumed`, if that run starts after `injected` (a gap precedes it).
fn ahead_of(series: &Series, injected: i64, resumed: i64) -> Option<i64> {
    let pts = series.range(injected + 1, resumed);
    let mut first = resumed;
    for &(t, _) in pts.iter().rev() {
        if t != first - 1 {
            break;
        }
        first = t;
    }
    // A gap-free run reaching back to the injection is no restart of the consumers.
    (first > injected + 1).then_some(resumed - first)
}

/// The mean of `cpu` over seconds t-1, t, t+1, if all three have a sample.
fn mean3(cpu: &Series, t: i64) -> Option<f64> {
    let w = cpu.range(t - 1, t + 2);
    (w.len() == 3).then(|| w.iter().map(|p| p.1).sum::<f64>() / 3.0)
}

/// The run of seconds whose centred 3-s mean CPU load is >= `threshold`, starting within 3 s
/// either side of `resumed` and ending before `next`: (its length, its mean load).
fn high_cpu_run(cpu: &Series, resumed: i64, threshold: f64, next: i64) -> Option<(i64, f64)> {
    let high = |t: i64| mean3(cpu, t).is_some_and(|m| m >= threshold);
    let start = (resumed - 3..=resumed + 3).find(|&t| high(t))?;
    let mut t = start;
    let mut sum = 0.0;
    while t < next && high(t) {
        sum += cpu.range(t, t + 1).first().map_or(0.0, |p| p.1);
        t += 1;
    }
    let n = t - start;
    // A run cut off by the next failure before its first second is no measurement.
    (n > 0).then(|| (n, sum / n as f64))
}

/// Recorded vs simulated catch-ups, failure by failure (both measured at the recorded
/// injection times, [`catch_ups_at`], so the lists pair up by position).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct CatchUpErrors {
    /// RMS of simulated minus recorded duration over failures where both were measured, s.
    pub duration_rms_s: Option<f64>,
    /// Mean duration, recorded and simulated, over the same failures, s.
    pub duration_mean_s: Option<(f64, f64)>,
    /// Mean CPU load while catching up, recorded and simulated, over the same failures.
    pub cpu_mean: Option<(f64, f64)>,
    /// Mean [`CatchUp::cpu_peak`], recorded and simulated, over the failures where both resumed.
    pub cpu_peak_mean: Option<(f64, f64)>,
    /// Mean latency-seconds above 1.5 s per failure, recorded and simulated.
    pub area_mean_s: Option<(f64, f64)>,
    /// Mean seconds from injection to processing resuming, recorded and simulated, over the
    /// failures where both resumed.
    pub resumed_mean_s: Option<(f64, f64)>,
    /// Mean [`CatchUp::consumers_ahead_s`], recorded and simulated, where both were measured.
    pub consumers_ahead_mean_s: Option<(f64, f64)>,
    /// Failures compared: the recording shows a catch-up and the replay resumed.
    pub paired: usize,
}

/// The recorded and the simulated mean of one measure over the same failures.
fn means(pairs: &[(f64, f64)]) -> Option<(f64, f64)> {
    let rec: Vec<f64> = pairs.iter().map(|p| p.0).collect();
    let sim: Vec<f64> = pairs.iter().map(|p| p.1).collect();
    Some((mean(&rec)?, mean(&sim)?))
}

/// Compares the catch-ups of a recording and its replay.
pub fn compare(recorded: &[CatchUp], simulated: &[CatchUp]) -> CatchUpErrors {
    let pairs: Vec<(&CatchUp, &CatchUp)> = recorded.iter().zip(simulated).collect();
    // (duration, CPU) where the recording shows a catch-up and the replay resumed; a replay
    // without a visible catch-up counts as 0 s at its load after resuming (else a model could
    // escape the comparison by never loading its CPU).
    let compared: Vec<((f64, f64), (f64, f64))> = pairs
        .iter()
        .filter_map(|(r, s)| {
            s.resumed?;
            Some((
                (r.duration_s? as f64, s.duration_s.unwrap_or(0) as f64),
                (r.cpu_mean?, s.cpu_mean.or(s.cpu_after_resume)?),
            ))
        })
        .collect();
    let durations: Vec<(f64, f64)> = compared.iter().map(|c| c.0).collect();
    let cpu: Vec<(f64, f64)> = compared.iter().map(|c| c.1).collect();
    let squared: Vec<f64> = durations.iter().map(|(r, s)| (s - r).powi(2)).collect();
    let areas: Vec<(f64, f64)> = pairs
        .iter()
        .map(|(r, s)| (r.area_over_s, s.area_over_s))
        .collect();
    let resumed: Vec<(f64, f64)> = pairs
        .iter()
        .filter_map(|(r, s)| {
            Some((
                (r.resumed? - r.injected) as f64,
                (s.resumed? - s.injected) as f64,
            ))
        })
        .collect();
    let peaks: Vec<(f64, f64)> = pairs
        .iter()
        .filter_map(|(r, s)| Some((r.cpu_peak?, s.cpu_peak?)))
        .collect();
    let ahead: Vec<(f64, f64)> = pairs
        .iter()
        .filter_map(|(r, s)| Some((r.consumers_ahead_s? as f64, s.consumers_ahead_s? as f64)))
        .collect();
    CatchUpErrors {
        duration_rms_s: mean(&squared).map(f64::sqrt),
        consumers_ahead_mean_s: means(&ahead),
        duration_mean_s: means(&durations),
        cpu_mean: means(&cpu),
        cpu_peak_mean: means(&peaks),
        area_mean_s: means(&areas),
        resumed_mean_s: means(&resumed),
        paired: durations.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(lat: Vec<(i64, f64)>, cpu: Vec<(i64, f64)>, failures: Vec<i64>) -> RunData {
        RunData {
            name: "t".into(),
            start_epoch: 0,
            window_s: 1000,
            latency_ms: Series { points: lat },
            cpu_load: Series { points: cpu },
            failures,
            ..RunData::default()
        }
    }

    /// A failure at 200: metrics gone 220-229, 0 at 230-231, processing from 232 with a
    /// 10-s catch-up at 0.95 CPU (baseline 0.25), latency 20 s falling by 2 s per second.
    fn one_failure() -> RunData {
        let mut lat = vec![];
        let mut cpu = vec![];
        for t in 0..600 {
            let c = if (232..242).contains(&t) { 0.95 } else { 0.25 };
            cpu.push((t, c));
            match t {
                220..=229 => {}
                230..=231 => lat.push((t, 0.0)),
                232..=241 => lat.push((t, 20_000.0 - 2_000.0 * (t - 232) as f64)),
                _ => lat.push((t, 1_100.0)),
            }
        }
        run(lat, cpu, vec![200])
    }

    #[test]
    fn a_catch_up_is_the_high_cpu_run_after_processing_resumes() {
        let c = catch_ups(&one_failure());
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].resumed, Some(232));
        // Threshold 0.25 + 0.25: the centred 3-s mean is 0.48 at 231 (0.25, 0.25, 0.95), 0.72
        // at 232 and 241, 0.95 between, and 0.48 at 242.
        assert_eq!(c[0].duration_s, Some(10));
        assert!((c[0].cpu_mean.unwrap() - 0.95).abs() < 1e-9);
        // The peak is the highest of those 3-s means within -5..+30 s of resuming.
        assert!((c[0].cpu_peak.unwrap() - 0.95).abs() < 1e-9);
        // 20, 18, ..., 2 s: all ten above 1.5 s; area = sum(v - 1.5).
        assert_eq!(c[0].seconds_over, 10);
        let area: f64 = (0..10).map(|i| 20.0 - 2.0 * i as f64 - 1.5).sum();
        assert!((c[0].area_over_s - area).abs() < 1e-9);
    }

    #[test]
    fn consumers_ahead_is_the_gap_free_throughput_before_resuming() {
        // Throughput reported until 219, missing 220-225, back from 226: 6 s before 232.
        let mut r = one_failure();
        r.throughput_rps.points = (0..600)
            .filter(|t| !(220..226).contains(t))
            .map(|t| (t, 40_000.0))
            .collect();
        let rec = catch_ups(&r);
        assert_eq!(rec[0].consumers_ahead_s, Some(6));
        // Back only with processing: 0 s ahead.
        let mut at_resume = r.clone();
        at_resume
            .throughput_rps
            .points
            .retain(|p| !(220..232).contains(&p.0));
        let sim = catch_ups(&at_resume);
        assert_eq!(sim[0].consumers_ahead_s, Some(0));
        assert_eq!(compare(&rec, &sim).consumers_ahead_mean_s, Some((6.0, 0.0)));
        // No gap at all: not a restart of the consumers.
        let mut r = one_failure();
        r.throughput_rps.points = (0..600).map(|t| (t, 40_000.0)).collect();
        assert_eq!(catch_ups(&r)[0].consumers_ahead_s, None);
    }

    #[test]
    fn no_resumption_or_no_cpu_rise_is_not_measured() {
        let mut r = one_failure();
        r.cpu_load.points.iter_mut().for_each(|p| p.1 = 0.25);
        let c = catch_ups(&r);
        assert_eq!(c[0].resumed, Some(232));
        assert_eq!(c[0].duration_s, None);
        let mut r = one_failure();
        r.latency_ms.points.retain(|p| p.0 < 220);
        assert_eq!(catch_ups(&r)[0].resumed, None);
    }

    #[test]
    fn a_replay_without_a_visible_catch_up_counts_as_zero_seconds() {
        let rec = catch_ups(&one_failure());
        let mut flat = one_failure();
        flat.cpu_load.points.iter_mut().for_each(|p| p.1 = 0.3);
        let sim = catch_ups(&flat);
        assert_eq!(sim[0].duration_s, None);
        let e = compare(&rec, &sim);
        assert_eq!(e.paired, 1);
        assert_eq!(e.duration_rms_s, Some(10.0));
        let (r, s) = e.cpu_mean.unwrap();
        assert!((r - 0.95).abs() < 1e-9 && (s - 0.3).abs() < 1e-9, "{r} {s}");
    }

    #[test]
    fn a_catch_up_cut_off_by_the_next_failure_is_not_measured() {
        // The next failure lands 1 s after processing resumes: the high-CPU run would start
        // at 232 but the window closes at 233 -> one second, measured; at 232 -> none.
        let mut r = one_failure();
        r.failures.push(233);
        assert_eq!(catch_ups(&r)[0].duration_s, Some(1));
        let mut r = one_failure();
        r.failures.push(232);
        let c = catch_ups(&r);
        assert_eq!(c[0].duration_s, None);
        assert!(c[0].cpu_mean.is_none());
    }

    #[test]
    fn comparison_pairs_failures_by_position() {
        let rec = catch_ups(&one_failure());
        let mut slower = one_failure();
        for p in slower.cpu_load.points.iter_mut() {
            if (242..246).contains(&p.0) {
                p.1 = 0.95;
            }
        }
        let sim = catch_ups(&slower);
        let e = compare(&rec, &sim);
        assert_eq!(e.paired, 1);
        assert_eq!(e.duration_rms_s, Some(4.0));
        assert_eq!(e.duration_mean_s, Some((10.0, 14.0)));
        assert_eq!(e.resumed_mean_s, Some((32.0, 32.0)));
        let (r, s) = e.cpu_peak_mean.unwrap();
        assert!(
            (r - 0.95).abs() < 1e-9 && (s - 0.95).abs() < 1e-9,
            "{r} {s}"
        );
    }

    #[test]
    fn the_peak_shows_a_saturated_level_that_a_longer_run_hides() {
        // A replay that catches up for 14 s at 0.8 (a ceiling) against 10 s at 0.95: the
        // durations differ by 4 s and the peaks by 0.15.
        let rec = catch_ups(&one_failure());
        let mut flat = one_failure();
        for p in flat.cpu_load.points.iter_mut() {
            if (232..246).contains(&p.0) {
                p.1 = 0.8;
            }
        }
        let e = compare(&rec, &catch_ups(&flat));
        assert_eq!(e.duration_mean_s, Some((10.0, 14.0)));
        let (r, s) = e.cpu_peak_mean.unwrap();
        assert!((r - 0.95).abs() < 1e-9 && (s - 0.8).abs() < 1e-9, "{r} {s}");
    }
}
