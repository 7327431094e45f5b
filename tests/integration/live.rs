//! Live tests against a real Flink 1.20 on 127.0.0.1 (tools/live/): the conformance suite on the
//! live backend, DS2 scaling the test job in place through a load step, and a killed
//! TaskManager survived. Opt-in with DEMETER_LIVE=1 (.ci/run sets it); skipped, saying why,
//! without it or without Java.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use demeter_sim::backend::live::{
    FlinkRest, LiveBackend, LiveConfig, RedeployMode, UreqHttp, WallClock,
};
use demeter_sim::backend::Backend;
use demeter_sim::policy::Action;
use demeter_sim::scenario::PolicySpec;
use demeter_sim::time::SimDuration;

/// Why the live tests cannot run here, if they cannot.
fn skip_reason() -> Option<String> {
    if std::env::var("DEMETER_LIVE").ok().as_deref() != Some("1") {
        return Some("set DEMETER_LIVE=1 to run the live Flink tests (.ci/run does)".into());
    }
    for tool in ["java", "javac", "jar"] {
        let ok = Command::new(tool).arg("-version").output().is_ok()
            || Command::new(tool).arg("--version").output().is_ok();
        if !ok {
            return Some(format!(
                "{tool} not found: the live Flink tests need a JDK 11 or 17"
            ));
        }
    }
    None
}

fn sh(script: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = Command::new(Path::new("tools/live").join(script))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
    assert!(
        out.status.success(),
        "{script} {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A cluster that is stopped (by PID) when dropped, even if the test fails.
struct Cluster {
    home: String,
    dir: PathBuf,
    url: String,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("tools/live/stop_cluster.sh")
            .arg(&self.dir)
            .output();
    }
}

impl Cluster {
    fn tm(&self, cmd: &str) -> String {
        sh("tm.sh", &[&self.home, self.dir.to_str().unwrap(), cmd], &[])
    }
}

fn backend(c: &Cluster, job: &str, secs: u64, record: bool) -> LiveBackend {
    let _ = record;
    let rest = FlinkRest::new(&c.url, Box::new(UreqHttp::new(Duration::from_secs(3))), 2);
    let mut cfg = LiveConfig::new(job, SimDuration::from_secs(secs));
    cfg.redeploy = RedeployMode::InPlace;
    cfg.bounds.max_parallelism = 4;
    let mut b = LiveBackend::connect(rest, Box::new(WallClock), None, cfg).unwrap();
    b.set_log(|l| eprintln!("{l}"));
    b
}

#[test]
fn live_flink_conformance_ds2_load_step_and_a_killed_task_manager() {
    if let Some(why) = skip_reason() {
        eprintln!("live tests skipped: {why}");
        return;
    }
    let work = std::env::var("DEMETER_LIVE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from("target/live-test"));
    std::fs::create_dir_all(&work).unwrap();
    let work = work.canonicalize().unwrap();
    let home = sh("install_flink.sh", &[], &[]);
    let jar = sh(
        "build_job.sh",
        &[&home, work.join("build").to_str().unwrap()],
        &[],
    );
    let dir = work.join("cluster");
    let _ = Command::new("tools/live/stop_cluster.sh")
        .arg(&dir)
        .output();
    let _ = std::fs::remove_dir_all(&dir);
    let url = sh(
        "start_cluster.sh",
        &[&home, dir.to_str().unwrap(), "2"],
        &[("REST_PORT", "18281"), ("JM_RPC_PORT", "16223")],
    );
    let cluster = Cluster { home, dir, url };
    let rate = work.join("rate");
    std::fs::write(&rate, "300").unwrap();
    let job = sh(
        "submit.sh",
        &[
            &cluster.url,
            &jar,
            "1",
            "--rate",
            "300",
            "--rate-file",
            rate.to_str().unwrap(),
            "--cost-us",
            "1000",
            "--cost-mode",
            "sleep",
            "--partitions",
            "8",
        ],
        &[],
    );

    // 1. The conformance suite on the live backend (rescale 1 -> [1, 2] in place).
    let mut b = backend(&cluster, &job, 120, false);
    super::backend_conformance::conformance(&mut b, SimDuration::from_secs(60));
    b.apply(&Action::RescaleInPlace {
        parallelism: vec![1, 1],
    })
    .unwrap();

    // 2. DS2 through a load step beyond the capacity of p=1, then back down.
    let params: toml::Table =
        toml::from_str("policy_interval = \"5s\"\nwarm_up_windows = 1\nactivation_windows = 1\n")
            .unwrap();
    let mut ds2 = demeter_sim::policy::build(
        &PolicySpec {
            name: "ds2".into(),
            params,
        },
        0,
    )
    .unwrap();
    let mut b = backend(&cluster, &job, 150, true);
    let rate_path = rate.clone();
    let stepper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(20));
        std::fs::write(&rate_path, "2500").unwrap();
        std::thread::sleep(Duration::from_secs(60));
        std::fs::write(&rate_path, "150").unwrap();
    });
    let decisions = demeter_sim::control::run(&mut b, ds2.as_mut(), |_, _| {}).unwrap();
    stepper.join().unwrap();
    let rec = b.recording();
    let out = work.join("ds2-run");
    let _ = std::fs::remove_dir_all(&out);
    rec.write(
        &out,
        &serde_json::json!({"source": "live", "policy": "ds2"}),
    )
    .unwrap();
    demeter_sim::runfolder::read_run_folder(&out).unwrap();
    if rec.events.iter().any(|e| e.kind == "metrics_frozen") {
        // Known open issue: Flink 1.20's REST metric store sometimes keeps serving the previous
        // attempt's values after a restart; the backend then (correctly) refuses to act.
        eprintln!(
            "DS2 load step INCONCLUSIVE: the REST metric store froze (metrics_frozen event); \
             the backend did not act on stale data"
        );
    } else {
        check_ds2(rec, &decisions);
    }

    // 3. A TaskManager killed with SIGKILL: the loop survives, the recording shows it.
    let mut b = backend(&cluster, &job, 60, true);
    b.advance_until(demeter_sim::time::SimTime::from_secs(5))
        .unwrap();
    cluster.tm("kill");
    b.advance_until(demeter_sim::time::SimTime::from_secs(45))
        .unwrap();
    let rec = b.recording();
    assert_eq!(rec.run.failures.len(), 1, "{:?}", rec.events);
    let rec = rec.clone();
    assert!(rec.events.iter().any(|e| e.kind == "task_manager_lost"));
    // The job runs again (the adaptive scheduler restarts it on the remaining slots).
    let lost = rec
        .events
        .iter()
        .position(|e| e.kind == "task_manager_lost")
        .unwrap();
    assert!(
        rec.events[lost..]
            .iter()
            .any(|e| e.kind == "job_state" && e.detail.starts_with("Running"))
            || rec
                .events
                .iter()
                .all(|e| e.kind != "job_state" || e.detail.starts_with("Running")),
        "{:?}",
        rec.events
    );
    let out = work.join("tm-kill-run");
    let _ = std::fs::remove_dir_all(&out);
    rec.write(
        &out,
        &serde_json::json!({"source": "live", "policy": "none"}),
    )
    .unwrap();
    let back = demeter_sim::runfolder::read_run_folder(&out).unwrap();
    assert_eq!(back.failures.len(), 1);
    assert_eq!(back.task_managers.points.last().map(|p| p.1), Some(1.0));
}

/// DS2 scaled up in place when the rate rose beyond capacity, the lag drained, and it scaled
/// down after the rate fell.
fn check_ds2(
    rec: &demeter_sim::backend::live::Recording,
    decisions: &[demeter_sim::control::Decision],
) {
    let max_p = rec
        .run
        .configs
        .iter()
        .map(|c| c.scale_out)
        .max()
        .unwrap_or(0);
    assert!(max_p >= 2, "DS2 scaled up in place: {:?}", rec.run.configs);
    let lag = &rec.run.consumer_lag.points;
    let peak = lag.iter().map(|&(_, v)| v).fold(0.0, f64::max);
    let end = lag.last().map_or(f64::MAX, |&(_, v)| v);
    if peak == 0.0 {
        // The source's pendingRecords never showed a backlog: either DS2 scaled up before one
        // built, or Flink's metrics froze after a restart (see the issue notes). Nothing to
        // judge about draining; the scale-up above was still checked.
        eprintln!("INCONCLUSIVE: no lag was observed, so draining cannot be checked");
    } else {
        assert!(end < 0.2 * peak, "the lag drains: peak {peak}, end {end}");
    }
    assert!(
        decisions.iter().any(|d| d.refused.is_none()),
        "{decisions:?}"
    );
    let last = rec.run.configs.last().unwrap().scale_out;
    assert!(
        last < max_p,
        "DS2 scaled down after the rate fell: {:?}",
        rec.run.configs
    );
}
