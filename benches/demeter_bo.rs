//! Criterion benchmarks of one Demeter BO decision (issue 4 target: <= 50 ms): fit 4 GPs
//! (2 objectives + 2 constraints) on 30 points in 5-D, one RGPE per outcome with 2 supports,
//! and NEHVI over 1 000 candidate configurations with 256 or 1 024 posterior samples.

use criterion::{criterion_group, criterion_main, Criterion};
use demeter_sim::demeter::bo::{nehvi, sobol, GaussianProcess, Rgpe, Surrogate};
use ndarray::{Array1, Array2};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

/// Log-scaled outcomes of a configuration in [0,1]^5 (a Demeter-like synthetic job).
fn outcomes(x: &[f64], rate: f64) -> [f64; 4] {
    let chk_s = 10.0 + 80.0 * x[0];
    let cpu = 1.0 + 2.0 * x[1];
    let mem_mb = 1024.0 + 3072.0 * x[2];
    let scaleout = 4.0 + 20.0 * x[3];
    let slots = 1.0 + 3.0 * x[4];
    let tms = (scaleout / slots).ceil();
    let capacity = scaleout * (0.5 + 0.5 * (cpu * tms / scaleout).min(1.0));
    let load = rate / capacity;
    [
        (tms * cpu).ln(),
        (tms * mem_mb).ln(),
        (2.0 * (load - 0.8)).tanh().max(0.0).ln_1p(),
        (30.0 + 2.0 * chk_s * load).ln(),
    ]
}

fn design(n: usize, skip: usize) -> Array2<f64> {
    let pts = sobol(5, n, skip).expect("sobol");
    Array2::from_shape_fn((n, 5), |(i, j)| pts[i][j])
}

fn observe(x: &Array2<f64>, rate: f64, rng: &mut ChaCha8Rng) -> Vec<Array1<f64>> {
    let noise = Normal::new(0.0, 0.1).expect("normal");
    let rows: Vec<[f64; 4]> = x
        .rows()
        .into_iter()
        .map(|r| outcomes(&r.to_vec(), rate))
        .collect();
    (0..4)
        .map(|k| Array1::from_iter(rows.iter().map(|o| o[k] + noise.sample(rng))))
        .collect()
}

struct Problem {
    x: Array2<f64>,
    ys: Vec<Array1<f64>>,
    noise: Array1<f64>,
    /// Per outcome, the two support GPs (fitted on neighbouring chunks).
    supports: Vec<Vec<GaussianProcess>>,
    candidates: Array2<f64>,
}

fn problem() -> Problem {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let x = design(30, 1);
    let ys = observe(&x, 12.0, &mut rng);
    let sx = design(30, 64);
    let support_ys: Vec<Vec<Array1<f64>>> = [14.0, 16.0]
        .iter()
        .map(|r| observe(&sx, *r, &mut rng))
        .collect();
    let supports = (0..4)
        .map(|k| {
            support_ys
                .iter()
                .map(|ys| {
                    GaussianProcess::fit(&sx, &ys[k], &Array1::from_elem(30, 0.01), &mut rng)
                        .expect("support fit")
                })
                .collect()
        })
        .collect();
    Problem {
        noise: Array1::from_elem(30, 0.01),
        x,
        ys,
        supports,
        candidates: design(1000, 1024),
    }
}

fn fit_targets(p: &Problem, rng: &mut ChaCha8Rng) -> Vec<GaussianProcess> {
    p.ys.iter()
        .map(|y| GaussianProcess::fit(&p.x, y, &p.noise, rng).expect("fit"))
        .collect()
}

fn ensembles(p: &Problem, targets: &[GaussianProcess], rng: &mut ChaCha8Rng) -> Vec<Rgpe> {
    targets
        .iter()
        .zip(&p.ys)
        .zip(&p.supports)
        .map(|((t, y), s)| Rgpe::new(t, &p.x, y, s.clone(), 1024, rng).expect("rgpe"))
        .collect()
}

fn acquisition(p: &Problem, models: &[Rgpe], n_samples: usize, rng: &mut ChaCha8Rng) -> Vec<f64> {
    let objectives: [&dyn Surrogate; 2] = [&models[0], &models[1]];
    nehvi(
        &p.candidates,
        &objectives,
        &[(&models[2], 1.5f64.ln()), (&models[3], 180f64.ln())],
        &p.x,
        &[72f64.ln() * 1.1, 98_304f64.ln() * 1.1],
        n_samples,
        rng,
    )
    .expect("nehvi")
}

fn benches(c: &mut Criterion) {
    let p = problem();
    let mut group = c.benchmark_group("demeter_bo");
    group.sample_size(10);
    group.bench_function("fit_4_gps_30pts_5d", |b| {
        b.iter(|| {
            let mut rng = ChaCha8Rng::seed_from_u64(2);
            criterion::black_box(fit_targets(&p, &mut rng))
        })
    });
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let targets = fit_targets(&p, &mut rng);
    group.bench_function("rgpe_4_outcomes_2_supports_1024_samples", |b| {
        b.iter(|| {
            let mut rng = ChaCha8Rng::seed_from_u64(3);
            criterion::black_box(ensembles(&p, &targets, &mut rng))
        })
    });
    let models = ensembles(&p, &targets, &mut rng);
    for n_samples in [256, 1024] {
        group.bench_function(format!("nehvi_1000_candidates_{n_samples}_samples"), |b| {
            b.iter(|| {
                let mut rng = ChaCha8Rng::seed_from_u64(4);
                criterion::black_box(acquisition(&p, &models, n_samples, &mut rng))
            })
        });
        group.bench_function(format!("decision_{n_samples}_samples"), |b| {
            b.iter(|| {
                let mut rng = ChaCha8Rng::seed_from_u64(5);
                let targets = fit_targets(&p, &mut rng);
                let models = ensembles(&p, &targets, &mut rng);
                criterion::black_box(acquisition(&p, &models, n_samples, &mut rng))
            })
        });
    }
    group.finish();
}

criterion_group!(demeter_bo, benches);
criterion_main!(demeter_bo);
