//! Criterion benchmarks of Demeter's workload forecaster: one decision's update (600 new
//! seconds) + 600-s forecast + `R*`, pre-training, and the latency classifier's fit.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use demeter_sim::demeter_forecast::{ForecastParams, Forecaster, LatencyClassifier};

/// A deterministic 18-h-like workload: two waves plus a small wobble (no RNG needed).
fn workload(len: usize) -> Vec<f64> {
    (0..len)
        .map(|t| {
            let t = t as f64;
            40_000.0
                + 15_000.0 * (t / 21_600.0 * std::f64::consts::TAU).sin()
                + 3_000.0 * (t / 1_700.0).sin()
                + 200.0 * (t * 0.37).sin()
        })
        .collect()
}

fn forecaster(c: &mut Criterion) {
    let data = workload(126_400 + 600 * 10);
    let pretrain_len = 126_400;
    let mut group = c.benchmark_group("forecast");
    group.sample_size(30);
    for (name, season) in [("plain", None), ("seasonal", Some(21_600))] {
        let params = ForecastParams {
            season_s: season,
            ..ForecastParams::default()
        };
        let mut base = Forecaster::new(params.clone());
        base.pretrain(&data[..pretrain_len]);
        group.bench_function(format!("update600_forecast600_{name}"), |b| {
            b.iter_batched(
                || base.clone(),
                |mut f| {
                    f.update(&data[pretrain_len..pretrain_len + 600]);
                    criterion::black_box(f.target_rate())
                },
                BatchSize::LargeInput,
            )
        });
        group.bench_function(format!("pretrain_126400s_{name}"), |b| {
            b.iter(|| {
                let mut f = Forecaster::new(params.clone());
                f.pretrain(&data[..pretrain_len]);
                criterion::black_box(f.observed_s())
            })
        });
    }
    let profiles: Vec<(f64, f64, f64)> = (0..60)
        .map(|i| {
            let s = (4 + 4 * (i % 6)) as f64;
            let t = 20_000.0 + 1_000.0 * i as f64;
            (s, t, 50.0 + t / s / 100.0)
        })
        .collect();
    group.bench_function("latency_fit_60_profiles", |b| {
        b.iter(|| {
            let mut c = LatencyClassifier::new();
            c.fit(&profiles);
            criterion::black_box(c.is_bad(8.0, 50_000.0))
        })
    });
    group.finish();
}

criterion_group!(benches, forecaster);
criterion_main!(benches);
