//! Criterion benchmarks: the 18-h scenarios end to end (simulation only, no files written),
//! with each policy in the loop.

use criterion::{criterion_group, criterion_main, Criterion};
use demeter_sim::scenario;
use demeter_sim::simulate::{execute, prepare, Overrides};

fn bench_scenario(c: &mut Criterion, name: &str, file: &str, policy: Option<&str>) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let scenario = scenario::load(&path).expect("scenario loads");
    let overrides = Overrides {
        policy: policy.map(str::to_string),
        ..Overrides::default()
    };
    let mut group = c.benchmark_group("scenario");
    group.sample_size(20);
    group.bench_function(name, |b| {
        b.iter(|| {
            let prepared = prepare(&scenario, &overrides).expect("prepares");
            let result = execute(prepared, |_, _| {});
            criterion::black_box(result.twin.restarts())
        })
    });
    group.finish();
}

fn scenarios(c: &mut Criterion) {
    bench_scenario(
        c,
        "ysb_failures_static_18h",
        "scenarios/ysb_failures.toml",
        None,
    );
    bench_scenario(
        c,
        "tsw_failures_static_18h",
        "scenarios/tsw_failures.toml",
        None,
    );
    for policy in ["reactive35", "ds2", "operator35", "lvr"] {
        let name = format!("ysb_failures_{policy}_18h");
        bench_scenario(c, &name, "scenarios/ysb_failures.toml", Some(policy));
    }
}

criterion_group!(benches, scenarios);
criterion_main!(benches);
