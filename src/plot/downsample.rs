//! Downsampling of per-second series into fixed time buckets (min / max / mean), keeping gaps.
//!
//! Pure functions, no drawing: the charts call [`downsample`] so that an 18-h series (64 800
//! points) becomes ~1 000 buckets, and a run of missing seconds at least one bucket long splits
//! the result into separate segments so that missing data shows as a gap, not a line across it.

/// Aggregate of the finite samples that fall in `[start_s, start_s + bucket_s)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bucket {
    /// Epoch second where the bucket starts (aligned to the `origin_s` given to [`downsample`]).
    pub start_s: i64,
    /// Number of finite samples in the bucket (>= 1).
    pub count: u32,
    /// Epoch seconds of the first and last finite sample in the bucket.
    pub first_s: i64,
    pub last_s: i64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
}

/// Bucket widths the charts choose from, in seconds.
const NICE_BUCKETS_S: [i64; 14] = [
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200,
];

/// The smallest "nice" bucket width (seconds) that keeps a span of `span_s` seconds at or below
/// `max_buckets` buckets. 64 800 s with 1 200 buckets -> 60 s.
pub fn choose_bucket_s(span_s: i64, max_buckets: i64) -> i64 {
    let span_s = span_s.max(1).unsigned_abs();
    let max_buckets = max_buckets.max(1).unsigned_abs();
    for &b in &NICE_BUCKETS_S {
        if span_s.div_ceil(b.unsigned_abs()) <= max_buckets {
            return b;
        }
    }
    // Longer than 2 h per bucket: whole hours.
    let hours = span_s.div_ceil(max_buckets).div_ceil(3600).max(1);
    i64::try_from(hours.saturating_mul(3600)).unwrap_or(i64::MAX)
}

/// Downsamples `points` (epoch second, value) into buckets of `bucket_s` seconds aligned to
/// `origin_s`, keeping only samples with `start_s <= t < end_s` and a finite value.
///
/// Returns the non-empty buckets grouped into segments: a new segment starts wherever at least
/// `bucket_s` consecutive seconds have no finite sample (whether or not they fill a whole
/// bucket), so such a gap is drawn as a gap; shorter gaps are hidden by the bucketing.
/// Points need not be sorted (they are sorted by second if they are not); a `bucket_s` below 1
/// is treated as 1. Cost: O(n) for sorted input, no allocation per empty bucket.
pub fn downsample(
    points: &[(i64, f64)],
    origin_s: i64,
    end_s: i64,
    bucket_s: i64,
) -> Vec<Vec<Bucket>> {
    let bucket_s = bucket_s.max(1);
    let sorted_copy;
    let points = if points.windows(2).all(|w| w[0].0 <= w[1].0) {
        points
    } else {
        let mut v = points.to_vec();
        v.sort_by_key(|p| p.0);
        sorted_copy = v;
        &sorted_copy[..]
    };

    let mut segments: Vec<Vec<Bucket>> = Vec::new();
    let mut current: Vec<Bucket> = Vec::new();
    let mut last_s: Option<i64> = None;
    // Bucket index (i128: `t - origin_s` cannot overflow) and the running aggregate.
    let mut acc: Option<(i128, Acc)> = None;

    let mut flush = |(idx, a): (i128, Acc), current: &mut Vec<Bucket>| {
        // Seconds without a sample between the previous bucket and this one.
        let missing_s = last_s.map(|l| i128::from(a.first_s) - i128::from(l) - 1);
        if missing_s.is_some_and(|m| m >= i128::from(bucket_s)) {
            segments.push(std::mem::take(current));
        }
        last_s = Some(a.last_s);
        let start = i128::from(origin_s) + idx * i128::from(bucket_s);
        current.push(Bucket {
            start_s: i64::try_from(start).unwrap_or(i64::MAX),
            count: a.count,
            first_s: a.first_s,
            last_s: a.last_s,
            min: a.min,
            max: a.max,
            mean: a.sum / f64::from(a.count),
        });
    };

    for &(t, v) in points {
        if t < origin_s || t >= end_s || !v.is_finite() {
            continue;
        }
        let idx = (i128::from(t) - i128::from(origin_s)).div_euclid(i128::from(bucket_s));
        acc = match acc {
            Some((i, a)) if i == idx => Some((i, a.add(t, v))),
            Some(prev) => {
                flush(prev, &mut current);
                Some((idx, Acc::new(t, v)))
            }
            None => Some((idx, Acc::new(t, v))),
        };
    }
    if let Some(prev) = acc {
        flush(prev, &mut current);
    }
    if !current.is_empty() {
        segments.push(current);
    }
    segments
}

/// Running aggregate of one bucket.
#[derive(Clone, Copy)]
struct Acc {
    count: u32,
    first_s: i64,
    last_s: i64,
    min: f64,
    max: f64,
    sum: f64,
}

impl Acc {
    fn new(t: i64, v: f64) -> Self {
        Acc {
            count: 1,
            first_s: t,
            last_s: t,
            min: v,
            max: v,
            sum: v,
        }
    }

    fn add(self, t: i64, v: f64) -> Self {
        Acc {
            count: self.count.saturating_add(1),
            first_s: self.first_s,
            last_s: t,
            min: self.min.min(v),
            max: self.max.max(v),
            sum: self.sum + v,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_choice_for_18_hours_is_one_minute() {
        assert_eq!(choose_bucket_s(64_800, 1_200), 60);
        assert_eq!(choose_bucket_s(600, 1_200), 1);
        assert_eq!(choose_bucket_s(0, 1_200), 1);
        assert_eq!(choose_bucket_s(-5, 0), 1);
        assert_eq!(choose_bucket_s(1_000 * 86_400, 1_200), 20 * 3600);
        assert_eq!(choose_bucket_s(i64::MAX, 1), i64::MAX);
    }

    #[test]
    fn keeps_min_max_mean_per_bucket() {
        let pts = [(100, 3.0), (101, -1.0), (105, 10.0), (110, 4.0), (119, 6.0)];
        let segs = downsample(&pts, 100, 200, 10);
        assert_eq!(segs.len(), 1);
        let b = &segs[0];
        assert_eq!(b.len(), 2);
        assert_eq!(
            b[0],
            Bucket {
                start_s: 100,
                count: 3,
                first_s: 100,
                last_s: 105,
                min: -1.0,
                max: 10.0,
                mean: 4.0
            }
        );
        assert_eq!(
            b[1],
            Bucket {
                start_s: 110,
                count: 2,
                first_s: 110,
                last_s: 119,
                min: 4.0,
                max: 6.0,
                mean: 5.0
            }
        );
    }

    #[test]
    fn empty_bucket_splits_segments() {
        // Seconds 0..20 and 40..50 present, 20..40 missing: buckets 0,1 | 4.
        let pts: Vec<(i64, f64)> = (0..20).chain(40..50).map(|t| (t, t as f64)).collect();
        let segs = downsample(&pts, 0, 60, 10);
        assert_eq!(segs.len(), 2);
        assert_eq!(
            segs[0].iter().map(|b| b.start_s).collect::<Vec<_>>(),
            [0, 10]
        );
        assert_eq!(segs[1].len(), 1);
        assert_eq!(segs[1][0].start_s, 40);
        assert_eq!(segs[1][0].min, 40.0);
        assert_eq!(segs[1][0].max, 49.0);
        // A gap shorter than a bucket does not split.
        let pts = [(0, 1.0), (9, 1.0), (15, 2.0)];
        assert_eq!(downsample(&pts, 0, 60, 10).len(), 1);
        let pts = [(5, 1.0), (15, 2.0)]; // 9 s missing
        assert_eq!(downsample(&pts, 0, 60, 10).len(), 1);
    }

    #[test]
    fn gap_straddling_two_buckets_splits() {
        // 10 s missing (6..=15) with a 10-s bucket, but no bucket is empty.
        let pts = [(0, 1.0), (5, 1.0), (16, 2.0), (19, 2.0)];
        let segs = downsample(&pts, 0, 60, 10);
        assert_eq!(segs.len(), 2);
        assert_eq!((segs[0][0].first_s, segs[0][0].last_s), (0, 5));
        assert_eq!((segs[1][0].first_s, segs[1][0].last_s), (16, 19));
        // With 60-s buckets, a 60-s outage after a failure shows on an 18-h chart.
        let pts: Vec<(i64, f64)> = (0..600)
            .filter(|s| !(95..155).contains(s))
            .map(|s| (s, 1.0))
            .collect();
        assert_eq!(downsample(&pts, 0, 600, 60).len(), 2);
        assert_eq!(downsample(&pts, 0, 600, 120).len(), 1);
    }

    #[test]
    fn non_finite_values_count_as_missing() {
        let pts = [
            (0, 1.0),
            (10, f64::NAN),
            (11, f64::INFINITY),
            (20, 2.0),
            (21, f64::NEG_INFINITY),
        ];
        let segs = downsample(&pts, 0, 30, 10);
        assert_eq!(segs.len(), 2);
        assert_eq!(segs[1][0].count, 1);
        assert_eq!(segs[1][0].mean, 2.0);
        let all_nan: Vec<(i64, f64)> = (0..100).map(|t| (t, f64::NAN)).collect();
        assert!(downsample(&all_nan, 0, 100, 10).is_empty());
    }

    #[test]
    fn degenerate_inputs() {
        assert!(downsample(&[], 0, 100, 10).is_empty());
        assert_eq!(
            downsample(&[(5, 7.0)], 0, 100, 10),
            vec![vec![Bucket {
                start_s: 0,
                count: 1,
                first_s: 5,
                last_s: 5,
                min: 7.0,
                max: 7.0,
                mean: 7.0
            }]]
        );
        // Outside the window, empty window, zero / negative bucket width.
        assert!(downsample(&[(-1, 1.0), (100, 1.0)], 0, 100, 10).is_empty());
        assert!(downsample(&[(5, 1.0)], 10, 0, 10).is_empty());
        assert_eq!(downsample(&[(5, 1.0), (6, 2.0)], 0, 100, 0).len(), 1);
        assert_eq!(downsample(&[(5, 1.0), (7, 2.0)], 0, 100, -3).len(), 2);
        // Extreme seconds do not overflow.
        let pts = [(i64::MIN, 1.0), (i64::MAX - 1, 2.0)];
        assert_eq!(downsample(&pts, i64::MIN, i64::MAX, 3600).len(), 2);
    }

    #[test]
    fn unsorted_input_is_sorted_first() {
        let pts = [(15, 2.0), (1, 1.0), (12, 4.0), (3, 3.0)];
        let segs = downsample(&pts, 0, 20, 10);
        assert_eq!(segs.len(), 1);
        assert_eq!(segs[0][0].mean, 2.0);
        assert_eq!(segs[0][1].mean, 3.0);
    }

    #[test]
    fn one_minute_buckets_on_a_full_run() {
        let start = 1_700_000_000;
        let pts: Vec<(i64, f64)> = (0..64_800)
            .filter(|s| !(30_000..30_300).contains(s))
            .map(|s| (start + s, (s % 60) as f64))
            .collect();
        let segs = downsample(&pts, start, start + 64_800, 60);
        assert_eq!(segs.len(), 2);
        assert_eq!(segs.iter().map(Vec::len).sum::<usize>(), 1_080 - 5);
        assert!(segs.iter().flatten().all(|b| b.min == 0.0 && b.max == 59.0));
    }
}
