//! Criterion benchmarks of edge placement: a 24-h edge scenario (Nexmark q3 on 2 Pis + 1 server
//! behind a 50 Mbit/s WAN, energy accounted every tick) end to end, and one `place` comparison
//! (all five strategies) on the placement experiments' job; the `placement` policy and the
//! per-subtask split filter over 24 h.

use criterion::{criterion_group, criterion_main, Criterion};
use demeter_sim::placement::search::{search, Windows};
use demeter_sim::placement::Strategy;
use demeter_sim::scenario;
use demeter_sim::simulate::{execute, prepare, Overrides};
use demeter_sim::time::SimDuration;

fn load(file: &str) -> scenario::Scenario {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    scenario::load(&path).expect("scenario loads")
}

fn edge(c: &mut Criterion) {
    let s = load("scenarios/edge_nexmark_q3.toml");
    let overrides = Overrides {
        duration: Some(SimDuration::from_secs(24 * 3600)),
        ..Overrides::default()
    };
    let mut group = c.benchmark_group("edge");
    group.sample_size(10);
    group.bench_function("nexmark_q3_edge_24h", |b| {
        b.iter(|| {
            let result = execute(prepare(&s, &overrides).expect("prepares"), |_, _| {});
            criterion::black_box(result.twin.energy().energy_j)
        })
    });
    // The cost model online: WAN-bottleneck checks every 30 s, one placement change.
    let pp = load("scenarios/edge_placement_policy.toml");
    group.bench_function("placement_policy_filter_24h", |b| {
        b.iter(|| {
            let result = execute(prepare(&pp, &overrides).expect("prepares"), |_, _| {});
            criterion::black_box(result.twin.sink_records_total())
        })
    });
    // Per-subtask placement: the split filter (two crossing parts on one link).
    let sp = load("scenarios/edge_filter_split_100kbit.toml");
    group.bench_function("split_filter_24h", |b| {
        b.iter(|| {
            let result = execute(prepare(&sp, &overrides).expect("prepares"), |_, _| {});
            criterion::black_box(result.twin.sink_records_total())
        })
    });
    let f = load("scenarios/edge_filter_100kbit.toml");
    group.bench_function("place_all_strategies_filter", |b| {
        b.iter(|| {
            let n: u32 = Strategy::ALL
                .iter()
                .map(|&st| {
                    search(&f, st, Windows::default())
                        .unwrap()
                        .outcome
                        .evaluations
                })
                .sum();
            criterion::black_box(n)
        })
    });
    group.finish();
}

criterion_group!(benches, edge);
criterion_main!(benches);
