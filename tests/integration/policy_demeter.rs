//! Demeter in the loop on the YSB experiment: the recorded regime (research/demeter.md §6:
//! 16.5 TMs, 0.82 CPU and 0.60 memory of Static, 95 % <= 1.5 s, ~100 s recovery, 34-60
//! reconfigurations, profiling reported).

use std::path::Path;

use demeter_sim::report::summarize;
use demeter_sim::simulate::{execute, prepare, Overrides};

#[test]
fn demeter_saves_resources_keeps_latency_and_recovery_and_profiles() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/ysb_failures.toml");
    let scenario = demeter_sim::scenario::load(&path).unwrap();
    let run = |policy: &str, seed: Option<u64>| {
        let o = Overrides {
            policy: Some(policy.into()),
            seed,
            ..Overrides::default()
        };
        execute(prepare(&scenario, &o).unwrap(), |_, _| {})
    };
    let stat = summarize(&run("static", None).run_data());
    // Issue 4's targets, CPU <= 0.9 and memory <= 0.75 of Static, on the mean over the three
    // seeds the README reports (42-44: 0.886 / 0.724, 0.854 / 0.587, 0.852 / 0.569, mean
    // 0.864 / 0.627 since session 12: profiles measured with the prototype's IFTM detector and
    // failures injected as its injector aligned them; 0.898 / 0.718 before, with the twin's lag
    // rule; recorded runs 0.71-0.91 / 0.46-0.72). They hold since the YSB model has a
    // per-TaskManager CPU overhead (`tm_overhead_cores`, from the recorded profiles.csv): before,
    // 2-core slots were capped at 1.5x a 1-core slot and every cheap profile recovered slowly.
    let (mut cpu, mut mem) = (0.0, 0.0);
    let mut seed42 = None;
    for seed in [42, 43, 44] {
        let r = run("demeter", Some(seed));
        let s = summarize(&r.run_data());
        cpu += s.core_hours / stat.core_hours / 3.0;
        mem += s.memory_gb_hours / stat.memory_gb_hours / 3.0;
        if seed == 42 {
            seed42 = Some((r, s));
        }
    }
    assert!(cpu <= 0.9, "CPU {cpu:.3} of Static (mean of 3 seeds)");
    assert!(mem <= 0.75, "memory {mem:.3} of Static (mean of 3 seeds)");
    let (dem_run, dem) = seed42.unwrap();
    assert!(
        dem.latency_le_1500ms_pct.unwrap() >= 90.0,
        "{:?}",
        dem.latency_le_1500ms_pct
    );
    assert!(
        dem.recovery_s_mean.unwrap() <= 130.0,
        "{:?}",
        dem.recovery_s_mean
    );
    let reconf = dem_run.twin.reconfigurations();
    assert!((20..=80).contains(&reconf), "{reconf} reconfigurations");
    assert!(
        dem.profiling_jobs >= 20,
        "{} profiling jobs",
        dem.profiling_jobs
    );
    assert!(dem.profiling_core_hours.unwrap() > 0.0);
    // Every action says why it was taken (decisions.csv `reason`): a redeploy names the
    // rescale rule's branch, a profiling round the analytics service.
    use demeter_sim::policy::Action;
    for d in &dem_run.decisions {
        let reason = d
            .reason
            .unwrap_or_else(|| panic!("no reason for {:?}", d.action));
        match &d.action {
            Action::Redeploy(_) => assert!(
                [
                    "latency bad: default configuration",
                    "current is no longer the most efficient",
                    "current cannot handle the forecast: best candidate",
                    "nothing handles the forecast: default",
                ]
                .contains(&reason),
                "{reason}"
            ),
            Action::Profile(_) => assert_eq!(reason, "the analytics service's suggestions"),
            other => panic!("Demeter took {other:?}"),
        }
    }
}
