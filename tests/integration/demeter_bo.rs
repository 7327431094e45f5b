//! Demeter's BO mathematics end to end through the public API: Sobol initial design, one GP per
//! outcome, RGPE with support models, NEHVI over the admissible configurations, on a synthetic
//! Demeter-like problem (5 knobs scaled to [0, 1], log-scaled outcomes with noise SEM 0.1).

use demeter_sim::demeter::bo::{
    hypervolume, nehvi, pareto_front, sobol, GaussianProcess, Rgpe, Surrogate,
};
use ndarray::{Array1, Array2, Axis};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

/// Outcomes of a configuration x in [0,1]^5 = (checkpoint interval, cpu, memory, scale-out,
/// slots) at input rate `rate`: (ln cores, ln MB, ln(1 + latency class), ln recovery s).
fn outcomes(x: &[f64], rate: f64) -> [f64; 4] {
    let chk_s = 10.0 + 80.0 * x[0];
    let cpu = 1.0 + 2.0 * x[1];
    let mem_mb = 1024.0 + 3072.0 * x[2];
    let scaleout = 4.0 + 20.0 * x[3];
    let slots = 1.0 + 3.0 * x[4];
    let tms = (scaleout / slots).ceil();
    let capacity = scaleout * (0.5 + 0.5 * (cpu * tms / scaleout).min(1.0));
    let load = rate / capacity;
    let latency = (2.0 * (load - 0.8)).tanh().max(0.0);
    let recovery_s = 30.0 + 2.0 * chk_s * load;
    [
        (tms * cpu).ln(),
        (tms * mem_mb).ln(),
        latency.ln_1p(),
        recovery_s.ln(),
    ]
}

const BOUNDS: [f64; 2] = [
    0.405_465_108_108_164_4, /* ln 1.5 */
    5.192_956_850_407_3,     /* ln 180 */
];

fn observe(x: &Array2<f64>, rate: f64, rng: &mut ChaCha8Rng) -> Vec<Array1<f64>> {
    let noise = Normal::new(0.0, 0.1).unwrap();
    let rows: Vec<[f64; 4]> = x
        .rows()
        .into_iter()
        .map(|r| outcomes(&r.to_vec(), rate))
        .collect();
    (0..4)
        .map(|k| Array1::from_iter(rows.iter().map(|o| o[k] + noise.sample(rng))))
        .collect()
}

fn design(n: usize, skip: usize) -> Array2<f64> {
    let pts = sobol(5, n, skip).unwrap();
    Array2::from_shape_fn((n, 5), |(i, j)| pts[i][j])
}

/// One decision: returns the NEHVI of each candidate.
fn decision(seed: u64) -> (Array2<f64>, Vec<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let rate = 12.0;
    let x = design(12, 1);
    let ys = observe(&x, rate, &mut rng);
    let noise = Array1::from_elem(x.nrows(), 0.01);
    let support_x = design(20, 40);
    let mut models = Vec::new();
    for (k, y) in ys.iter().enumerate() {
        let target = GaussianProcess::fit(&x, y, &noise, &mut rng).unwrap();
        // Supports: the neighbouring throughput chunks (higher rates).
        let supports = [rate * 1.2, rate * 1.4]
            .iter()
            .map(|r| {
                let sy = &observe(&support_x, *r, &mut rng)[k];
                GaussianProcess::fit(&support_x, sy, &Array1::from_elem(20, 0.01), &mut rng)
                    .unwrap()
            })
            .collect();
        models.push(Rgpe::new(&target, &x, y, supports, 256, &mut rng).unwrap());
    }
    let candidates = design(200, 100);
    let reference = [72f64.ln() * 1.1, 98_304f64.ln() * 1.1];
    let v = nehvi(
        &candidates,
        &[&models[0], &models[1]],
        &[(&models[2], BOUNDS[0]), (&models[3], BOUNDS[1])],
        &x,
        &reference,
        128,
        &mut rng,
    )
    .unwrap();
    (candidates, v)
}

#[test]
fn a_decision_is_deterministic_and_favours_feasible_configurations() {
    let (candidates, v) = decision(42);
    assert_eq!(v, decision(42).1);
    assert!(v.iter().all(|a| a.is_finite() && *a >= 0.0));
    assert!(v.iter().any(|a| *a > 0.0));
    // The top fifth by NEHVI is feasible (under the noiseless truth) more often than average.
    let feasible: Vec<bool> = candidates
        .rows()
        .into_iter()
        .map(|r| {
            let o = outcomes(&r.to_vec(), 12.0);
            o[2] <= BOUNDS[0] && o[3] <= BOUNDS[1]
        })
        .collect();
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|a, b| v[*b].total_cmp(&v[*a]).then(a.cmp(b)));
    let top = &order[..v.len() / 5];
    let rate_top = top.iter().filter(|&&i| feasible[i]).count() as f64 / top.len() as f64;
    let rate_all = feasible.iter().filter(|f| **f).count() as f64 / feasible.len() as f64;
    assert!(rate_top > rate_all, "top {rate_top} vs all {rate_all}");
}

#[test]
fn the_front_of_the_truth_and_its_hypervolume() {
    // Objectives of a 64-point Sobol design; the hypervolume of the Pareto front equals that of
    // all points, and removing a front point never increases it.
    let x = design(64, 0);
    let pts: Vec<Vec<f64>> = x
        .rows()
        .into_iter()
        .map(|r| outcomes(&r.to_vec(), 12.0)[..2].to_vec())
        .collect();
    let reference = [72f64.ln() * 1.1, 98_304f64.ln() * 1.1];
    let front = pareto_front(&pts);
    assert!(!front.is_empty());
    let front_pts: Vec<Vec<f64>> = front.iter().map(|&i| pts[i].clone()).collect();
    let hv_all = hypervolume(&pts, &reference);
    assert!((hypervolume(&front_pts, &reference) - hv_all).abs() < 1e-9);
    for i in 0..front_pts.len() {
        let mut less = front_pts.clone();
        less.remove(i);
        assert!(hypervolume(&less, &reference) <= hv_all);
    }
}

#[test]
fn gp_predictions_recover_the_cost_objective() {
    // ln(cores) is deterministic given x: a GP on 30 noisy points predicts held-out points
    // to within a few noise standard deviations on average.
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let x = design(30, 1);
    let y = &observe(&x, 12.0, &mut rng)[0];
    let gp = GaussianProcess::fit(&x, y, &Array1::from_elem(30, 0.01), &mut rng).unwrap();
    let test = design(50, 200);
    let (mean, _) = gp.predict(&test);
    let truth = test.map_axis(Axis(1), |r| outcomes(&r.to_vec(), 12.0)[0]);
    let mae = (&mean - &truth).mapv(f64::abs).mean().unwrap();
    assert!(mae < 0.3, "mean absolute error {mae}");
}
