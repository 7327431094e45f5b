//! The live backend: a real Flink job behind the `Backend` trait, through the REST API.
//!
//! It polls the REST API once per `sample_interval` on the wall clock (the only wall clock of
//! a live run lives here, in [`Clock`]), turns consecutive polls into the same `Observation`
//! the twin builds (rates from counters), records every poll for the run folder, and applies
//! actions: in-place rescale (`PUT /jobs/:id/resource-requirements`), stop-with-savepoint and
//! resubmit, and TaskManager counts through a [`Provisioner`]. Safety: bounds are clamped,
//! rescales per hour capped, nothing is applied on stale data or in `dry_run`, REST failures
//! are retried and then skipped, and every decision is logged with its observation.

pub mod http;
pub mod provision;
mod record;
pub mod rest;
mod sample;

use std::collections::VecDeque;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

pub use http::{FakeHttp, Http, UreqHttp};
pub use provision::{KubernetesProvisioner, LocalProvisioner, Provisioner};
pub use record::{LiveEvent, Recording};
pub use rest::{FlinkRest, RestError};
pub use sample::{ObservationBuilder, Snapshot, VertexCounters};

use super::{Backend, BackendError};
use crate::policy::{Action, JobState, Observation};
use crate::time::{SimDuration, SimTime};

/// The wall clock (or a fake one in tests).
pub trait Clock: Send {
    /// Milliseconds since the Unix epoch.
    fn epoch_ms(&self) -> u64;
    fn sleep(&mut self, d: Duration);
}

/// The real clock.
pub struct WallClock;

impl Clock for WallClock {
    fn epoch_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }
    fn sleep(&mut self, d: Duration) {
        std::thread::sleep(d);
    }
}

/// A clock that only moves when slept on (tests).
pub struct FakeClock(pub u64);

impl Clock for FakeClock {
    fn epoch_ms(&self) -> u64 {
        self.0
    }
    fn sleep(&mut self, d: Duration) {
        self.0 += d.as_millis() as u64;
    }
}

/// Limits no action may exceed.
#[derive(Clone, Debug, PartialEq)]
pub struct Bounds {
    pub min_parallelism: u32,
    pub max_parallelism: u32,
    pub min_task_managers: u32,
    pub max_task_managers: u32,
    /// Applied rescales (in place or redeploys) within any hour.
    pub max_rescales_per_hour: u32,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            min_parallelism: 1,
            max_parallelism: 8,
            min_task_managers: 1,
            max_task_managers: 4,
            max_rescales_per_hour: 20,
        }
    }
}

/// How a `Redeploy` whose only change is parallelism is applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedeployMode {
    /// Stop with a savepoint and resubmit the jar (needs [`Resubmit`]).
    Savepoint,
    /// An in-place rescale through the adaptive scheduler.
    InPlace,
}

/// What the backend needs to resubmit the job after a stop-with-savepoint.
#[derive(Clone, Debug, PartialEq)]
pub struct Resubmit {
    /// An uploaded jar's id (`GET /jars`).
    pub jar_id: String,
    /// The jar file itself: uploaded again when the JobManager lost its uploads (a restart
    /// without high availability).
    pub jar_file: Option<std::path::PathBuf>,
    pub entry_class: Option<String>,
    pub program_args: Vec<String>,
}

/// Settings of a live run.
#[derive(Clone, Debug)]
pub struct LiveConfig {
    pub job_id: String,
    pub duration: SimDuration,
    pub sample_interval: SimDuration,
    /// Observations older than this are stale: never acted on.
    pub stale_after: SimDuration,
    pub bounds: Bounds,
    pub dry_run: bool,
    pub redeploy: RedeployMode,
    pub resubmit: Option<Resubmit>,
    /// Source partitions when the job does not report `assignedSplits`.
    pub source_partitions: u32,
    /// How long a stop-with-savepoint may take.
    pub savepoint_timeout: Duration,
}

impl LiveConfig {
    pub fn new(job_id: &str, duration: SimDuration) -> LiveConfig {
        LiveConfig {
            job_id: job_id.to_string(),
            duration,
            sample_interval: SimDuration::from_secs(1),
            stale_after: SimDuration::from_secs(5),
            bounds: Bounds::default(),
            dry_run: false,
            redeploy: RedeployMode::Savepoint,
            resubmit: None,
            source_partitions: 0,
            savepoint_timeout: Duration::from_secs(60),
        }
    }
}

/// Per-vertex metric ids to request, found once per job from the metric listing.
struct MetricIds {
    job_id: String,
    per_vertex: Vec<Vec<String>>,
}

const VERTEX_METRICS: [&str; 6] = [
    "numRecordsIn",
    "numRecordsOut",
    "accumulateBusyTimeMs",
    "accumulateBackPressuredTimeMs",
    "accumulateIdleTimeMs",
    "buffers.inPoolUsage",
];
const OPERATOR_SUFFIXES: [&str; 4] = [
    ".pendingRecords",
    ".numRecordsIn",
    ".arrivedRecords",
    ".assignedSplits",
];

/// A real Flink job behind the `Backend` trait.
pub struct LiveBackend {
    rest: FlinkRest,
    clock: Box<dyn Clock>,
    provisioner: Option<Box<dyn Provisioner>>,
    cfg: LiveConfig,
    start_ms: u64,
    job_id: String,
    builder: ObservationBuilder,
    latest: Option<(Observation, bool)>,
    next_sample: SimTime,
    metric_ids: Option<MetricIds>,
    rescales: VecDeque<SimTime>,
    redeploying: bool,
    last_tms: Option<u32>,
    last_restarts: Option<u32>,
    down_since: Option<SimTime>,
    /// Since when the job runs but no poll gave valid rates, and whether that was reported.
    frozen_since: Option<(SimTime, bool)>,
    /// The latest completed checkpoint's path (`latest.completed.external_path`).
    last_checkpoint_path: Option<String>,
    /// Vertex ids and parallelism of the last poll of the running job (for a resubmit).
    last_running: Option<(Vec<String>, Vec<u32>)>,
    /// Since when the JobManager no longer knows the job, and when a resubmit was last tried.
    job_lost: Option<(SimTime, Option<SimTime>)>,
    recording: Recording,
    log: Box<dyn FnMut(&str) + Send>,
}

impl LiveBackend {
    /// Connects to the job: one successful `GET /jobs/:id` is required (a wrong URL or job id
    /// is bad input, not something to wait out).
    pub fn connect(
        rest: FlinkRest,
        clock: Box<dyn Clock>,
        provisioner: Option<Box<dyn Provisioner>>,
        cfg: LiveConfig,
    ) -> Result<LiveBackend, RestError> {
        let url = format!("/jobs/{}", cfg.job_id);
        let job = rest::parse_job(&url, &rest.get(&url)?)?;
        let start_ms = clock.epoch_ms();
        let mut recording = Recording::new(start_ms);
        recording.event(
            SimTime::ZERO,
            "connect",
            &format!(
                "{} job {} ({}) {}",
                rest.base(),
                job.id,
                job.name,
                job.state
            ),
        );
        Ok(LiveBackend {
            builder: ObservationBuilder::new(cfg.source_partitions),
            job_id: cfg.job_id.clone(),
            rest,
            clock,
            provisioner,
            cfg,
            start_ms,
            latest: None,
            next_sample: SimTime::ZERO,
            metric_ids: None,
            rescales: VecDeque::new(),
            redeploying: false,
            last_tms: None,
            last_restarts: None,
            down_since: None,
            frozen_since: None,
            last_checkpoint_path: None,
            last_running: None,
            job_lost: None,
            recording,
            log: Box::new(|_| {}),
        })
    }

    /// Where log lines go (the CLI prints them to stderr).
    pub fn set_log(&mut self, log: impl FnMut(&str) + Send + 'static) {
        self.log = Box::new(log);
    }

    /// The job currently controlled (changes after a savepoint redeploy).
    pub fn job_id(&self) -> &str {
        &self.job_id
    }

    /// What the run recorded so far.
    pub fn recording(&self) -> &Recording {
        &self.recording
    }

    /// Attaches the policy's reasons (`control::Decision::reason`, in order) to the recording.
    pub fn set_decision_reasons(&mut self, reasons: &[Option<&'static str>]) {
        self.recording.set_reasons(reasons);
    }

    /// The latest observation and whether its rates are valid.
    pub fn latest(&self) -> Option<&(Observation, bool)> {
        self.latest.as_ref()
    }

    fn say(&mut self, kind: &str, detail: &str) {
        let now = self.now();
        (self.log)(&format!("[{:>8.1} s] {kind}: {detail}", now.as_secs_f64()));
        self.recording.event(now, kind, detail);
    }

    fn to_time(start_ms: u64, ms: u64) -> SimTime {
        SimTime::from_ms(ms.saturating_sub(start_ms))
    }

    /// The metric ids worth requesting for one vertex, from its current metric listing.
    fn vertex_metric_ids(&self, job_id: &str, vertex_id: &str) -> Result<Vec<String>, RestError> {
        let url = format!("/jobs/{job_id}/vertices/{vertex_id}/subtasks/metrics");
        let names = rest::parse_names(&url, &self.rest.get(&url)?)?;
        Ok(names
            .into_iter()
            .filter(|n| {
                VERTEX_METRICS.contains(&n.as_str())
                    || (n.starts_with("Source__")
                        && OPERATOR_SUFFIXES.iter().any(|s| n.ends_with(s)))
            })
            .collect())
    }

    fn metric_ids(&mut self, job: &rest::JobDetails) -> Result<Vec<Vec<String>>, RestError> {
        if let Some(m) = &self.metric_ids {
            if m.job_id == job.id && m.per_vertex.len() == job.vertices.len() {
                return Ok(m.per_vertex.clone());
            }
        }
        let mut per_vertex = vec![];
        let mut complete = true;
        for v in &job.vertices {
            // Asking for an id a vertex lacks empties the whole answer: request only those listed.
            let wanted = self.vertex_metric_ids(&job.id, &v.id)?;
            complete &= !wanted.is_empty();
            per_vertex.push(wanted);
        }
        if complete {
            self.metric_ids = Some(MetricIds {
                job_id: job.id.clone(),
                per_vertex: per_vertex.clone(),
            });
        }
        Ok(per_vertex)
    }

    /// The aggregated counters of one vertex. Flink answers `[]` to the whole request when one
    /// requested id is unknown to the metric store, and a restarted attempt does not always
    /// register the same metrics as the one the ids were listed from: then the listing is read
    /// again and the request repeated with the ids the vertex has now.
    fn vertex_counters(
        &mut self,
        job_id: &str,
        vertex_id: &str,
        ids: &[String],
    ) -> Result<VertexCounters, RestError> {
        if ids.is_empty() {
            return Ok(VertexCounters::default());
        }
        let fetch = |rest: &FlinkRest, ids: &[String]| {
            let url = format!(
                "/jobs/{job_id}/vertices/{vertex_id}/subtasks/metrics?get={}&agg=sum,avg,max",
                ids.join(",")
            );
            rest::parse_agg(&url, &rest.get(&url)?)
        };
        let agg = fetch(&self.rest, ids)?;
        if !agg.is_empty() {
            return Ok(VertexCounters::from_agg(&agg));
        }
        let now_listed = self.vertex_metric_ids(job_id, vertex_id)?;
        if now_listed.is_empty() || now_listed == ids {
            return Ok(VertexCounters::default());
        }
        let gone: Vec<&str> = ids
            .iter()
            .filter(|i| !now_listed.contains(i))
            .map(String::as_str)
            .collect();
        let msg = format!(
            "vertex {vertex_id}: the metric store answered [] (ids no longer listed: {gone:?}); requesting the {} ids listed now",
            now_listed.len()
        );
        self.say("metric_ids_refreshed", &msg);
        self.metric_ids = None;
        Ok(VertexCounters::from_agg(&fetch(&self.rest, &now_listed)?))
    }

    /// One poll of the REST API.
    fn snapshot(&mut self) -> Result<Snapshot, RestError> {
        let url = format!("/jobs/{}", self.job_id);
        let job = rest::parse_job(&url, &self.rest.get(&url)?)?;
        let at = self.now();
        let ids = if job.all_running() {
            self.metric_ids(&job)?
        } else {
            vec![Vec::new(); job.vertices.len()]
        };
        let mut counters = Vec::with_capacity(job.vertices.len());
        for (v, ids) in job.vertices.iter().zip(&ids) {
            counters.push(self.vertex_counters(&job.id, &v.id, ids)?);
        }
        let overview = rest::parse_overview("/overview", &self.rest.get("/overview")?)?;
        let url = format!("/jobs/{}/metrics?get=numRestarts", job.id);
        let restarts = rest::parse_values(&url, &self.rest.get(&url)?)?
            .get("numRestarts")
            .map_or(0, |&r| r.max(0.0) as u32);
        // Optional extras: a failure here leaves the value unknown, not the poll failed.
        let cpu_load = self
            .rest
            .get("/taskmanagers/metrics?get=Status.JVM.CPU.Load&agg=avg")
            .ok()
            .and_then(|v| rest::parse_agg("", &v).ok())
            .and_then(|m| m.get("Status.JVM.CPU.Load").and_then(|a| a.avg));
        let start = self.start_ms;
        let checkpoints = self.rest.get(&format!("/jobs/{}/checkpoints", job.id)).ok();
        if let Some(p) = checkpoints
            .as_ref()
            .and_then(|v| v["latest"]["completed"]["external_path"].as_str())
        {
            self.last_checkpoint_path = Some(p.to_string());
        }
        let last_checkpoint = checkpoints
            .as_ref()
            .and_then(rest::parse_last_checkpoint)
            .map(|(at, d)| (Self::to_time(start, at), d));
        let checkpoint_interval_ms = self
            .rest
            .get(&format!("/jobs/{}/checkpoints/config", job.id))
            .ok()
            .and_then(|v| v["interval"].as_u64())
            .unwrap_or(0);
        let tm_shape = self.rest.get("/taskmanagers").ok().and_then(|v| {
            let tm = &v["taskmanagers"][0];
            let cores = rest::num(&tm["hardware"]["cpuCores"])?;
            let mem = rest::num(&tm["memoryConfiguration"]["totalProcessMemory"])?;
            Some((cores, (mem / 1_048_576.0).round() as u32))
        });
        Ok(Snapshot {
            at,
            job,
            counters,
            overview,
            restarts,
            cpu_load,
            last_checkpoint,
            checkpoint_interval_ms,
            tm_shape,
        })
    }

    /// Polls once, records the result, notes failures and recoveries.
    fn sample(&mut self) {
        match self.snapshot() {
            Ok(snap) => {
                let start = self.start_ms;
                if let Some(t) = self.down_since.take() {
                    let d = self.now().since(t).as_secs_f64();
                    self.say(
                        "rest_recovered",
                        &format!("REST answers again after {d:.1} s"),
                    );
                }
                let tms = snap.overview.task_managers;
                if let Some(before) = self.last_tms {
                    if tms < before {
                        self.recording.failure(snap.at);
                        self.say(
                            "task_manager_lost",
                            &format!("{before} -> {tms} TaskManagers registered"),
                        );
                    } else if tms > before {
                        self.say("task_manager_added", &format!("{before} -> {tms}"));
                    }
                }
                self.last_tms = Some(tms);
                if let Some(r) = self.last_restarts {
                    if snap.restarts > r {
                        self.say(
                            "job_restart",
                            &format!("numRestarts {r} -> {}", snap.restarts),
                        );
                    }
                }
                self.last_restarts = Some(snap.restarts);
                let was_running = self
                    .latest
                    .as_ref()
                    .is_some_and(|(o, _)| o.job_state == JobState::Running);
                let job_vertex_ids: Vec<String> =
                    snap.job.vertices.iter().map(|v| v.id.clone()).collect();
                let built = self.builder.feed(snap, |ms| Self::to_time(start, ms));
                let mut obs = built.observation;
                if self.redeploying {
                    if obs.job_state == JobState::Running {
                        self.redeploying = false;
                    } else {
                        obs.job_state = JobState::Redeploying;
                    }
                }
                let running = obs.job_state == JobState::Running;
                if running != was_running {
                    self.say(
                        "job_state",
                        &format!(
                            "{:?} (parallelism {:?})",
                            obs.job_state,
                            obs.vertices
                                .iter()
                                .map(|v| v.parallelism)
                                .collect::<Vec<_>>()
                        ),
                    );
                }
                if running {
                    self.last_running = Some((
                        job_vertex_ids,
                        obs.vertices.iter().map(|v| v.parallelism).collect(),
                    ));
                }
                self.recording.sample(&obs, built.rates_valid);
                // Flink's REST metric store sometimes keeps serving a previous attempt's values
                // after a restart; say so once, the loop keeps refusing to act meanwhile.
                if running && !built.rates_valid {
                    let now = self.now();
                    let (since, told) = *self.frozen_since.get_or_insert((now, false));
                    if !told && now.since(since) > self.cfg.stale_after {
                        self.frozen_since = Some((since, true));
                        let msg = format!(
                            "the job runs but its metric counters have not moved for {:.1} s (Flink's REST metric store); not acting until they do",
                            now.since(since).as_secs_f64()
                        );
                        self.say("metrics_frozen", &msg);
                    }
                } else if running {
                    if let Some((since, true)) = self.frozen_since {
                        let d = self.now().since(since).as_secs_f64();
                        self.say("metrics_resumed", &format!("after {d:.1} s"));
                    }
                    self.frozen_since = None;
                }
                // A poll that saw no new counter values keeps the last good observation.
                let keep = running
                    && !built.rates_valid
                    && self.latest.as_ref().is_some_and(|(o, v)| {
                        *v && o.running_since == obs.running_since
                            && self.now().since(o.time) < self.cfg.stale_after
                    });
                if !keep {
                    self.latest = Some((obs, built.rates_valid));
                }
            }
            Err(e) => {
                let lost = matches!(&e, RestError::Status { status: 404, url, .. }
                    if url.ends_with(&format!("/jobs/{}", self.job_id)));
                if self.down_since.is_none() {
                    self.down_since = Some(self.now());
                    let msg = e.to_string();
                    self.say("rest_error", &msg);
                }
                if lost {
                    self.recover_lost_job();
                }
            }
        }
    }

    /// The JobManager answers but no longer knows the job: it was restarted without high
    /// availability (jobs and uploaded jars are gone). What a platform engineer does by hand:
    /// resubmit the jar from the job's latest retained checkpoint with the parallelism it last
    /// ran with. Needs [`Resubmit`] (`--resubmit-jar-file`); tried at most every 5 s.
    fn recover_lost_job(&mut self) {
        let now = self.now();
        let (since, tried) = match self.job_lost {
            Some(l) => l,
            None => {
                let since = self.down_since.unwrap_or(now);
                self.recording.failure(since);
                self.say(
                    "job_lost",
                    &format!(
                        "the JobManager no longer knows job {} (restarted without high availability?)",
                        self.job_id
                    ),
                );
                (since, None)
            }
        };
        if tried.is_some_and(|t| now.saturating_since(t) < SimDuration::from_secs(5)) {
            return;
        }
        self.job_lost = Some((since, Some(now)));
        let Some(re) = self.cfg.resubmit.clone() else {
            if tried.is_none() {
                self.say(
                    "resubmit_failed",
                    "no jar to resubmit: pass --resubmit-jar-file (and the job's --program-arg) to recover from the latest checkpoint, or resubmit by hand",
                );
            }
            return;
        };
        let Some((ids, parallelism)) = self.last_running.clone() else {
            self.say(
                "resubmit_failed",
                "the job was never seen running: nothing to resubmit",
            );
            return;
        };
        let Some(path) = self.newest_checkpoint() else {
            self.say(
                "resubmit_failed",
                "no completed checkpoint of the job is known: resubmit it by hand",
            );
            return;
        };
        // The restarted JobManager lost its uploads: upload the jar again if we have it.
        let jar_id = match self.upload(&re) {
            Ok(Some(id)) => id,
            Ok(None) => re.jar_id.clone(),
            Err(e) => {
                self.say("resubmit_failed", &format!("{e}; retrying"));
                return;
            }
        };
        match self.submit(&re, &jar_id, &path, &ids, &parallelism) {
            Ok(j) => {
                let d = now.since(since).as_secs_f64();
                self.say(
                    "resubmitted",
                    &format!(
                        "job {} lost {d:.1} s ago: new job {j} from {path} at parallelism {parallelism:?}",
                        self.job_id
                    ),
                );
                self.job_id = j;
                self.metric_ids = None;
                self.job_lost = None;
                self.redeploying = true;
            }
            Err(e) => self.say("resubmit_failed", &format!("{e}; retrying")),
        }
    }

    /// Uploads `re.jar_file` (if given) and remembers the new jar id; `None` without a file.
    fn upload(&mut self, re: &Resubmit) -> Result<Option<String>, String> {
        let Some(f) = &re.jar_file else {
            return Ok(None);
        };
        let name = f
            .file_name()
            .map_or("job.jar".into(), |n| n.to_string_lossy().into_owned());
        let bytes = std::fs::read(f).map_err(|e| format!("cannot read {}: {e}", f.display()))?;
        let id = self
            .rest
            .upload_jar(&name, &bytes)
            .map_err(|e| format!("jar upload: {e}"))?;
        if let Some(r) = self.cfg.resubmit.as_mut() {
            r.jar_id = id.clone();
        }
        Ok(Some(id))
    }

    /// The newest completed checkpoint on disk next to the last one Flink reported (a local
    /// `file:` path: a checkpoint completed after the last poll is found too), else that one.
    fn newest_checkpoint(&self) -> Option<String> {
        let last = self.last_checkpoint_path.clone()?;
        let Some(local) = last.strip_prefix("file:") else {
            return Some(last);
        };
        let local = std::path::Path::new(local);
        let newest = local.parent().and_then(|dir| {
            std::fs::read_dir(dir)
                .ok()?
                .filter_map(|e| {
                    let e = e.ok()?;
                    let n: u64 = e.file_name().to_str()?.strip_prefix("chk-")?.parse().ok()?;
                    e.path().join("_metadata").exists().then_some((n, e.path()))
                })
                .max_by_key(|(n, _)| *n)
        });
        Some(match newest {
            Some((_, p)) => format!("file:{}", p.display()),
            None => last,
        })
    }

    /// `POST /jars/:id/run` from `path` with per-vertex parallelism; the new job id.
    fn submit(
        &mut self,
        re: &Resubmit,
        jar_id: &str,
        path: &str,
        ids: &[String],
        parallelism: &[u32],
    ) -> Result<String, String> {
        let overrides: Vec<String> = ids
            .iter()
            .zip(parallelism)
            .map(|(id, p)| format!("{id}:{p}"))
            .collect();
        let mut body = json!({
            "parallelism": parallelism.iter().copied().max().unwrap_or(1),
            "programArgsList": re.program_args,
            "savepointPath": path,
            "flinkConfiguration": {"pipeline.jobvertex-parallelism-overrides": overrides.join(",")},
        });
        if let Some(c) = &re.entry_class {
            body["entryClass"] = Value::String(c.clone());
        }
        let url = format!("/jars/{jar_id}/run");
        let v = self
            .rest
            .call("POST", &url, Some(&body), false)
            .map_err(|e| e.to_string())?;
        v["jobid"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("no jobid in {v}"))
    }

    fn stale_reason(&self) -> Option<String> {
        match &self.latest {
            None => Some("no observation yet".into()),
            Some((o, valid)) => {
                let age = self.now().saturating_since(o.time);
                if age > self.cfg.stale_after {
                    Some(format!(
                        "the last good observation is {:.1} s old (limit {:.1} s)",
                        age.as_secs_f64(),
                        self.cfg.stale_after.as_secs_f64()
                    ))
                } else if o.job_state != JobState::Running {
                    Some(format!("the job is {:?}", o.job_state))
                } else if !valid {
                    Some("rates need two polls of the running job".into())
                } else {
                    None
                }
            }
        }
    }

    fn vertex_ids(&self) -> Result<Vec<String>, BackendError> {
        let url = format!("/jobs/{}", self.job_id);
        let v = self.rest.get(&url).map_err(unavailable)?;
        Ok(rest::parse_job(&url, &v)
            .map_err(unavailable)?
            .vertices
            .into_iter()
            .map(|v| v.id)
            .collect())
    }

    fn clamp_parallelism(&mut self, wanted: &[u32]) -> Vec<u32> {
        let b = self.cfg.bounds.clone();
        let out: Vec<u32> = wanted
            .iter()
            .map(|&p| p.clamp(b.min_parallelism, b.max_parallelism))
            .collect();
        if out != wanted {
            self.say(
                "bounds",
                &format!(
                    "parallelism {wanted:?} clamped to {out:?} (bounds {}..={})",
                    b.min_parallelism, b.max_parallelism
                ),
            );
        }
        out
    }

    fn check_rescale_budget(&mut self) -> Result<(), BackendError> {
        let now = self.now();
        while self
            .rescales
            .front()
            .is_some_and(|&t| now.saturating_since(t) >= SimDuration::from_secs(3600))
        {
            self.rescales.pop_front();
        }
        if self.rescales.len() as u32 >= self.cfg.bounds.max_rescales_per_hour {
            return Err(BackendError::Refused(format!(
                "{} rescales in the last hour already (max_rescales_per_hour {})",
                self.rescales.len(),
                self.cfg.bounds.max_rescales_per_hour
            )));
        }
        Ok(())
    }

    fn rescale_in_place(&mut self, parallelism: &[u32]) -> Result<(), BackendError> {
        let ids = self.vertex_ids()?;
        if ids.len() != parallelism.len() {
            return Err(BackendError::Refused(format!(
                "the action sets {} vertices, the job has {}",
                parallelism.len(),
                ids.len()
            )));
        }
        let url = format!("/jobs/{}/resource-requirements", self.job_id);
        let current = self.rest.get(&url).map_err(|e| match e {
            RestError::Status { status: 500, .. } => BackendError::Refused(format!(
                "in-place rescale needs the adaptive scheduler (jobmanager.scheduler: adaptive): {e}"
            )),
            e => unavailable(e),
        })?;
        let targets: Vec<(String, u32)> =
            ids.into_iter().zip(parallelism.iter().copied()).collect();
        let body =
            rest::resource_requirements(&current, &targets).map_err(BackendError::Refused)?;
        self.rest
            .call("PUT", &url, Some(&body), true)
            .map_err(unavailable)?;
        Ok(())
    }

    fn redeploy_with_savepoint(&mut self, parallelism: &[u32]) -> Result<(), BackendError> {
        let Some(re) = self.cfg.resubmit.clone() else {
            return Err(BackendError::Refused(
                "a stop-with-savepoint redeploy needs the jar to resubmit: pass --resubmit-jar (or use --redeploy in-place)".into(),
            ));
        };
        let ids = self.vertex_ids()?;
        let url = format!("/jobs/{}/stop", self.job_id);
        let r = self
            .rest
            .call("POST", &url, Some(&json!({"drain": false})), false)
            .map_err(unavailable)?;
        let rid = r["request-id"]
            .as_str()
            .ok_or_else(|| BackendError::Unavailable(format!("{url}: no request-id in {r}")))?
            .to_string();
        let poll = format!("/jobs/{}/savepoints/{rid}", self.job_id);
        let t0 = self.clock.epoch_ms();
        let location = loop {
            if self.clock.epoch_ms() - t0 > self.cfg.savepoint_timeout.as_millis() as u64 {
                return Err(BackendError::Unavailable(format!(
                    "stop-with-savepoint of job {} did not complete within {:?}; check the job in the Flink UI",
                    self.job_id, self.cfg.savepoint_timeout
                )));
            }
            let s = self.rest.get(&poll).map_err(unavailable)?;
            match s["status"]["id"].as_str() {
                Some("COMPLETED") => match s["operation"]["location"].as_str() {
                    Some(l) => break l.to_string(),
                    None => {
                        return Err(BackendError::Refused(format!(
                            "stop-with-savepoint failed, the job keeps running: {}",
                            s["operation"]["failure-cause"]
                        )))
                    }
                },
                _ => self.clock.sleep(Duration::from_millis(200)),
            }
        };
        self.redeploying = true;
        self.say(
            "savepoint",
            &format!("job {} stopped at {location}", self.job_id),
        );
        let mut re = re;
        if re.jar_id.is_empty() {
            match self.upload(&re) {
                Ok(Some(id)) => re.jar_id = id,
                Ok(None) => {}
                Err(e) => self.say("resubmit_failed", &e),
            }
        }
        let mut last = String::new();
        for _ in 0..3 {
            match self.submit(&re, &re.jar_id, &location, &ids, parallelism) {
                Ok(j) => {
                    self.say("resubmitted", &format!("new job {j} from {location}"));
                    self.job_id = j;
                    self.metric_ids = None;
                    return Ok(());
                }
                Err(e) => last = e,
            }
            self.clock.sleep(Duration::from_secs(1));
        }
        let msg = format!(
            "the job was stopped with savepoint {location} but could not be resubmitted ({last}); resubmit it by hand with that savepoint"
        );
        self.say("resubmit_failed", &msg);
        Err(BackendError::Unavailable(msg))
    }
}

fn unavailable(e: RestError) -> BackendError {
    BackendError::Unavailable(e.to_string())
}

impl Backend for LiveBackend {
    fn now(&self) -> SimTime {
        Self::to_time(self.start_ms, self.clock.epoch_ms())
    }

    fn horizon(&self) -> SimTime {
        SimTime::ZERO + self.cfg.duration
    }

    fn observe(&mut self) -> Result<Observation, BackendError> {
        if self
            .latest
            .as_ref()
            .is_none_or(|(o, _)| self.now().saturating_since(o.time) >= self.cfg.sample_interval)
        {
            self.sample();
        }
        if let Some(why) = self.stale_reason() {
            let not_running = self
                .latest
                .as_ref()
                .is_some_and(|(o, _)| o.job_state != JobState::Running);
            let fresh = self
                .latest
                .as_ref()
                .is_some_and(|(o, _)| self.now().saturating_since(o.time) <= self.cfg.stale_after);
            // A fresh observation of a job that is not running is information for the
            // policies (they track restarts); anything else is skipped.
            if !(not_running && fresh) {
                return Err(BackendError::Unavailable(why));
            }
        }
        let (o, _) = self.latest.as_ref().expect("checked above");
        let mut o = o.clone();
        o.workload_rps_since_last = self.builder.take_arrivals();
        self.recording.observed(&o);
        Ok(o)
    }

    fn apply(&mut self, action: &Action) -> Result<(), BackendError> {
        let basis = self
            .latest
            .as_ref()
            .map(|(o, _)| record::summarize_observation(o))
            .unwrap_or_default();
        let result = self.apply_checked(action);
        let outcome = match &result {
            Ok(()) => "applied".to_string(),
            Err(e) => e.to_string(),
        };
        self.say(
            "decision",
            &format!("{action:?} -> {outcome}; based on {basis}"),
        );
        self.recording
            .decision(self.now(), action, &outcome, &basis);
        result
    }

    fn advance_until(&mut self, until: SimTime) -> Result<(), BackendError> {
        loop {
            let now = self.now();
            if now >= until {
                return Ok(());
            }
            if now >= self.next_sample {
                self.sample();
                let step = self.cfg.sample_interval;
                while self.next_sample <= self.now() {
                    self.next_sample += step;
                }
                continue;
            }
            let wake = self.next_sample.min(until);
            self.clock
                .sleep(Duration::from_millis(wake.since(now).as_ms().max(1)));
        }
    }
}

impl LiveBackend {
    fn apply_checked(&mut self, action: &Action) -> Result<(), BackendError> {
        if let Some(why) = self.stale_reason() {
            return Err(BackendError::Refused(format!("not acting: {why}")));
        }
        let current: Vec<u32> = self
            .latest
            .as_ref()
            .map(|(o, _)| o.vertices.iter().map(|v| v.parallelism).collect())
            .unwrap_or_default();
        match action {
            Action::SetTaskManagers(n) => {
                let b = &self.cfg.bounds;
                let target = (*n).clamp(b.min_task_managers, b.max_task_managers);
                if target != *n {
                    let msg = format!(
                        "TaskManagers {n} clamped to {target} (bounds {}..={})",
                        b.min_task_managers, b.max_task_managers
                    );
                    self.say("bounds", &msg);
                }
                if self.cfg.dry_run {
                    return Err(BackendError::Refused(format!(
                        "dry run: would set {target} TaskManagers"
                    )));
                }
                let p = self.provisioner.as_mut().ok_or_else(|| {
                    BackendError::Refused(
                        "no provisioner: pass --provisioner local:FLINK_HOME:CLUSTER_DIR or kubernetes:...".into(),
                    )
                })?;
                p.set_task_managers(target)
                    .map_err(BackendError::Unavailable)?;
                self.recording.config_changed(self.now());
                Ok(())
            }
            Action::Profile(_) => Err(BackendError::Refused(
                "profiling jobs are not launched on a live cluster yet: run Demeter against the twin".into(),
            )),
            Action::SetPlacement { .. } => Err(BackendError::Refused(
                "placement changes need Flink's custom scheduler, not available on this cluster".into(),
            )),
            Action::RescaleInPlace { .. } | Action::Redeploy(_) => {
                let (wanted, in_place) = match action {
                    Action::RescaleInPlace { parallelism } => (parallelism.clone(), true),
                    Action::Redeploy(c) => {
                        if let Some((o, _)) = &self.latest {
                            let cur = &o.config;
                            if (c.task_slots, c.memory_mb, c.checkpoint_interval)
                                != (cur.task_slots, cur.memory_mb, cur.checkpoint_interval)
                            {
                                let msg = "only the parallelism of a Redeploy is applied live; slots, memory and checkpoint interval stay as deployed";
                                self.say("redeploy_scope", msg);
                            }
                        }
                        (
                            (0..current.len()).map(|v| c.parallelism(v)).collect(),
                            self.cfg.redeploy == RedeployMode::InPlace,
                        )
                    }
                    _ => unreachable!("handled above"),
                };
                let target = self.clamp_parallelism(&wanted);
                if target == current {
                    return Err(BackendError::Refused(format!(
                        "parallelism {target:?} is the current one (after bounds)"
                    )));
                }
                self.check_rescale_budget()?;
                let how = if in_place {
                    "in place"
                } else {
                    "by stop-with-savepoint and resubmit"
                };
                if self.cfg.dry_run {
                    return Err(BackendError::Refused(format!(
                        "dry run: would rescale {current:?} -> {target:?} {how}"
                    )));
                }
                if in_place {
                    self.rescale_in_place(&target)?;
                } else {
                    self.redeploy_with_savepoint(&target)?;
                }
                let now = self.now();
                self.rescales.push_back(now);
                self.say("rescale", &format!("{current:?} -> {target:?} {how}"));
                self.recording.config_changed(now);
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests;
