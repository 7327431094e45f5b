//! Second failovers in a recorded run: failures after which the restarted job stopped again
//! a few seconds after it had resumed, with its TaskManagers still registered.
//!
//! The shape (models/ysb.toml `[restart.second_failover]`, [T-2ND]): in 5 of the 169
//! network-delay failures of the recorded operator-managed deployments the throughput series
//! comes back 29-33 s after the injection, stops again exactly 6 s later and comes back 24-25 s
//! after that, while all TaskManagers stay registered. `validate` replays exactly the failures
//! that show it, so a replay is judged on the outages that happened rather than on draws.

use std::collections::BTreeSet;

use super::replay::RecordedPolicy;
use crate::runfolder::RunData;

/// The first throughput gap must start this soon after the injection (the heartbeat timeout
/// is 20 s; a failure that never stops the job is not a failover).
const FIRST_GAP_WITHIN_S: i64 = 90;
/// The job must have resumed this soon after the injection.
const RESUMED_WITHIN_S: i64 = 200;
/// The second gap starts at most this long after processing resumed (recorded: 6 s; other
/// stops 25-60 s after resuming are redeploys or the next rescale, not this).
const SECOND_GAP_WITHIN_S: i64 = 15;
/// A second gap shorter than this is a missed scrape, not a restart.
const SECOND_GAP_MIN_S: i64 = 4;
/// A second gap longer than this is something else (e.g. the job stopped for good).
const SECOND_GAP_MAX_S: i64 = 120;

/// Whether runs managed this way are judged for it: reactive (standalone) runs stop again when
/// the cut-off TaskManager returns, a different mechanism the twin models itself, and live
/// recordings kill TaskManagers rather than delay them.
pub fn applies(policy: Option<RecordedPolicy>) -> bool {
    !matches!(
        policy,
        Some(RecordedPolicy::Reactive) | Some(RecordedPolicy::Live)
    )
}

/// Indices into `failures` (epoch seconds, ascending) of the failures whose restarted job
/// failed a second time: the throughput series has a gap after the injection, resumes, and
/// has a second gap of `SECOND_GAP_MIN_S`..`SECOND_GAP_MAX_S` starting within
/// `SECOND_GAP_WITHIN_S` of resuming, during which every TaskManager sample is above 0 (a
/// savepoint redeploy takes them to 0).
pub fn recorded(run: &RunData, failures: &[i64]) -> BTreeSet<usize> {
    let thr = &run.throughput_rps;
    let has = |t: i64| thr.at(t).is_some();
    let first_missing = |from: i64, to: i64| (from..to).find(|&t| !has(t));
    let first_present = |from: i64, to: i64| (from..to).find(|&t| has(t));
    let mut out = BTreeSet::new();
    for (i, &t_inj) in failures.iter().enumerate() {
        let Some(gap1) = first_missing(t_inj, t_inj + FIRST_GAP_WITHIN_S) else {
            continue;
        };
        let Some(resumed) = first_present(gap1, t_inj + RESUMED_WITHIN_S) else {
            continue;
        };
        let Some(gap2) = first_missing(resumed, resumed + SECOND_GAP_WITHIN_S) else {
            continue;
        };
        let Some(back) = first_present(gap2, gap2 + SECOND_GAP_MAX_S) else {
            continue;
        };
        if back - gap2 < SECOND_GAP_MIN_S {
            continue;
        }
        let tms = run.task_managers.range(gap2, back);
        if !tms.is_empty() && tms.iter().all(|&(_, v)| v > 0.0) {
            out.insert(i);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runfolder::Series;

    /// A run whose throughput has samples except in `gaps` (half-open second ranges) and
    /// whose TaskManager count is `tms(t)`.
    fn run_with(gaps: &[(i64, i64)], tms: impl Fn(i64) -> Option<f64>) -> RunData {
        let in_gap = |t: i64| gaps.iter().any(|&(a, b)| t >= a && t < b);
        RunData {
            start_epoch: 0,
            window_s: 1000,
            throughput_rps: Series {
                points: (0..1000)
                    .filter(|&t| !in_gap(t))
                    .map(|t| (t, 1.0))
                    .collect(),
            },
            task_managers: Series {
                points: (0..1000).filter_map(|t| tms(t).map(|v| (t, v))).collect(),
            },
            ..RunData::default()
        }
    }

    #[test]
    fn finds_the_recorded_shape_and_nothing_else() {
        // Failure at 100: down 121..132, up 6 s, down again 138..162 (24 TaskManagers): listed.
        let run = run_with(&[(121, 132), (138, 162)], |_| Some(24.0));
        assert_eq!(recorded(&run, &[100]), BTreeSet::from([0]));
        // One outage only.
        let run = run_with(&[(121, 132)], |_| Some(24.0));
        assert!(recorded(&run, &[100]).is_empty());
        // A one-second scrape gap after resuming is not a failover.
        let run = run_with(&[(121, 132), (138, 140)], |_| Some(24.0));
        assert!(recorded(&run, &[100]).is_empty());
        // The second stop 30 s after resuming is something else.
        let run = run_with(&[(121, 132), (162, 190)], |_| Some(24.0));
        assert!(recorded(&run, &[100]).is_empty());
        // A savepoint redeploy (TaskManagers at 0) is not a second failover.
        let run = run_with(&[(121, 132), (138, 162)], |t| {
            Some(if (145..150).contains(&t) { 0.0 } else { 12.0 })
        });
        assert!(recorded(&run, &[100]).is_empty());
        // The index is the failure's position in the list.
        let run = run_with(&[(121, 132), (521, 532), (538, 562)], |_| Some(24.0));
        assert_eq!(recorded(&run, &[100, 500]), BTreeSet::from([1]));
    }
}
