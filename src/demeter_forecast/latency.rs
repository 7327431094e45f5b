//! Demeter's latency normaliser and "bad latency" classifier (§4.2): gradient-boosted
//! regression trees of latency on (scale-out, throughput), then
//! `l_n = max(0, tanh(log_4(L_pred / min L_pred)))`, "bad" iff `l_n` rounds to 1.
//!
//! The regressor follows sklearn's `GradientBoostingRegressor(max_depth=10,
//! n_estimators=3N)` with its defaults: squared-error loss, initial prediction = the mean,
//! learning rate 0.1, exact greedy CART splits (thresholds at midpoints between distinct
//! values, `min_samples_split = 2`, `min_samples_leaf = 1`, Friedman-MSE gain, which ranks splits
//! like the squared-error reduction for unit weights), leaf value = mean residual, no
//! subsampling. Demeter standardises the inputs first; an affine map per feature changes
//! neither the split order nor the midpoints' positions, so the trees work on the raw inputs.
//! Ties between equally good splits go to the first feature (scale-out), then the lowest
//! threshold (sklearn breaks them by a random feature permutation), which makes it
//! deterministic.

/// The latency ratio (to the lowest prediction) from which a configuration is "bad":
/// `4^atanh(0.5)` = 2.1415..., where `tanh(log_4 x) = 0.5`.
pub const BAD_RATIO: f64 = 2.141_486_063_903_277_3;

/// `4^atanh(0.5)`, computed (equals [`BAD_RATIO`]).
pub fn bad_ratio() -> f64 {
    4f64.powf(0.5f64.atanh())
}

/// `max(0, tanh(log_4(ratio)))`, the normalised latency of a latency `ratio` times the lowest.
pub fn normalise_ratio(ratio: f64) -> f64 {
    if ratio.is_nan() || ratio <= 0.0 {
        return 0.0;
    }
    (ratio.ln() / 4f64.ln()).tanh().max(0.0)
}

/// A node of a tree stored in pre-order: a split's left child is the next node.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Leaf(f64),
    Split {
        feature: usize,
        threshold: f64,
        right: usize,
    },
}

#[derive(Debug, Clone, PartialEq)]
struct Tree(Vec<Node>);

impl Tree {
    fn predict(&self, x: &[f64; 2]) -> f64 {
        let mut k = 0;
        loop {
            match self.0[k] {
                Node::Leaf(v) => return v,
                Node::Split {
                    feature,
                    threshold,
                    right,
                } => {
                    k = if x[feature] <= threshold {
                        k + 1
                    } else {
                        right
                    }
                }
            }
        }
    }
}

/// Gradient-boosted regression trees on two features (least squares).
#[derive(Debug, Clone, PartialEq)]
pub struct GradientBoostedTrees {
    init: f64,
    learning_rate: f64,
    trees: Vec<Tree>,
}

impl GradientBoostedTrees {
    /// Fit `n_estimators` trees of depth at most `max_depth` to `(x, y)`.
    pub fn fit(
        x: &[[f64; 2]],
        y: &[f64],
        n_estimators: usize,
        max_depth: usize,
        learning_rate: f64,
    ) -> Self {
        Self::fit_with_training_predictions(x, y, n_estimators, max_depth, learning_rate).0
    }

    /// [`fit`](Self::fit), and the model's prediction at each of the first `min(x, y)` rows of
    /// `x`, bit-for-bit what [`predict`](Self::predict) returns there: a training row's path
    /// through a tree is the one its split comparisons sent it down while fitting, so the
    /// leaf values are summed in the same (tree) order without walking the trees again.
    pub fn fit_with_training_predictions(
        x: &[[f64; 2]],
        y: &[f64],
        n_estimators: usize,
        max_depth: usize,
        learning_rate: f64,
    ) -> (Self, Vec<f64>) {
        let n = y.len().min(x.len());
        let init = if n == 0 {
            0.0
        } else {
            y[..n].iter().sum::<f64>() / n as f64
        };
        let mut pred = vec![init; n];
        let mut trees = Vec::with_capacity(n_estimators);
        let root = Workspace::root(x, n);
        let mut ws = Workspace::root(x, n);
        let mut residual = vec![0.0; n];
        // Per row, the sum of its leaf values so far, started from the empty sum as
        // `predict`'s `sum` is.
        let mut leaf_sum = vec![std::iter::empty::<f64>().sum::<f64>(); n];
        let mut scratch = SplitScratch::default();
        for _ in 0..n_estimators {
            for i in 0..n {
                residual[i] = y[i] - pred[i];
            }
            ws.by_index.copy_from_slice(&root.by_index);
            for (w, r) in ws.by_feature.iter_mut().zip(&root.by_feature) {
                w.copy_from_slice(r);
            }
            let mut tree = Tree(Vec::new());
            let mut fit = Fitting {
                x,
                r: &residual,
                ws: &mut ws,
                nodes: &mut tree.0,
                pred: &mut pred,
                leaf_sum: &mut leaf_sum,
                scratch: &mut scratch,
                learning_rate,
            };
            fit.build(0, n, max_depth);
            trees.push(tree);
        }
        let fitted = leaf_sum.iter().map(|s| init + learning_rate * s).collect();
        (
            GradientBoostedTrees {
                init,
                learning_rate,
                trees,
            },
            fitted,
        )
    }

    /// The prediction at `x`.
    pub fn predict(&self, x: [f64; 2]) -> f64 {
        self.init + self.learning_rate * self.trees.iter().map(|t| t.predict(&x)).sum::<f64>()
    }

    /// Number of trees.
    pub fn len(&self) -> usize {
        self.trees.len()
    }

    /// Whether there are no trees (the prediction is the mean).
    pub fn is_empty(&self) -> bool {
        self.trees.is_empty()
    }
}

/// The rows of every node, as segments of three arrays: in index order (for the sums, as
/// sklearn adds them) and sorted by each feature (ties by index). A node owns the same range
/// `lo..hi` of all three; splitting partitions each range stably in place, so no node sorts
/// or allocates.
struct Workspace {
    by_index: Vec<usize>,
    by_feature: [Vec<usize>; 2],
    spill: Vec<usize>,
    /// Whether every feature value is finite (then `<=` orders them as the sort does).
    finite: bool,
}

impl Workspace {
    fn root(x: &[[f64; 2]], n: usize) -> Self {
        let by_index: Vec<usize> = (0..n).collect();
        let sorted = |feature: usize| {
            let mut order = by_index.clone();
            order.sort_by(|&a, &b| x[a][feature].total_cmp(&x[b][feature]).then(a.cmp(&b)));
            order
        };
        Workspace {
            by_feature: [sorted(0), sorted(1)],
            by_index,
            spill: Vec::with_capacity(n),
            finite: x[..n].iter().flatten().all(|v| v.is_finite()),
        }
    }

    /// Stable in-place partition of `v` (left: `x[feature] <= threshold`); returns the
    /// left count.
    fn partition(
        v: &mut [usize],
        spill: &mut Vec<usize>,
        x: &[[f64; 2]],
        feature: usize,
        threshold: f64,
    ) -> usize {
        spill.clear();
        let mut w = 0;
        for k in 0..v.len() {
            let i = v[k];
            if x[i][feature] <= threshold {
                v[w] = i;
                w += 1;
            } else {
                spill.push(i);
            }
        }
        v[w..].copy_from_slice(spill);
        w
    }

    fn split(&mut self, x: &[[f64; 2]], lo: usize, hi: usize, f: usize, t: f64) -> usize {
        let n = Self::partition(&mut self.by_index[lo..hi], &mut self.spill, x, f, t);
        for (feature, order) in self.by_feature.iter_mut().enumerate() {
            // Sorted by the split feature, finite values below the threshold are already a
            // prefix: partitioning would not move anything.
            if feature != f || !self.finite {
                Self::partition(&mut order[lo..hi], &mut self.spill, x, f, t);
            }
        }
        lo + n
    }
}

/// One tree being grown: its nodes, and the training rows' predictions, which each leaf
/// updates for its own rows (the same addition `predict` would make).
struct Fitting<'a> {
    x: &'a [[f64; 2]],
    r: &'a [f64],
    ws: &'a mut Workspace,
    nodes: &'a mut Vec<Node>,
    pred: &'a mut [f64],
    leaf_sum: &'a mut [f64],
    scratch: &'a mut SplitScratch,
    learning_rate: f64,
}

/// Buffers of the split search, shared by a fit's nodes.
#[derive(Default)]
struct SplitScratch {
    /// Per node size `n`, `nl * nr / n` for `nl = 1..n` (filled on first use): it depends on
    /// the counts only, so it is divided once per fit rather than once per candidate.
    weights: Vec<Vec<f64>>,
}

/// `nl * nr / n` for a node of `n` rows, `nl = 1..n`, from (or into) `table`.
fn split_weights(table: &mut Vec<Vec<f64>>, n: usize) -> &[f64] {
    if table.len() <= n {
        table.resize(n + 1, Vec::new());
    }
    if table[n].is_empty() {
        let nf = n as f64;
        table[n] = (1..n)
            .map(|k| {
                let nl = k as f64;
                nl * (nf - nl) / nf
            })
            .collect();
    }
    &table[n]
}

impl Fitting<'_> {
    fn leaf(&mut self, lo: usize, hi: usize, m: f64) {
        for &i in &self.ws.by_index[lo..hi] {
            self.pred[i] += self.learning_rate * m;
            self.leaf_sum[i] += m;
        }
        self.nodes.push(Node::Leaf(m));
    }

    fn build(&mut self, lo: usize, hi: usize, depth: usize) {
        let (x, r) = (self.x, self.r);
        let idx = &self.ws.by_index[lo..hi];
        let total: f64 = idx.iter().map(|&i| r[i]).sum();
        let m = total / idx.len().max(1) as f64;
        if depth == 0 || idx.len() < 2 {
            return self.leaf(lo, hi, m);
        }
        // Pure node: the squared error is at most `tolerance`. The partial sums of the
        // (non-negative) squares only grow, so the first one above it decides "not pure"
        // (a NaN never compares above and stays to the end, as in the full sum).
        let tolerance = 1e-14 * (1.0 + m * m) * idx.len() as f64;
        let mut sse = std::iter::empty::<f64>().sum::<f64>();
        for &i in idx {
            sse += (r[i] - m).powi(2);
            if sse > tolerance {
                break;
            }
        }
        if sse <= tolerance {
            return self.leaf(lo, hi, m);
        }
        let n = idx.len() as f64;
        let weight = split_weights(&mut self.scratch.weights, idx.len());
        // (gain, feature, threshold)
        let mut best: Option<(f64, usize, f64)> = None;
        for feature in [0usize, 1] {
            let order = &self.ws.by_feature[feature][lo..hi];
            let mut left_sum = 0.0;
            for k in 0..order.len() - 1 {
                left_sum += r[order[k]];
                let (here, next) = (x[order[k]][feature], x[order[k + 1]][feature]);
                if next <= here {
                    continue;
                }
                let nl = (k + 1) as f64;
                let nr = n - nl;
                let diff = left_sum / nl - (total - left_sum) / nr;
                // `nl * nr / n * diff * diff`, the first factor from the table.
                let gain = weight[k] * diff * diff;
                if best.is_none_or(|(g, _, _)| gain > g * (1.0 + 1e-12)) {
                    best = Some((gain, feature, here + (next - here) / 2.0));
                }
            }
        }
        let Some((gain, feature, threshold)) = best else {
            return self.leaf(lo, hi, m);
        };
        if gain.is_nan() || gain <= 0.0 {
            return self.leaf(lo, hi, m);
        }
        let mid = self.ws.split(x, lo, hi, feature, threshold);
        let at = self.nodes.len();
        self.nodes.push(Node::Split {
            feature,
            threshold,
            right: 0,
        });
        self.build(lo, mid, depth - 1);
        let right_at = self.nodes.len();
        if let Node::Split { right, .. } = &mut self.nodes[at] {
            *right = right_at;
        }
        self.build(mid, hi, depth - 1);
    }
}

/// The "bad latency" classifier: fitted on every profile, it predicts latency at any
/// (scale-out, throughput) and normalises it by the lowest prediction over the profiles.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyClassifier {
    model: Option<GradientBoostedTrees>,
    min_pred_ms: f64,
    /// Per fitted profile (in the order given to `fit`), the prediction there; `None` for
    /// rows skipped as non-finite.
    fitted_ms: Vec<Option<f64>>,
}

impl Default for LatencyClassifier {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyClassifier {
    /// Depth limit of the trees (Demeter: 10).
    pub const MAX_DEPTH: usize = 10;
    /// Trees per profile (Demeter: `n_estimators = 3N`).
    pub const TREES_PER_PROFILE: usize = 3;
    /// sklearn's default learning rate.
    pub const LEARNING_RATE: f64 = 0.1;
    /// Floor of the lowest predicted latency, to keep the ratio finite (ms).
    pub const MIN_LATENCY_MS: f64 = 1e-6;

    /// An unfitted classifier (every latency is normal, `l_n = 0`).
    pub fn new() -> Self {
        LatencyClassifier {
            model: None,
            min_pred_ms: Self::MIN_LATENCY_MS,
            fitted_ms: Vec::new(),
        }
    }

    /// Fit on `(scale_out, throughput_rps, latency_ms)` profiles (non-finite rows skipped).
    pub fn fit(&mut self, profiles: &[(f64, f64, f64)]) {
        let finite = |(s, t, l): &(f64, f64, f64)| s.is_finite() && t.is_finite() && l.is_finite();
        let rows: Vec<&(f64, f64, f64)> = profiles.iter().filter(|p| finite(p)).collect();
        if rows.is_empty() {
            *self = Self::new();
            return;
        }
        let x: Vec<[f64; 2]> = rows.iter().map(|(s, t, _)| [*s, *t]).collect();
        let y: Vec<f64> = rows.iter().map(|(_, _, l)| *l).collect();
        let (model, fitted) = GradientBoostedTrees::fit_with_training_predictions(
            &x,
            &y,
            Self::TREES_PER_PROFILE * rows.len(),
            Self::MAX_DEPTH,
            Self::LEARNING_RATE,
        );
        let min_pred = fitted.iter().copied().fold(f64::INFINITY, f64::min);
        self.min_pred_ms = min_pred.max(Self::MIN_LATENCY_MS);
        self.model = Some(model);
        let mut fitted = fitted.into_iter();
        self.fitted_ms = profiles
            .iter()
            .map(|p| if finite(p) { fitted.next() } else { None })
            .collect();
    }

    /// `l_n` of the `i`-th profile given to [`fit`](Self::fit): equal to
    /// [`normalised`](Self::normalised) at its (scale-out, throughput), from the prediction made
    /// while fitting; `None` if that profile was skipped (non-finite) or there is no such row.
    pub fn fitted_normalised(&self, i: usize) -> Option<f64> {
        let pred = (*self.fitted_ms.get(i)?)?;
        Some(normalise_ratio(pred / self.min_pred_ms))
    }

    /// The smoothed (predicted) latency at a configuration, in ms (0 when unfitted).
    pub fn predicted_ms(&self, scale_out: f64, throughput_rps: f64) -> f64 {
        self.model
            .as_ref()
            .map_or(0.0, |m| m.predict([scale_out, throughput_rps]))
    }

    /// The lowest predicted latency over the fitted profiles (ms).
    pub fn min_predicted_ms(&self) -> f64 {
        self.min_pred_ms
    }

    /// `L_pred / min L_pred` at a configuration (0 when unfitted).
    pub fn ratio(&self, scale_out: f64, throughput_rps: f64) -> f64 {
        if self.model.is_none() {
            return 0.0;
        }
        self.predicted_ms(scale_out, throughput_rps) / self.min_pred_ms
    }

    /// The normalised latency `l_n` in `[0, 1)`.
    pub fn normalised(&self, scale_out: f64, throughput_rps: f64) -> f64 {
        normalise_ratio(self.ratio(scale_out, throughput_rps))
    }

    /// Whether the latency is "bad": `l_n` rounds to 1, i.e. the ratio is at least
    /// [`BAD_RATIO`]. (At exactly `l_n = 0.5` Python's half-to-even `round` gives 0; the
    /// boundary is counted as bad here, a measure-zero difference.)
    pub fn is_bad(&self, scale_out: f64, throughput_rps: f64) -> bool {
        self.ratio(scale_out, throughput_rps) >= BAD_RATIO
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_is_four_to_the_atanh_of_a_half() {
        assert!((bad_ratio() - BAD_RATIO).abs() < 1e-15);
        assert!((normalise_ratio(BAD_RATIO) - 0.5).abs() < 1e-15);
        assert!(normalise_ratio(BAD_RATIO * (1.0 + 1e-12)) > 0.5);
        assert!(normalise_ratio(BAD_RATIO * (1.0 - 1e-12)) < 0.5);
        assert_eq!(normalise_ratio(0.5), 0.0);
        assert_eq!(normalise_ratio(1.0), 0.0);
    }

    #[test]
    fn training_predictions_are_the_models_own() {
        // Ties in both features, a duplicate row and a non-finite profile.
        let profiles: Vec<(f64, f64, f64)> = (0..40)
            .map(|i| {
                let s = (i % 7) as f64;
                let t = 1000.0 + 37.0 * ((i * 13) % 11) as f64;
                (s, t, 500.0 + (i as f64 * 1.7).sin() * 200.0 + s * t / 100.0)
            })
            .chain([
                (3.0, 1100.0, 700.0),
                (3.0, 1100.0, 900.0),
                (f64::NAN, 1.0, 1.0),
            ])
            .collect();
        let mut c = LatencyClassifier::new();
        c.fit(&profiles);
        for (i, (s, t, _)) in profiles.iter().enumerate() {
            match c.fitted_normalised(i) {
                Some(v) => assert_eq!(v.to_bits(), c.normalised(*s, *t).to_bits(), "row {i}"),
                None => assert!(s.is_nan()),
            }
        }
        assert_eq!(c.fitted_normalised(profiles.len()), None);
        let x: Vec<[f64; 2]> = profiles[..40].iter().map(|(s, t, _)| [*s, *t]).collect();
        let y: Vec<f64> = profiles[..40].iter().map(|p| p.2).collect();
        let (m, fitted) = GradientBoostedTrees::fit_with_training_predictions(&x, &y, 30, 4, 0.1);
        for (xi, f) in x.iter().zip(&fitted) {
            assert_eq!(f.to_bits(), m.predict(*xi).to_bits());
        }
    }

    #[test]
    fn boosting_fits_a_step() {
        let x: Vec<[f64; 2]> = (0..20).map(|i| [i as f64, 0.0]).collect();
        let y: Vec<f64> = (0..20).map(|i| if i < 10 { 1.0 } else { 5.0 }).collect();
        let m = GradientBoostedTrees::fit(&x, &y, 60, 10, 0.1);
        assert_eq!(m.len(), 60);
        // residual shrinks by 0.9 per tree: 0.9^60 ~ 0.0018 of the initial 2.0
        assert!((m.predict([2.0, 0.0]) - 1.0).abs() < 0.01);
        assert!((m.predict([15.0, 0.0]) - 5.0).abs() < 0.01);
    }
}
