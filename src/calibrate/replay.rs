//! Replaying a recorded run's configuration timeline: the TaskManager levels and configurations
//! it actually went through, as a policy, so the twin is judged apart from any policy.

use crate::flink::{JobConfig, SchedulerMode};
use crate::policy::{Action, DeploymentHints, Observation, Policy};
use crate::runfolder::RunData;
use crate::time::{SimDuration, SimTime};

/// What the recorded run changed, and when (seconds since its start).
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// A new configuration deployed by stop-with-savepoint + redeploy (Demeter, the operator).
    Redeploy(JobConfig),
    /// A new TaskManager replica count (reactive mode + HPA).
    TaskManagers(u32),
    /// A savepoint redeploy that happened whether or not the configuration the traces show
    /// changed (the operator autoscaler also redeploys to change a vertex's parallelism below
    /// the TaskManager count, which the traces do not record).
    Restart(JobConfig),
    /// A per-vertex in-place rescale through the adaptive scheduler (a live recording).
    RescaleInPlace(Vec<u32>),
}

/// How the recorded run's job was managed, from its name (`baseline`, `reactive`, `operator`,
/// `demeter`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordedPolicy {
    Static,
    Reactive,
    Operator,
    Demeter,
    /// A live recording (`demeter-sim live --record`): in-place rescales from its
    /// `events.csv`, TaskManager kills from `failures.csv` (see [`super::live`]).
    Live,
}

impl RecordedPolicy {
    pub fn from_run_name(name: &str) -> Option<RecordedPolicy> {
        match name {
            "baseline" | "static" => Some(RecordedPolicy::Static),
            "reactive" => Some(RecordedPolicy::Reactive),
            "operator" => Some(RecordedPolicy::Operator),
            "demeter" => Some(RecordedPolicy::Demeter),
            "live" => Some(RecordedPolicy::Live),
            _ => None,
        }
    }
}

/// A level must hold this long to count as a change; shorter dips are failures and restarts,
/// which the twin replays by itself.
const STABLE_LEVEL_S: i64 = 60;

/// The recorded TaskManager levels that held at least `STABLE_LEVEL_S`, as (second, level).
pub fn stable_levels(run: &RunData) -> Vec<(i64, u32)> {
    let pts = run
        .task_managers
        .range(run.start_epoch, run.start_epoch + run.window_s);
    let mut levels: Vec<(i64, u32)> = Vec::new();
    let mut i = 0;
    while i < pts.len() {
        let level = pts[i].1.round().max(0.0) as u32;
        let start = pts[i].0;
        let mut j = i;
        while j + 1 < pts.len() && pts[j + 1].1.round() as u32 == level {
            j += 1;
        }
        let held = pts[j].0 - start + 1;
        if held >= STABLE_LEVEL_S && levels.last().map(|l| l.1) != Some(level) {
            levels.push((start - run.start_epoch, level));
        }
        i = j + 1;
    }
    levels
}

/// The configuration timeline of a recorded run, relative to its start, for `policy`.
///
/// `job` describes the job model the timeline is for (used to read the operator runs' source
/// parallelism off their catch-up plateaus); without it every vertex runs at the level.
pub fn timeline(
    run: &RunData,
    policy: RecordedPolicy,
    base: &JobConfig,
    job: Option<ReplayJob>,
) -> Vec<(SimTime, Change)> {
    let at = |epoch: i64| SimTime::from_secs((epoch - run.start_epoch).max(0) as u64);
    match policy {
        // A live run's rescales are not in RunData: see `live_timeline`.
        RecordedPolicy::Static | RecordedPolicy::Live => Vec::new(),
        RecordedPolicy::Reactive => stable_levels(run)
            .into_iter()
            .skip(1)
            .map(|(s, level)| {
                (
                    SimTime::from_secs(s as u64),
                    Change::TaskManagers(level.max(1)),
                )
            })
            .collect(),
        // Every decision of the operator autoscaler was a savepoint redeploy (Flink 1.17,
        // research/demeter.md §3.3): replay each one the TaskManager series shows, at the level
        // it came back with. Per-vertex parallelism was not recorded: the source's is read off
        // the catch-up plateau where the catch-up outlasted the metric window (capacity / one
        // subtask's rate, at most the level), every other vertex runs at the level.
        RecordedPolicy::Operator => redeploys(run)
            .into_iter()
            .map(|r| {
                let mut c = base.clone();
                c.scale_out = r.level.max(1);
                if let (Some(plateau), Some(job)) = (r.catch_up_plateau_rps, job) {
                    let p = (plateau / job.source_subtask_rps)
                        .ceil()
                        .clamp(1.0, c.scale_out as f64) as u32;
                    c.parallelism_overrides = vec![Some(c.scale_out); job.vertices.max(1)];
                    c.parallelism_overrides[0] = Some(p);
                }
                let at = (r.stop_s - SAVEPOINT_LEAD_S).max(0) as u64;
                (SimTime::from_secs(at), Change::Restart(c))
            })
            .collect(),
        RecordedPolicy::Demeter => run
            .configs
            .iter()
            .skip(1)
            .filter(|c| c.timestamp >= run.start_epoch)
            .map(|c| {
                let config = JobConfig {
                    scale_out: c.scale_out,
                    task_slots: c.task_slots,
                    cpu: c.cpu,
                    memory_mb: c.memory_mb,
                    checkpoint_interval: SimDuration::from_ms(c.checkpoint_interval_ms),
                    parallelism_overrides: vec![],
                };
                (at(c.timestamp), Change::Redeploy(config))
            })
            .collect(),
    }
}

/// The timeline of a live recording: each requested in-place rescale at its request time.
pub fn live_timeline(live: &super::live::LiveRun) -> Vec<(SimTime, Change)> {
    live.rescale_requests
        .iter()
        .map(|(t, p)| (*t, Change::RescaleInPlace(p.clone())))
        .collect()
}

/// A policy that applies a recorded timeline. A configuration the twin has not taken yet (the
/// job was restarting, or a redeploy was still in progress) is issued again every
/// `RETRY_S` until the job runs it; a change that a newer one overtook is skipped.
pub struct ReplayPolicy {
    timeline: Vec<(SimTime, Change)>,
    next: usize,
    wanted: Option<JobConfig>,
    /// `wanted` comes from a [`Change::Restart`]: redeploy even if the configuration matches.
    force: bool,
    last_issued: Option<SimTime>,
    scheduler: SchedulerMode,
    checkpoint_interval: Option<SimDuration>,
    /// An in-place rescale due but not issued yet.
    rescale: Option<Vec<u32>>,
    /// (second, records in per second of the last vertex) at every observation.
    processed: Vec<(u64, f64)>,
    /// (second, the source's pending records) at every observation.
    pending: Vec<(u64, f64)>,
}

const RETRY_S: u64 = 10;

impl ReplayPolicy {
    pub fn new(
        timeline: Vec<(SimTime, Change)>,
        scheduler: SchedulerMode,
        checkpoint_interval: Option<SimDuration>,
    ) -> Self {
        ReplayPolicy {
            timeline,
            next: 0,
            wanted: None,
            force: false,
            last_issued: None,
            scheduler,
            checkpoint_interval,
            rescale: None,
            processed: Vec::new(),
            pending: Vec::new(),
        }
    }

    /// The last vertex's records in per second at each observation, as (second since the
    /// start, rate): every record passes it, so it is the job's processed throughput, the
    /// analogue of the live recording's `vertices.csv` rate of its last vertex.
    pub fn processed_rates(&self) -> &[(u64, f64)] {
        &self.processed
    }

    /// The source's pending records (the backlog, `pendingRecords`) at each observation, as
    /// (second since the start, records): the live recording's lag series.
    pub fn pending_records(&self) -> &[(u64, f64)] {
        &self.pending
    }
}

/// A redeploy takes all TaskManagers away: episodes with 0 registered TaskManagers for at
/// least this long are redeploys (a failure loses one TaskManager, never all of them).
pub(crate) const REDEPLOY_MIN_ZERO_S: i64 = 10;

/// Stop-with-savepoint runs this long before the TaskManagers go away (the twin's
/// `restart.savepoint_base_s`, research/demeter.md §3.4).
const SAVEPOINT_LEAD_S: i64 = 5;

/// Kafka's `records-consumed-rate` of a new consumer covers a full sample window (30 s) only
/// this long after it starts: earlier values are partial-window artefacts.
const KAFKA_RATE_WINDOW_S: i64 = 30;

/// How far before the TaskManagers reach 0 the job's stop is looked for: a search bound, not
/// a model number. Measured on the operator runs: the throughput series ends ~20 s before 24
/// TaskManagers reach 0 (teardown ~0.74 s per TaskManager, models/ysb.toml [T-REDEPLOY]);
/// 120 s leaves room for 6x that without reaching back into the previous redeploy (>= 190 s
/// apart in the recordings).
const STOP_LOOKBACK_S: i64 = 120;

/// Seconds of plateau needed to read the source's capacity off it: one full
/// `records-consumed-rate` sample window (`KAFKA_RATE_WINDOW_S`), so the median rests on at
/// least one window that lies wholly in the catch-up.
const MIN_PLATEAU_S: usize = KAFKA_RATE_WINDOW_S as usize;

/// `records-lag-max` is the max over the last 2 x 30-s samples.
const KAFKA_LAG_HOLD_S: i64 = 60;

/// How long after a redeploy its catch-up is looked at.
const CATCH_UP_WINDOW_S: i64 = 150;

/// Kafka's `records-lag-max` holds a peak for up to 2 x 30 s; a lag above the recovery
/// threshold for longer than this means the catch-up itself lasted beyond the metric window,
/// so the throughput plateau during it is the source's capacity, not a smoothed burst.
const LONG_CATCH_UP_S: usize = 90;

/// What the replay needs to know of the job model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReplayJob {
    /// Records per second one source subtask sustains.
    pub source_subtask_rps: f64,
    /// Job vertices (the source is vertex 0).
    pub vertices: usize,
}

/// One recorded savepoint redeploy.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedRedeploy {
    /// Seconds since the start when the TaskManagers fell to 0.
    pub at_s: i64,
    /// Seconds since the start when the job stopped: the last second of the throughput
    /// series before the episode (the old TaskManagers deregister some seconds later), or
    /// `at_s` without one in the 120 s before.
    pub stop_s: i64,
    /// The TaskManager level the job came back with: the highest registered in the 60 s after
    /// the episode, before the next one (= the largest vertex parallelism, 1 slot each).
    pub level: u32,
    /// The consumed rate in the catch-up after it (the median while the lag is above the
    /// recovery threshold, from one Kafka sample window after the restart on), when the
    /// catch-up outlasted the Kafka metric window (else `None`: no plateau to read).
    pub catch_up_plateau_rps: Option<f64>,
}

/// The recorded savepoint redeploys (see [`RecordedRedeploy`]).
pub fn redeploys(run: &RunData) -> Vec<RecordedRedeploy> {
    let lag = run
        .consumer_lag
        .range(run.start_epoch, run.start_epoch + run.window_s);
    let lags: Vec<f64> = lag.iter().map(|p| p.1).filter(|v| v.is_finite()).collect();
    let threshold = crate::report::stats::percentile(&lags, 0.5)
        .map(|m| crate::report::RecoveryParams::default().threshold(m));
    let episodes = redeploy_episodes(run);
    episodes
        .iter()
        .enumerate()
        .map(|(k, &(at_s, end_s, level))| {
            let next = episodes
                .get(k + 1)
                .map_or(run.window_s, |e| e.0)
                .min(end_s + CATCH_UP_WINDOW_S);
            let (from, to) = (run.start_epoch + end_s + 1, run.start_epoch + next);
            // The next redeploy's savepoint, after which the lag belongs to that one.
            let next_start = run.start_epoch
                + episodes
                    .get(k + 1)
                    .map_or(run.window_s, |e| e.0 - SAVEPOINT_LEAD_S);
            let long = threshold.is_some_and(|t| {
                run.consumer_lag
                    .range(from, to)
                    .iter()
                    .filter(|p| p.1 > t)
                    .count()
                    > LONG_CATCH_UP_S
            });
            // The plateau: the median consumed rate at the seconds the source still had a
            // backlog, once the new consumers' rate metric has a full sample window. The lag
            // metric is a max over the last 2 x 30 s, so it overstays the catch-up by up to a
            // minute; the lag was still above the threshold at t if the metric was a minute
            // later (a catch-up only shrinks the lag).
            let backlogged: std::collections::BTreeSet<i64> =
                threshold.map_or_else(Default::default, |t| {
                    run.consumer_lag
                        .range(
                            from + KAFKA_LAG_HOLD_S,
                            (to + KAFKA_LAG_HOLD_S).min(next_start),
                        )
                        .iter()
                        .filter(|p| p.1 > t)
                        .map(|p| p.0 - KAFKA_LAG_HOLD_S)
                        .collect()
                });
            let consuming = run
                .throughput_rps
                .range(from, to)
                .iter()
                .find(|p| p.1 > 0.0)
                .map_or(to, |p| p.0);
            let rates: Vec<f64> = run
                .throughput_rps
                .range(consuming + KAFKA_RATE_WINDOW_S, to)
                .iter()
                .filter(|p| p.1.is_finite() && backlogged.contains(&p.0))
                .map(|p| p.1)
                .collect();
            let plateau = crate::report::stats::percentile(&rates, 0.5)
                .filter(|_| rates.len() >= MIN_PLATEAU_S);
            let stop_s = run
                .throughput_rps
                .range(
                    run.start_epoch + at_s - STOP_LOOKBACK_S,
                    run.start_epoch + at_s,
                )
                .iter()
                .rev()
                .find(|p| p.1.is_finite())
                .map_or(at_s, |p| p.0 - run.start_epoch);
            RecordedRedeploy {
                at_s,
                stop_s,
                level,
                catch_up_plateau_rps: plateau.filter(|_| long),
            }
        })
        .collect()
}

/// TaskManagers-at-0 episodes as (start, end, level after), seconds since the start.
pub(crate) fn redeploy_episodes(run: &RunData) -> Vec<(i64, i64, u32)> {
    let pts = run
        .task_managers
        .range(run.start_epoch, run.start_epoch + run.window_s);
    let mut out = Vec::new();
    let mut i = 0;
    while i < pts.len() {
        if pts[i].1.round() as i64 != 0 || i == 0 || pts[i - 1].1.round() as i64 == 0 {
            i += 1;
            continue;
        }
        let start = pts[i].0;
        let mut j = i;
        while j + 1 < pts.len() && pts[j + 1].1.round() as i64 == 0 {
            j += 1;
        }
        let end = pts[j].0;
        let after = pts[j + 1..]
            .iter()
            .take_while(|p| p.0 < end + 60 && p.1.round() as i64 != 0)
            .map(|p| p.1.round() as u32)
            .max();
        if end - start + 1 >= REDEPLOY_MIN_ZERO_S {
            if let Some(level) = after {
                out.push((start - run.start_epoch, end - run.start_epoch, level));
            }
        }
        i = j + 1;
    }
    out
}

fn same_deployment(a: &JobConfig, b: &JobConfig) -> bool {
    a.scale_out == b.scale_out
        && a.task_slots == b.task_slots
        && a.cpu == b.cpu
        && a.memory_mb == b.memory_mb
        && a.checkpoint_interval == b.checkpoint_interval
}

impl Policy for ReplayPolicy {
    fn name(&self) -> &str {
        "replay"
    }
    fn interval(&self) -> SimDuration {
        SimDuration::from_secs(1)
    }
    fn decide(&mut self, observation: &Observation) -> Vec<Action> {
        self.pending
            .push((observation.time.as_secs(), observation.pending_records));
        if let Some(last) = observation.vertices.last() {
            self.processed
                .push((observation.time.as_secs(), last.records_in_per_s));
        }
        let mut out = Vec::new();
        while let Some((at, change)) = self.timeline.get(self.next) {
            if *at > observation.time {
                break;
            }
            match change {
                Change::TaskManagers(n) => out.push(Action::SetTaskManagers(*n)),
                Change::Redeploy(c) => {
                    self.wanted = Some(c.clone());
                    self.force = false;
                    self.last_issued = None;
                }
                Change::RescaleInPlace(p) => {
                    self.rescale = Some(p.clone());
                }
                Change::Restart(c) => {
                    self.wanted = Some(c.clone());
                    self.force = true;
                    self.last_issued = None;
                }
            }
            self.next += 1;
        }
        // An in-place rescale is requested once the job runs (a restarting job refuses it).
        if observation.job_state == crate::policy::JobState::Running {
            if let Some(p) = self.rescale.take() {
                out.push(Action::RescaleInPlace { parallelism: p });
            }
        }
        if let Some(want) = &self.wanted {
            if same_deployment(&observation.config, want) && !self.force {
                self.wanted = None;
            } else if observation.job_state == crate::policy::JobState::Running
                && self
                    .last_issued
                    .is_none_or(|t| observation.time.saturating_since(t).as_ms() >= RETRY_S * 1000)
            {
                out.push(Action::Redeploy(want.clone()));
                self.last_issued = Some(observation.time);
                // A forced restart is issued once; if it is refused the next one replaces it.
                self.force = false;
            }
        }
        out
    }
    fn deployment(&self) -> DeploymentHints {
        DeploymentHints {
            scheduler: Some(self.scheduler),
            checkpoint_interval: self.checkpoint_interval,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runfolder::Series;

    #[test]
    fn short_dips_are_not_levels() {
        let mut pts = Vec::new();
        for s in 0..300 {
            let level = if (100..115).contains(&s) {
                23.0
            } else if s >= 200 {
                12.0
            } else {
                24.0
            };
            pts.push((1000 + s, level));
        }
        let run = RunData {
            start_epoch: 1000,
            window_s: 300,
            task_managers: Series { points: pts },
            ..RunData::default()
        };
        assert_eq!(stable_levels(&run), vec![(0, 24), (200, 12)]);
    }

    #[test]
    fn redeploy_episodes_are_long_zero_dips_with_the_level_they_return_to() {
        // 24 TMs, a 30-s redeploy at 100 coming back 7 then 12, a 3-s glitch at 200 (not a
        // redeploy), a 20-s redeploy at 250 back to 24.
        let mut pts = Vec::new();
        for s in 0..400 {
            let level = match s {
                100..=129 => 0.0,
                130..=131 => 7.0,
                132..=199 => 12.0,
                200..=202 => 0.0,
                203..=249 => 12.0,
                250..=269 => 0.0,
                _ if s >= 270 => 24.0,
                _ => 24.0,
            };
            pts.push((1000 + s, level));
        }
        let run = RunData {
            start_epoch: 1000,
            window_s: 400,
            task_managers: Series { points: pts },
            ..RunData::default()
        };
        assert_eq!(
            redeploy_episodes(&run),
            vec![(100, 129, 12), (250, 269, 24)]
        );
        let base = initial_base();
        let job = ReplayJob {
            source_subtask_rps: 7_500.0,
            vertices: 2,
        };
        let t = timeline(&run, RecordedPolicy::Operator, &base, Some(job));
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].0, SimTime::from_secs(95));
        assert!(matches!(&t[1].1, Change::Restart(c) if c.scale_out == 24));
        // No lag series: no catch-up evidence, so no source override.
        assert!(matches!(&t[0].1, Change::Restart(c) if c.parallelism_overrides.is_empty()));
    }

    #[test]
    fn a_long_catch_up_gives_the_source_parallelism() {
        // 24 TMs; redeploy at 100-129 back to 24; lag high (50 K vs a 1 K median) for 120 s,
        // consumed rate 60 K during the catch-up: 60 000 / 7 500 = 8 source subtasks.
        let mut tms = Vec::new();
        let mut lag = Vec::new();
        let mut thr = Vec::new();
        for s in 0..1000 {
            tms.push((s, if (100..130).contains(&s) { 0.0 } else { 24.0 }));
            let catching_up = (130..250).contains(&s);
            lag.push((s, if catching_up { 50_000.0 } else { 1_000.0 }));
            thr.push((s, if catching_up { 60_000.0 } else { 30_000.0 }));
        }
        let run = recorded_1000_s(tms, lag, thr);
        let r = redeploys(&run);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].catch_up_plateau_rps, Some(60_000.0));
        let job = ReplayJob {
            source_subtask_rps: 7_500.0,
            vertices: 2,
        };
        let t = timeline(&run, RecordedPolicy::Operator, &initial_base(), Some(job));
        assert!(
            matches!(&t[0].1, Change::Restart(c)
                if c.parallelism_overrides == vec![Some(8), Some(24)] && c.max_parallelism() == 24),
            "{t:?}"
        );
    }

    #[test]
    fn the_plateau_skips_the_metric_warm_up_and_the_lag_hold_and_the_stop_precedes_the_zero() {
        // Job stops at 80 (throughput ends), TaskManagers at 0 over 100-129, back at 24.
        // Consumption resumes at 135: the rate metric ramps (20 K) for 30 s, then holds the
        // 60 K plateau until 200; the records-lag-max metric stays high for 60 s more (until
        // 260), while the consumed rate is back at the 30 K arrival rate.
        let mut tms = Vec::new();
        let mut lag = Vec::new();
        let mut thr = Vec::new();
        for s in 0..1000 {
            tms.push((s, if (100..130).contains(&s) { 0.0 } else { 24.0 }));
            lag.push((
                s,
                if (130..260).contains(&s) {
                    50_000.0
                } else {
                    1_000.0
                },
            ));
            let rate = match s {
                80..=134 => continue,
                135..=164 => 20_000.0,
                165..=199 => 60_000.0,
                _ => 30_000.0,
            };
            thr.push((s, rate));
        }
        let run = recorded_1000_s(tms, lag, thr);
        let r = redeploys(&run);
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].at_s, r[0].stop_s), (100, 79));
        assert_eq!(r[0].catch_up_plateau_rps, Some(60_000.0));
    }

    /// A 1 000-s recorded run with these TaskManager, lag and throughput series.
    fn recorded_1000_s(
        tms: Vec<(i64, f64)>,
        lag: Vec<(i64, f64)>,
        thr: Vec<(i64, f64)>,
    ) -> RunData {
        RunData {
            start_epoch: 0,
            window_s: 1000,
            task_managers: Series { points: tms },
            consumer_lag: Series { points: lag },
            throughput_rps: Series { points: thr },
            ..RunData::default()
        }
    }

    fn initial_base() -> JobConfig {
        JobConfig {
            scale_out: 24,
            task_slots: 1,
            cpu: 1.0,
            memory_mb: 4096,
            checkpoint_interval: SimDuration::from_secs(10),
            parallelism_overrides: vec![],
        }
    }
}
