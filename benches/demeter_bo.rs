//! Criterion benchmarks of one Demeter BO decision (issue 4 target: <= 50 ms): fit 4 GPs
//! (2 objectives + 2 constraints) on 30 points in 5-D, one RGPE per outcome with 2 supports,
//! and NEHVI over 1 000 candidate configurations with 256 or 1 024 posterior samples; and the
//! policy's own decision step (`demeter_policy/*`: forecast, latency class, constraint models,
//! rules, and a profiling round's NEHVI suggestions) on 60 profiles; and the IFTM recovery
//! detector of one profiling run (`profiling/*`).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use demeter_sim::demeter::bo::{nehvi, sobol, GaussianProcess, Rgpe, Surrogate};
use demeter_sim::demeter::space::ConfigSpace;
use demeter_sim::demeter::{DemeterParams, DemeterPolicy};
use demeter_sim::policy::profile::ProfileResult;
use demeter_sim::time::SimTime;
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

/// A synthetic 18-h-like offered load (two waves and a wobble, records/s).
fn offered(len: usize) -> Vec<f64> {
    (0..len)
        .map(|t| {
            let t = t as f64;
            42_000.0
                + 18_000.0 * (t / 21_600.0 * std::f64::consts::TAU).sin()
                + 4_000.0 * (t / 1_700.0).sin()
        })
        .collect()
}

/// A Demeter policy after a pre-trained forecaster, 2 h of workload and `n` profiling runs
/// of a YSB-like job over the recorded space (capacity ~ 7 000 rec/s per core used by a slot,
/// latency ~1.1 s when it keeps up and tens of seconds when not, recovery 85-160 s or 360 s).
fn policy_with_profiles(n: usize) -> (DemeterPolicy, Vec<f64>) {
    let mut policy = DemeterPolicy::new(DemeterParams::default(), 7);
    let load = offered(64_800);
    policy.pretrain_forecaster(&load);
    policy.observe_workload(&load[..7_200]);
    let options = ConfigSpace::recorded_ysb().options();
    let pts = sobol(2, n, 1).expect("sobol");
    for (k, p) in pts.iter().enumerate() {
        let c = options[((p[0] * options.len() as f64) as usize).min(options.len() - 1)].clone();
        let rate = 20_000.0 + 50_000.0 * p[1];
        let tms = c.scale_out.div_ceil(c.task_slots) as f64;
        let cores_per_slot = (c.cpu * tms / c.scale_out as f64).min(1.0);
        let capacity = 7_000.0 * c.scale_out as f64 * cores_per_slot;
        let keeps_up = capacity > rate;
        let chk_s = c.checkpoint_interval.as_secs_f64();
        let recovery = if keeps_up && capacity > 1.3 * rate {
            (60.0 + chk_s * rate / (capacity - rate)).min(160.0) + (k % 5) as f64
        } else {
            360.0
        };
        policy.add_profile(&ProfileResult {
            config: c,
            started_at: SimTime::from_secs(600 + 300 * k as u64),
            finished_at: SimTime::from_secs(900 + 300 * k as u64),
            throughput_rps: rate.min(capacity),
            latency_ms: if keeps_up {
                1_100.0 + (k % 7) as f64 * 15.0
            } else {
                30_000.0
            },
            consumer_lag: 0.0,
            recovery_s: recovery,
            recovered: recovery < 360.0,
        });
    }
    (policy, load)
}

fn policy_decision(c: &mut Criterion) {
    let mut group = c.benchmark_group("demeter_policy");
    group.sample_size(20);
    let (base, load) = policy_with_profiles(60);
    let current = ConfigSpace::recorded_ysb().default;
    let (thr, lat) = (40_000.0, 1_130.0);
    // The step the policy takes every minute once a decision is due: 60 s of workload into the
    // forecaster, R*, the latency class (3N trees refitted with the current row) and the
    // pessimistic predictions of every admissible configuration, with the constraint models
    // as they are between profiles (cached).
    let mut warm = base.clone();
    let _ = warm.evaluate(&current, thr, lat);
    group.bench_function("evaluate_cached_models_60_profiles", |b| {
        b.iter_batched(
            || warm.clone(),
            |mut p| {
                p.observe_workload(&load[7_200..7_260]);
                criterion::black_box(p.evaluate(&current, thr, lat).config)
            },
            BatchSize::LargeInput,
        )
    });
    // The same after a new profile: everything refitted (classifier, target and support GPs,
    // RGPE weights).
    group.bench_function("evaluate_fresh_models_60_profiles", |b| {
        b.iter_batched(
            || {
                let mut p = base.clone();
                p.clear_model_cache();
                p
            },
            |mut p| {
                p.observe_workload(&load[7_200..7_260]);
                criterion::black_box(p.evaluate(&current, thr, lat).config)
            },
            BatchSize::LargeInput,
        )
    });
    // A profiling round: the rescale evaluation plus the NEHVI-ranked suggestions.
    group.bench_function("profile_round_fresh_models_60_profiles", |b| {
        b.iter_batched(
            || {
                let mut p = base.clone();
                p.clear_model_cache();
                p
            },
            |mut p| criterion::black_box(p.suggest(&current, thr, lat).len()),
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

/// The whole 18-h Demeter experiment (`scenarios/ysb_failures.toml`, seed 42) in the twin:
/// workload, forecaster pre-training, ~100 profiling runs as child simulations, every
/// decision (issue 4 target: <= 2 s).
fn demeter_18h(c: &mut Criterion) {
    use demeter_sim::simulate::{execute, prepare, Overrides};
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/ysb_failures.toml");
    let scenario = demeter_sim::scenario::load(&path).expect("the shipped scenario loads");
    let overrides = Overrides {
        policy: Some("demeter".into()),
        ..Overrides::default()
    };
    let mut group = c.benchmark_group("scenario");
    group.sample_size(10);
    group.bench_function("ysb_failures_demeter_18h", |b| {
        b.iter(|| {
            let run = execute(prepare(&scenario, &overrides).expect("prepares"), |_, _| {});
            criterion::black_box(run.twin.reconfigurations())
        })
    });
    group.finish();
}

/// The prototype's recovery detector per profiling run: draw and train the 50-model IFTM
/// population on a 60-s window, then classify 340 seconds after the failure.
fn iftm_detector(c: &mut Criterion) {
    use demeter_sim::policy::iftm::Iftm;
    let window: Vec<Option<(f64, f64)>> = (0..60)
        .map(|i| {
            Some((
                26_000.0 + 40.0 * ((i * 7) % 11) as f64,
                800.0 + (i % 5) as f64 * 30.0,
            ))
        })
        .collect();
    let mut group = c.benchmark_group("profiling");
    group.bench_function("iftm_train_60s_classify_340s", |b| {
        b.iter(|| {
            let mut rng = ChaCha8Rng::seed_from_u64(7);
            let mut d = Iftm::train(&mut rng, &window);
            let normal = (0..340)
                .filter(|t| d.is_normal(26_000.0 + 10.0 * *t as f64, 900.0))
                .count();
            criterion::black_box(normal)
        })
    });
    group.finish();
}

criterion_group!(
    demeter_bo,
    benches,
    policy_decision,
    demeter_18h,
    iftm_detector
);
criterion_main!(demeter_bo);
