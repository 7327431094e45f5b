//! Unit tests of the live backend against recorded REST answers (no Flink needed).

use super::*;

const JOB: &str = "1db3eed4676e0e73c77939cdc9a407c2";
const SRC: &str = "6bf01baa9d2ca23a3ef7ce311722523d";
const WORK: &str = "674df9b0384c0348e0b9d1034a44c46c";
const T0: u64 = 1_795_321_046_000;

fn src_metrics() -> String {
    metrics_path(SRC, include_str!("testdata/source_metric_names.json"))
}

fn work_metrics() -> String {
    metrics_path(WORK, include_str!("testdata/work_metric_names.json"))
}

/// The request the backend makes for a vertex whose listing is `names`.
fn metrics_path(vertex: &str, names: &str) -> String {
    let ids = super::rest::parse_names("", &serde_json::from_str(names).unwrap()).unwrap();
    let wanted: Vec<&str> = ids
        .iter()
        .map(String::as_str)
        .filter(|n| {
            VERTEX_METRICS.contains(n)
                || (n.starts_with("Source__") && OPERATOR_SUFFIXES.iter().any(|s| n.ends_with(s)))
        })
        .collect();
    format!(
        "/jobs/{JOB}/vertices/{vertex}/subtasks/metrics?get={}&agg=sum,avg,max",
        wanted.join(",")
    )
}

/// A fake Flink that answers as the recorded cluster did (two vertices, p=2, backpressured).
fn fake_flink() -> FakeHttp {
    let f = FakeHttp::new();
    f.on(
        "GET",
        &format!("/jobs/{JOB}"),
        200,
        include_str!("testdata/job_1.json"),
    );
    f.on(
        "GET",
        &format!("/jobs/{JOB}/vertices/{SRC}/subtasks/metrics"),
        200,
        include_str!("testdata/source_metric_names.json"),
    );
    f.on(
        "GET",
        &format!("/jobs/{JOB}/vertices/{WORK}/subtasks/metrics"),
        200,
        include_str!("testdata/work_metric_names.json"),
    );
    f.on(
        "GET",
        "/overview",
        200,
        include_str!("testdata/overview.json"),
    );
    f.on(
        "GET",
        &format!("/jobs/{JOB}/metrics?get=numRestarts"),
        200,
        include_str!("testdata/job_metrics.json"),
    );
    f.on(
        "GET",
        &format!("/jobs/{JOB}/resource-requirements"),
        200,
        include_str!("testdata/resource_requirements.json"),
    );
    f.on(
        "PUT",
        &format!("/jobs/{JOB}/resource-requirements"),
        200,
        "{}",
    );
    f
}

/// Source counters that grow by `k` x (1000 in, 500 busy ms) per step.
fn source_answer(k: f64) -> String {
    format!(
        r#"[{{"id":"numRecordsOut","sum":{}}},{{"id":"accumulateBusyTimeMs","avg":{}}},{{"id":"Source__gen.pendingRecords","sum":5000}},{{"id":"Source__gen.numRecordsIn","sum":{}}},{{"id":"Source__gen.arrivedRecords","sum":{}}}]"#,
        1000.0 * k,
        500.0 * k,
        1000.0 * k,
        1200.0 * k
    )
}

fn backend(f: &FakeHttp, cfg: LiveConfig) -> LiveBackend {
    let mut rest = FlinkRest::new("http://127.0.0.1:18081", Box::new(f.clone()), 1);
    rest.retry_pause = Duration::ZERO;
    LiveBackend::connect(rest, Box::new(FakeClock(T0)), None, cfg).unwrap()
}

fn feed_counters(f: &FakeHttp, steps: usize) {
    f.clear("GET", &src_metrics());
    for k in 0..steps {
        f.on("GET", &src_metrics(), 200, &source_answer(k as f64));
    }
    f.on(
        "GET",
        &work_metrics(),
        200,
        include_str!("testdata/work_metrics_1.json"),
    );
}

#[test]
fn rates_come_from_counters_and_the_observation_matches_flink() {
    let f = fake_flink();
    feed_counters(&f, 10);
    let mut b = backend(&f, LiveConfig::new(JOB, SimDuration::from_secs(60)));
    b.advance_until(SimTime::from_secs(3)).unwrap();
    let o = b.observe().unwrap();
    assert_eq!(o.job_state, JobState::Running);
    assert_eq!(o.vertices.len(), 2);
    let s = &o.vertices[0];
    assert!(s.is_source && !o.vertices[1].is_source);
    assert_eq!(o.vertices[1].inputs, vec![(0, true)]);
    // 1000 records and 500 busy ms per 1-s poll.
    assert!((s.records_in_per_s - 1000.0).abs() < 1e-6, "{s:?}");
    assert!((s.busy_time_ms_per_s - 500.0).abs() < 1e-6, "{s:?}");
    assert_eq!(o.pending_records, 5000.0);
    assert_eq!((o.task_managers, o.task_slots_total), (2, 4));
    assert!(o
        .workload_rps_since_last
        .iter()
        .all(|&r| (r - 1200.0).abs() < 1e-6));
    assert!(!o.workload_rps_since_last.is_empty());
}

#[test]
fn a_rest_outage_is_survived_and_never_acted_on() {
    let f = fake_flink();
    feed_counters(&f, 10);
    let mut cfg = LiveConfig::new(JOB, SimDuration::from_secs(60));
    cfg.stale_after = SimDuration::from_secs(3);
    let mut b = backend(&f, cfg);
    b.advance_until(SimTime::from_secs(3)).unwrap();
    assert!(b.observe().is_ok());
    // The JobManager goes away.
    f.clear("GET", &format!("/jobs/{JOB}"));
    b.advance_until(SimTime::from_secs(10)).unwrap();
    let e = b.observe().unwrap_err();
    assert!(matches!(e, BackendError::Unavailable(_)), "{e}");
    let e = b
        .apply(&Action::RescaleInPlace {
            parallelism: vec![2, 3],
        })
        .unwrap_err();
    assert!(e.to_string().contains("not acting"), "{e}");
    assert!(!f.requests().iter().any(|(k, _)| k.starts_with("PUT")));
    // It comes back: observations resume (rates need two polls again).
    f.on(
        "GET",
        &format!("/jobs/{JOB}"),
        200,
        include_str!("testdata/job_1.json"),
    );
    feed_counters(&f, 10);
    b.advance_until(SimTime::from_secs(14)).unwrap();
    assert!(b.observe().is_ok());
    let kinds: Vec<&str> = b
        .recording()
        .events
        .iter()
        .map(|e| e.kind.as_str())
        .collect();
    assert!(
        kinds.contains(&"rest_error") && kinds.contains(&"rest_recovered"),
        "{kinds:?}"
    );
}

#[test]
fn bounds_clamp_dry_run_applies_nothing_and_rescales_are_capped() {
    let f = fake_flink();
    feed_counters(&f, 30);
    let mut cfg = LiveConfig::new(JOB, SimDuration::from_secs(60));
    cfg.bounds.max_parallelism = 3;
    cfg.bounds.max_rescales_per_hour = 1;
    cfg.dry_run = true;
    let mut b = backend(&f, cfg.clone());
    b.advance_until(SimTime::from_secs(3)).unwrap();
    let e = b
        .apply(&Action::RescaleInPlace {
            parallelism: vec![2, 9],
        })
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("dry run: would rescale [2, 2] -> [2, 3] in place"),
        "{e}"
    );
    assert!(!f.requests().iter().any(|(k, _)| k.starts_with("PUT")));

    cfg.dry_run = false;
    let f = fake_flink();
    feed_counters(&f, 30);
    let mut b = backend(&f, cfg);
    b.advance_until(SimTime::from_secs(3)).unwrap();
    b.apply(&Action::RescaleInPlace {
        parallelism: vec![2, 9],
    })
    .unwrap();
    let (_, body) = f
        .requests()
        .into_iter()
        .find(|(k, _)| k.starts_with("PUT"))
        .expect("a PUT");
    let body: serde_json::Value = serde_json::from_str(&body.unwrap()).unwrap();
    assert_eq!(body[WORK]["parallelism"]["upperBound"], 3);
    b.advance_until(SimTime::from_secs(5)).unwrap();
    let e = b
        .apply(&Action::RescaleInPlace {
            parallelism: vec![1, 1],
        })
        .unwrap_err()
        .to_string();
    assert!(e.contains("max_rescales_per_hour 1"), "{e}");
    assert!(b
        .apply(&Action::SetTaskManagers(3))
        .unwrap_err()
        .to_string()
        .contains("no provisioner"));
    assert!(b.recording().decisions.len() == 3);
    assert!(b.recording().decisions[0].basis.contains("pending=5000"));
    // The policy's reasons are attached only when there is one per decision.
    b.set_decision_reasons(&[Some("a")]);
    assert!(b.recording().decisions.iter().all(|d| d.reason.is_none()));
    b.set_decision_reasons(&[Some("scale up"), None, Some("add a node")]);
    let reasons: Vec<_> = b.recording().decisions.iter().map(|d| d.reason).collect();
    assert_eq!(reasons, [Some("scale up"), None, Some("add a node")]);
}

#[test]
fn a_lost_task_manager_is_a_failure_in_the_recording() {
    let f = fake_flink();
    feed_counters(&f, 30);
    let mut b = backend(&f, LiveConfig::new(JOB, SimDuration::from_secs(60)));
    b.advance_until(SimTime::from_secs(3)).unwrap();
    f.clear("GET", "/overview");
    f.on(
        "GET",
        "/overview",
        200,
        r#"{"taskmanagers":1,"slots-total":2,"slots-available":0}"#,
    );
    b.advance_until(SimTime::from_secs(5)).unwrap();
    assert_eq!(b.recording().run.failures.len(), 1);
    assert!(b
        .recording()
        .events
        .iter()
        .any(|e| e.kind == "task_manager_lost" && e.detail == "2 -> 1 TaskManagers registered"));
}

/// After a restart the new attempt may lack an id the old one listed; Flink then answers `[]`
/// to the whole request, which froze the counters for the rest of the run (issue 6). The
/// backend lists the ids again and observes rates with the ids the vertex has now.
#[test]
fn an_empty_answer_after_a_restart_refreshes_the_metric_ids() {
    let f = fake_flink();
    feed_counters(&f, 4);
    let mut b = backend(&f, LiveConfig::new(JOB, SimDuration::from_secs(60)));
    b.advance_until(SimTime::from_secs(3)).unwrap();
    assert!(b.latest().is_some_and(|(_, valid)| *valid));
    // The restarted attempt has no `arrivedRecords` (yet): the old request gets [].
    let names: Vec<serde_json::Value> =
        serde_json::from_str(include_str!("testdata/source_metric_names.json")).unwrap();
    let fewer: Vec<&serde_json::Value> = names
        .iter()
        .filter(|m| m["id"] != "Source__gen.arrivedRecords")
        .collect();
    let fewer = serde_json::to_string(&fewer).unwrap();
    let listing = format!("/jobs/{JOB}/vertices/{SRC}/subtasks/metrics");
    f.clear("GET", &listing);
    f.on("GET", &listing, 200, &fewer);
    f.clear("GET", &src_metrics());
    f.on("GET", &src_metrics(), 200, "[]");
    let new_path = metrics_path(SRC, &fewer);
    assert_ne!(new_path, src_metrics());
    for k in 4..20 {
        f.on("GET", &new_path, 200, &source_answer(k as f64));
    }
    b.advance_until(SimTime::from_secs(8)).unwrap();
    let events = &b.recording().events;
    assert!(
        events
            .iter()
            .any(|e| e.kind == "metric_ids_refreshed"
                && e.detail.contains("Source__gen.arrivedRecords")),
        "{events:?}"
    );
    assert!(
        !events.iter().any(|e| e.kind == "metrics_frozen"),
        "{events:?}"
    );
    let (o, valid) = b.latest().unwrap();
    assert!(*valid, "rates are observed again");
    assert!(
        (o.vertices[0].records_in_per_s - 1000.0).abs() < 1.0,
        "{o:?}"
    );
    // Without the refresh the recording would have no throughput after the restart.
    assert!(b.recording().run.throughput_rps.points.len() >= 6);
}

/// A JobManager restarted without high availability no longer knows the job: the backend
/// never acts meanwhile, uploads the jar again and resubmits it from the newest completed
/// checkpoint on disk with the parallelism the job last ran with.
#[test]
fn a_job_lost_in_a_jobmanager_restart_is_resubmitted_from_its_newest_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let chk_root = dir.path().join(JOB);
    for n in [11, 12] {
        std::fs::create_dir_all(chk_root.join(format!("chk-{n}"))).unwrap();
    }
    // chk-12 completed after the last poll (its _metadata is there); chk-13 is unfinished.
    std::fs::write(chk_root.join("chk-11/_metadata"), "x").unwrap();
    std::fs::write(chk_root.join("chk-12/_metadata"), "x").unwrap();
    std::fs::create_dir_all(chk_root.join("chk-13")).unwrap();
    let jar = dir.path().join("rate-job.jar");
    std::fs::write(&jar, b"PK jar bytes").unwrap();

    let f = fake_flink();
    feed_counters(&f, 40);
    let checkpoints = include_str!("testdata/checkpoints.json").replace(
        "file:/tmp/dlive/cluster/state/checkpoints",
        &format!("file:{}", dir.path().display()),
    );
    f.on(
        "GET",
        &format!("/jobs/{JOB}/checkpoints"),
        200,
        &checkpoints,
    );
    let mut cfg = LiveConfig::new(JOB, SimDuration::from_secs(60));
    cfg.resubmit = Some(Resubmit {
        jar_id: "gone_rate-job.jar".into(),
        jar_file: Some(jar),
        entry_class: None,
        program_args: vec!["--rate".into(), "300".into()],
    });
    let mut b = backend(&f, cfg);
    b.advance_until(SimTime::from_secs(3)).unwrap();
    assert!(b.observe().is_ok());

    // The JobManager is down for 3 s, then answers 404 for the job.
    let job_path = format!("/jobs/{JOB}");
    f.clear("GET", &job_path);
    for _ in 0..3 {
        f.fail("GET", &job_path, "connection refused");
    }
    f.on(
        "GET",
        &job_path,
        404,
        r#"{"errors":["org.apache.flink.runtime.rest.NotFoundException: Job 1db3eed4676e0e73c77939cdc9a407c2 not found"]}"#,
    );
    f.on(
        "POST",
        "/jars/upload",
        200,
        r#"{"filename":"/tmp/flink-web-1/flink-web-upload/new_rate-job.jar","status":"success"}"#,
    );
    f.on(
        "POST",
        "/jars/new_rate-job.jar/run",
        200,
        r#"{"jobid":"2bd1e4a0000000000000000000000002"}"#,
    );
    b.advance_until(SimTime::from_secs(5)).unwrap();
    assert!(
        matches!(
            b.apply(&Action::RescaleInPlace {
                parallelism: vec![2, 2]
            }),
            Err(BackendError::Refused(_))
        ),
        "never acts while the JobManager is away"
    );
    b.advance_until(SimTime::from_secs(9)).unwrap();
    let kinds: Vec<&str> = b
        .recording()
        .events
        .iter()
        .map(|e| e.kind.as_str())
        .collect();
    assert!(kinds.contains(&"job_lost"), "{kinds:?}");
    assert!(kinds.contains(&"resubmitted"), "{kinds:?}");
    assert_eq!(b.job_id(), "2bd1e4a0000000000000000000000002");
    assert_eq!(
        b.recording().run.failures.len(),
        1,
        "the outage is a failure"
    );
    let run = f
        .requests()
        .into_iter()
        .find(|(k, _)| k == "POST /jars/new_rate-job.jar/run")
        .expect("resubmitted with the uploaded jar");
    let body: serde_json::Value = serde_json::from_str(&run.1.unwrap()).unwrap();
    assert_eq!(
        body["savepointPath"],
        format!("file:{}", chk_root.join("chk-12").display())
    );
    assert_eq!(
        body["programArgsList"],
        serde_json::json!(["--rate", "300"])
    );
    assert_eq!(
        body["flinkConfiguration"]["pipeline.jobvertex-parallelism-overrides"],
        format!("{SRC}:2,{WORK}:2")
    );
}

/// `accumulateBusyTimeMs` of a backpressured source goes down between polls (Flink derives it
/// from the idle and backpressured timers); that is no restart, and the rates stay valid.
/// Before the fix every other poll was thrown away and no rate was ever valid (issue 6).
#[test]
fn a_busy_time_that_goes_down_under_backpressure_is_not_a_restart() {
    let f = fake_flink();
    f.clear("GET", &src_metrics());
    // Recorded on the live cluster (a backpressured source at p=1, one poll per second).
    let busy = [
        667.0, 689.0, 708.0, 706.0, 534.0, 695.0, 640.0, 593.0, 627.0, 659.0, 710.0,
    ];
    for (k, b) in busy.iter().enumerate() {
        f.on(
            "GET",
            &src_metrics(),
            200,
            &format!(
                r#"[{{"id":"numRecordsOut","sum":{n}}},{{"id":"accumulateBusyTimeMs","avg":{b}}},{{"id":"Source__gen.pendingRecords","sum":5000}},{{"id":"Source__gen.numRecordsIn","sum":{n}}}]"#,
                n = 30_000.0 + 800.0 * k as f64
            ),
        );
    }
    f.on(
        "GET",
        &work_metrics(),
        200,
        include_str!("testdata/work_metrics_1.json"),
    );
    let mut b = backend(&f, LiveConfig::new(JOB, SimDuration::from_secs(60)));
    for s in 3..=10 {
        b.advance_until(SimTime::from_secs(s)).unwrap();
        let (o, valid) = b.latest().unwrap();
        assert!(*valid, "poll {s}: {o:?}");
        let v = &o.vertices[0];
        assert!((v.records_in_per_s - 800.0).abs() < 1.0, "{v:?}");
        assert!((0.0..=1000.0).contains(&v.busy_time_ms_per_s), "{v:?}");
    }
    assert!(!b
        .recording()
        .events
        .iter()
        .any(|e| e.kind == "metrics_frozen"));
}

/// Recorded on the live cluster (issue 6) right after `work` was rescaled 1 -> 3 under a
/// 2,500 rec/s load: the REST counters, one poll per second (the 5th answer repeats the 4th,
/// as Flink's metric store does). The back-pressured source emitted 2,162 records in 8 s while
/// `work` took in 21,184 from the network buffers. The source's rates are what reached `work`,
/// the records still in the buffers count as backlog, and read + backlog is unchanged.
#[test]
fn records_in_the_network_buffers_are_backlog_not_read() {
    let f = fake_flink();
    f.clear("GET", &src_metrics());
    // (source numRecordsOut = Source__gen.numRecordsIn, pendingRecords, work numRecordsIn)
    let polls = [
        (29_666.0, 5.0, 8_310.0),
        (29_712.0, 3_751.0, 12_321.0),
        (30_952.0, 5_503.0, 14_964.0),
        (31_156.0, 6_739.0, 17_607.0),
        (31_443.0, 9_492.0, 20_239.0),
        (31_443.0, 9_492.0, 20_239.0),
        (31_653.0, 13_650.0, 24_170.0),
        (31_653.0, 13_650.0, 26_862.0),
        (31_828.0, 19_419.0, 29_494.0),
    ];
    for &(out, pending, _) in &polls {
        f.on(
            "GET",
            &src_metrics(),
            200,
            &format!(
                r#"[{{"id":"numRecordsOut","sum":{out}}},{{"id":"accumulateBusyTimeMs","avg":100}},{{"id":"Source__gen.pendingRecords","sum":{pending}}},{{"id":"Source__gen.numRecordsIn","sum":{out}}}]"#
            ),
        );
    }
    for &(_, _, work_in) in &polls {
        f.on(
            "GET",
            &work_metrics(),
            200,
            &format!(
                r#"[{{"id":"numRecordsIn","sum":{work_in}}},{{"id":"accumulateBusyTimeMs","avg":{}}}]"#,
                work_in / 2.0
            ),
        );
    }
    let mut b = backend(&f, LiveConfig::new(JOB, SimDuration::from_secs(60)));
    let mut checked = 0;
    for t in 1..polls.len() as u64 {
        b.advance_until(SimTime::from_secs(t)).unwrap();
        let (o, valid) = b.latest().unwrap().clone();
        let (s, w) = (&o.vertices[0], &o.vertices[1]);
        let &(out, pending, work_in) = polls
            .iter()
            .find(|p| p.2 == w.records_in_total)
            .expect("a recorded poll");
        // Read + backlog = Flink's numRecordsIn + pendingRecords (the arrivals).
        assert!(
            (s.records_in_total + o.pending_records - (out + pending)).abs() < 1e-6,
            "{o:?}"
        );
        if t < 2 {
            continue; // the first poll has no base to tell one job attempt's counters by
        }
        assert!((s.records_in_total - work_in).abs() < 1e-6, "{s:?}");
        assert!((o.pending_records - (pending + out - work_in)).abs() < 1e-6);
        if valid {
            assert!(
                (s.records_in_per_s - w.records_in_per_s).abs() < 1e-6,
                "{o:?}"
            );
            assert!(
                (s.records_out_per_s - w.records_in_per_s).abs() < 1e-6,
                "{o:?}"
            );
            // Flink's source counters alone gave 0-1,240 rec/s over these polls.
            assert!(s.records_in_per_s > 1_500.0, "{s:?}");
            checked += 1;
        }
    }
    assert!(checked >= 4, "{checked} valid polls");
}
