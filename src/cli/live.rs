//! `demeter-sim live`: a policy driving a real Flink job through its REST API, on the wall clock.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};

use crate::backend::live::{
    Bounds, FlinkRest, KubernetesProvisioner, LiveBackend, LiveConfig, LocalProvisioner,
    Provisioner, RedeployMode, Resubmit, UreqHttp, WallClock,
};
use crate::backend::Backend;
use crate::scenario::{parse_duration, PolicySpec};

/// Arguments of `live`.
#[derive(clap::Args, Debug)]
pub struct LiveArgs {
    /// The Flink REST endpoint, e.g. http://127.0.0.1:18081.
    #[arg(long)]
    pub flink: String,
    /// The job id to control (32 hex digits, `GET /jobs`).
    #[arg(long)]
    pub job: String,
    /// The policy (static, reactive, reactive35, ds2, flink-autoscaler, operator35, lvr).
    #[arg(long, default_value = "static")]
    pub policy: String,
    /// A TOML file with the policy's parameters (the keys of a scenario's [policy.params]).
    #[arg(long)]
    pub policy_config: Option<PathBuf>,
    /// Print the actions the policy takes without applying them.
    #[arg(long)]
    pub dry_run: bool,
    /// Write the live run as a run folder here.
    #[arg(long)]
    pub record: Option<PathBuf>,
    /// Replace the --record folder if it holds an earlier run.
    #[arg(long)]
    pub force: bool,
    /// How long to run, e.g. 90s, 10m.
    #[arg(long, default_value = "10m")]
    pub duration: String,
    /// REST poll period.
    #[arg(long, default_value = "1s")]
    pub sample_interval: String,
    /// Never act on an observation older than this.
    #[arg(long, default_value = "5s")]
    pub stale_after: String,
    /// Per-request REST timeout in ms, and retries after a transport failure.
    #[arg(long, default_value_t = 3000)]
    pub timeout_ms: u64,
    #[arg(long, default_value_t = 2)]
    pub retries: u32,
    #[arg(long, default_value_t = 1)]
    pub min_parallelism: u32,
    #[arg(long, default_value_t = 8)]
    pub max_parallelism: u32,
    #[arg(long, default_value_t = 1)]
    pub min_task_managers: u32,
    #[arg(long, default_value_t = 4)]
    pub max_task_managers: u32,
    #[arg(long, default_value_t = 20)]
    pub max_rescales_per_hour: u32,
    /// How a policy's Redeploy is applied: savepoint (stop-with-savepoint + resubmit) or in-place.
    #[arg(long, default_value = "savepoint", value_parser = ["savepoint", "in-place"])]
    pub redeploy: String,
    /// The uploaded jar id to resubmit after a stop-with-savepoint (`GET /jars`).
    #[arg(long)]
    pub resubmit_jar: Option<String>,
    /// The job's jar file: uploaded and resubmitted from the latest checkpoint when a restarted
    /// JobManager (no high availability) lost the job; also serves savepoint redeploys.
    #[arg(long)]
    pub resubmit_jar_file: Option<PathBuf>,
    #[arg(long)]
    pub entry_class: Option<String>,
    /// A program argument of the resubmitted job (repeatable, in order).
    #[arg(long = "program-arg", allow_hyphen_values = true)]
    pub program_args: Vec<String>,
    /// Source partitions, if the job's source does not report assignedSplits.
    #[arg(long, default_value_t = 0)]
    pub source_partitions: u32,
    /// How TaskManagers are added/removed: local:FLINK_HOME:CLUSTER_DIR (tools/live/tm.sh) or
    /// kubernetes:API_URL:NAMESPACE:NAME (a FlinkDeployment, API over plain HTTP, e.g. kubectl proxy).
    #[arg(long)]
    pub provisioner: Option<String>,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

fn duration(flag: &str, text: &str) -> anyhow::Result<crate::time::SimDuration> {
    let d = parse_duration(text).map_err(|e| anyhow::anyhow!("--{flag}: expected {e}"))?;
    if d.is_zero() {
        bail!("--{flag}: expected a duration > 0");
    }
    Ok(d)
}

fn provisioner(spec: &str, timeout: Duration) -> anyhow::Result<Box<dyn Provisioner>> {
    if let Some(rest) = spec.strip_prefix("local:") {
        let (home, dir) = rest.split_once(':').with_context(|| {
            format!("--provisioner {spec:?}: expected local:FLINK_HOME:CLUSTER_DIR")
        })?;
        let script = std::env::var_os("DEMETER_TM_SCRIPT")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("tools/live/tm.sh"));
        if !script.exists() {
            bail!(
                "--provisioner local: {} not found; run from the repository root or set DEMETER_TM_SCRIPT",
                script.display()
            );
        }
        return Ok(Box::new(LocalProvisioner {
            tm_script: script,
            flink_home: home.into(),
            cluster_dir: dir.into(),
        }));
    }
    if let Some(rest) = spec.strip_prefix("kubernetes:") {
        // The API URL contains ':'; NAMESPACE and NAME are the last two fields.
        let mut parts = rest.rsplitn(3, ':');
        let (Some(name), Some(ns), Some(api)) = (parts.next(), parts.next(), parts.next()) else {
            bail!("--provisioner {spec:?}: expected kubernetes:API_URL:NAMESPACE:NAME");
        };
        return Ok(Box::new(KubernetesProvisioner {
            api: api.into(),
            namespace: ns.into(),
            name: name.into(),
            http: Box::new(UreqHttp::new(timeout)),
        }));
    }
    bail!("--provisioner {spec:?}: expected local:FLINK_HOME:CLUSTER_DIR or kubernetes:API_URL:NAMESPACE:NAME")
}

pub fn run(args: &LiveArgs) -> anyhow::Result<()> {
    let params = match &args.policy_config {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("--policy-config: cannot read {}", p.display()))?;
            toml::from_str::<toml::Table>(&text)
                .with_context(|| format!("--policy-config {}: not a TOML table", p.display()))?
        }
        None => toml::Table::new(),
    };
    let spec = PolicySpec {
        name: args.policy.clone(),
        params,
    };
    let mut policy =
        crate::policy::build(&spec, 0).map_err(|e| anyhow::anyhow!("--policy: {e}"))?;
    let mut cfg = LiveConfig::new(&args.job, duration("duration", &args.duration)?);
    cfg.sample_interval = duration("sample-interval", &args.sample_interval)?;
    cfg.stale_after = duration("stale-after", &args.stale_after)?;
    cfg.dry_run = args.dry_run;
    cfg.source_partitions = args.source_partitions;
    cfg.redeploy = if args.redeploy == "in-place" {
        RedeployMode::InPlace
    } else {
        RedeployMode::Savepoint
    };
    if let Some(f) = &args.resubmit_jar_file {
        if !f.is_file() {
            bail!("--resubmit-jar-file {}: no such file", f.display());
        }
    }
    cfg.resubmit =
        (args.resubmit_jar.is_some() || args.resubmit_jar_file.is_some()).then(|| Resubmit {
            jar_id: args.resubmit_jar.clone().unwrap_or_default(),
            jar_file: args.resubmit_jar_file.clone(),
            entry_class: args.entry_class.clone(),
            program_args: args.program_args.clone(),
        });
    if args.min_parallelism == 0 || args.min_parallelism > args.max_parallelism {
        bail!("--min-parallelism/--max-parallelism: expected 1 <= min <= max");
    }
    if args.min_task_managers > args.max_task_managers {
        bail!("--min-task-managers/--max-task-managers: expected min <= max");
    }
    cfg.bounds = Bounds {
        min_parallelism: args.min_parallelism,
        max_parallelism: args.max_parallelism,
        min_task_managers: args.min_task_managers,
        max_task_managers: args.max_task_managers,
        max_rescales_per_hour: args.max_rescales_per_hour,
    };
    if let Some(dir) = &args.record {
        super::run::claim_output_dir(dir, args.force)?;
    }
    let timeout = Duration::from_millis(args.timeout_ms.max(1));
    let prov = args
        .provisioner
        .as_deref()
        .map(|s| provisioner(s, timeout))
        .transpose()?;
    let rest = FlinkRest::new(&args.flink, Box::new(UreqHttp::new(timeout)), args.retries);
    let mut backend =
        LiveBackend::connect(rest, Box::new(WallClock), prov, cfg).with_context(|| {
            format!(
                "cannot reach job {} at {}; check --flink and --job (GET /jobs lists the jobs)",
                args.job, args.flink
            )
        })?;
    if !args.quiet {
        backend.set_log(|line| eprintln!("{line}"));
        eprintln!(
            "live: policy {} on job {} at {}{} for {}",
            policy.name(),
            args.job,
            args.flink,
            if args.dry_run { " (dry run)" } else { "" },
            args.duration
        );
    }
    let log = crate::control::run_logged(&mut backend, policy.as_mut(), |_, _| {})
        .map_err(|e| anyhow::anyhow!("live run stopped: {e}"))?;
    let decisions = log.decisions;
    backend.set_decision_reasons(&decisions.iter().map(|d| d.reason).collect::<Vec<_>>());
    if let Some(dir) = &args.record {
        let manifest = serde_json::json!({
            "tool": "demeter-sim",
            "version": env!("CARGO_PKG_VERSION"),
            "source": "live",
            "flink": args.flink,
            "job": args.job,
            "final_job": backend.job_id(),
            "policy": policy.name(),
            "dry_run": args.dry_run,
            "duration_s": backend.horizon().as_secs(),
        });
        let mut files = backend
            .recording()
            .write(dir, &manifest)
            .map_err(|e| anyhow::anyhow!("--record {}: {e}", dir.display()))?;
        if !log.evaluations.is_empty() {
            let start_ms = i64::try_from(backend.recording().start_ms()).unwrap_or(i64::MAX);
            files.push(
                crate::runfolder::write_evaluations(dir, policy.name(), start_ms, &log.evaluations)
                    .map_err(|e| {
                        anyhow::anyhow!("--record {}: evaluations.csv: {e}", dir.display())
                    })?,
            );
        }
        if !args.quiet {
            println!("recorded {} files into {}", files.len(), dir.display());
        }
    }
    if !args.quiet {
        let applied = decisions.iter().filter(|d| d.refused.is_none()).count();
        println!(
            "live run done: {} decisions, {} applied, final job {}",
            decisions.len(),
            applied,
            backend.job_id()
        );
    }
    Ok(())
}
