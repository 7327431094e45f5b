//! Criterion benchmarks of sweeps: runs per second through the sweep machinery (expansion
//! outside the timing; each iteration runs every run and summarizes it, writing no files).
//!
//! `sweep/quick_20m_x8_2threads`: 8 runs of the 20-minute quick scenario on 2 threads.
//! `sweep/ysb_18h_x4_{1,2}threads`: 4 runs of the 18-h YSB experiment (23 failures) on 1 and 2
//! threads; time / 4 is the per-run cost from which a 1,000-run sweep is extrapolated. A real
//! 1,000-run sweep is measured once with `time demeter-sim sweep`, never as an iteration here.

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use demeter_sim::sweep::{self, RunRow, RunSpec, Sweep};

fn runs(text: &str) -> Vec<RunSpec> {
    // The sweep "file" sits in scenarios/, so `scenario` paths resolve as for a shipped sweep.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/bench_sweep.toml");
    Sweep::from_text(&path, text)
        .expect("sweep parses")
        .expand()
        .expect("sweep expands")
}

fn run_all(pool: &rayon::ThreadPool, runs: &[RunSpec]) -> Vec<RunRow> {
    sweep::run_parallel(pool, runs, |spec| {
        let result = sweep::execute_run(spec)?;
        Ok::<_, demeter_sim::scenario::SpecError>(RunRow::new(spec.index, vec![], &result))
    })
    .expect("runs")
}

fn bench(c: &mut Criterion, name: &str, text: &str, threads: usize, samples: usize) {
    let runs = runs(text);
    let pool = sweep::thread_pool(Some(threads)).expect("pool");
    let mut group = c.benchmark_group("sweep");
    group.sample_size(samples);
    group.throughput(Throughput::Elements(runs.len() as u64));
    group.bench_function(name, |b| {
        b.iter(|| criterion::black_box(run_all(&pool, &runs).len()))
    });
    group.finish();
}

fn sweeps(c: &mut Criterion) {
    let quick = r#"
[sweep]
scenario = "quick.toml"
seeds = 2
[[axis]]
key = "config.checkpoint_interval"
values = ["10s", "30s", "50s", "70s"]
"#;
    bench(c, "quick_20m_x8_2threads", quick, 2, 20);
    let ysb = r#"
[sweep]
scenario = "ysb_failures.toml"
seeds = 2
[[axis]]
key = "config.checkpoint_interval"
values = ["10s", "30s"]
"#;
    bench(c, "ysb_18h_x4_1thread", ysb, 1, 10);
    bench(c, "ysb_18h_x4_2threads", ysb, 2, 10);
}

criterion_group!(benches, sweeps);
criterion_main!(benches);
