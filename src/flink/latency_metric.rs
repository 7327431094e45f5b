//! The recorded latency metric as the Demeter jobs computed it: every subtask of the measuring
//! operator keeps a Dropwizard `SlidingWindowReservoir` of its last N latency samples, Prometheus
//! scrapes their p95 each second and the series is the mean over subtasks (research/demeter.md
//! §2.4, §7.3; the job sources `binaries/YahooStreamingBenchmark.java` and
//! `TopSpeedWindowing.java` of dos-group/demeter).
//!
//! The samples are not taken when a record is read: YSB's `LatencyAfter` sits behind a keyed
//! 10-s/1-s sliding event-time window with a 10-s bounded-out-of-orderness watermark and, for
//! every window result, adds one sample per record the window held (the delay each record had
//! when it passed `latencyBefore`). A window fires once the watermark (the newest event time
//! read minus 10 s) passes its end, so at wall time T a reservoir holds the newest N records of
//! the last fired window(s): records whose event time lies in [E - w, E), E = the last window end
//! <= newest event time - 10 s, w = the event time N records of one key cover (at most the
//! window length). After a failure the p95 therefore stays high until the slow records have left
//! the fired windows, ~10-15 s after the backlog is gone.
//!
//! The model keeps, per second of arrival (event) time, when the records of that second were
//! read and the queueing they met downstream up to the measuring point (`extra`), so the delay
//! of any record is `read_ms - arrival_ms + extra_ms`, linear between the marks. No record is
//! simulated: the p95 of a reservoir is the 95th percentile of that piecewise-linear delay over
//! the reservoir's event-time range, weighted by arrivals. A new job attempt starts with empty
//! reservoirs (the metric reads 0, as the recorded series do after every restart) until its
//! first window fires.

use std::collections::VecDeque;

/// The reservoir's parameters in milliseconds of event time (from `[latency.reservoir]`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReservoirParams {
    /// Samples per subtask reservoir (Dropwizard `SlidingWindowReservoir(size)`).
    pub samples: f64,
    /// Event time between the newest record read and the newest record a fired result carries
    /// (the watermark's bounded out-of-orderness; 0 for a trigger that fires on arrival).
    pub watermark_delay_ms: f64,
    /// Window results are emitted at multiples of the slide (0: at any event time).
    pub slide_ms: f64,
    /// Event time one result's records span at most (the window length or the evictor's).
    pub span_ms: f64,
    /// Records per result = (records into the window per ms) x span / keys; `None`: one
    /// result covers the whole span (the reservoir spans `span_ms`).
    pub keys: Option<f64>,
    /// Records reaching the window per record read (selectivity before the window).
    pub window_input_fraction: f64,
}

impl ReservoirParams {
    /// The end of the last window fired when the newest event time read is `head_ms`.
    pub fn window_end_ms(&self, head_ms: f64) -> f64 {
        let w = head_ms - self.watermark_delay_ms;
        if self.slide_ms > 0.0 {
            (w / self.slide_ms).floor() * self.slide_ms
        } else {
            w
        }
    }
}

/// One second of arrival time: the cumulative arrivals at its start, when the record arriving
/// at that instant was read (NaN: not yet) and the queueing it met up to the measuring point.
#[derive(Clone, Copy, Debug)]
struct Mark {
    arrival_ms: f64,
    cum: f64,
    read_ms: f64,
    extra_ms: f64,
}

impl Mark {
    fn delay_ms(&self) -> f64 {
        self.read_ms - self.arrival_ms + self.extra_ms
    }
}

/// The per-subtask reservoirs of the measuring operator, all alike (records are spread evenly
/// over subtasks, so the mean of their p95 is one reservoir's p95).
#[derive(Clone, Debug)]
pub struct LatencyReservoir {
    params: ReservoirParams,
    marks: VecDeque<Mark>,
    /// Index of the first mark not read yet.
    next: usize,
    /// The running attempt's reservoirs are empty until a window ending after this fires.
    empty_until_end_ms: Option<f64>,
    scratch: Vec<(f64, f64, f64)>,
    points: Vec<(f64, f64, f64)>,
}

/// How far behind the head the marks are kept beyond the reservoir's range (ms).
const MARGIN_MS: f64 = 2000.0;

impl LatencyReservoir {
    /// A reservoir whose job has been running steadily before time 0 at `rate0_rps` (records
    /// before the run were read on arrival: delay 0).
    pub fn new(params: ReservoirParams, rate0_rps: f64) -> LatencyReservoir {
        let back_s = ((params.watermark_delay_ms + params.slide_ms + params.span_ms + MARGIN_MS)
            / 1000.0)
            .ceil() as i64;
        let marks = (-back_s..=0)
            .map(|s| Mark {
                arrival_ms: s as f64 * 1000.0,
                cum: s as f64 * rate0_rps.max(1e-9),
                read_ms: s as f64 * 1000.0,
                extra_ms: 0.0,
            })
            .collect::<VecDeque<_>>();
        let next = marks.len();
        LatencyReservoir {
            params,
            marks,
            next,
            empty_until_end_ms: None,
            scratch: Vec::new(),
            points: Vec::new(),
        }
    }

    pub fn params(&self) -> &ReservoirParams {
        &self.params
    }

    /// A second of arrival time ended at `arrival_ms` with `cum` records produced in total.
    pub fn arrival_boundary(&mut self, arrival_ms: f64, cum: f64) {
        if self
            .marks
            .back()
            .is_some_and(|m| m.arrival_ms >= arrival_ms)
        {
            return;
        }
        self.marks.push_back(Mark {
            arrival_ms,
            cum,
            read_ms: f64::NAN,
            extra_ms: 0.0,
        });
    }

    /// The source read the records at offsets (`from`, `to`] evenly during [`t0_ms`, `t1_ms`];
    /// they meet `extra_ms` of queueing before the measuring point.
    pub fn read(&mut self, from: f64, to: f64, t0_ms: f64, t1_ms: f64, extra_ms: f64) {
        while self.next < self.marks.len() && self.marks[self.next].cum <= to {
            let m = &mut self.marks[self.next];
            let f = if to > from {
                ((m.cum - from) / (to - from)).clamp(0.0, 1.0)
            } else {
                1.0
            };
            m.read_ms = t0_ms + (t1_ms - t0_ms) * f;
            m.extra_ms = extra_ms;
            self.next += 1;
        }
    }

    /// A new job attempt reads again from `offset` (arrival time `offset_arrival_ms`): its
    /// reservoirs start empty and fill when its first window fires.
    pub fn restart(&mut self, offset: f64, offset_arrival_ms: f64) {
        self.next = self.marks.partition_point(|m| m.cum <= offset);
        self.empty_until_end_ms = Some(self.params.window_end_ms(offset_arrival_ms));
    }

    /// Drops the marks the reservoir can no longer need: those more than the reservoir's reach
    /// before `keep_arrival_ms` (the oldest arrival a rewind may return to, or the head).
    pub fn trim(&mut self, keep_arrival_ms: f64) {
        let reach =
            self.params.watermark_delay_ms + self.params.slide_ms + self.params.span_ms + MARGIN_MS;
        while self.marks.len() > 2
            && self.next > 1
            && self.marks[1].arrival_ms < keep_arrival_ms - reach
        {
            self.marks.pop_front();
            self.next -= 1;
        }
    }

    /// Whether the running attempt's reservoirs are still empty with the head at `head_ms`.
    pub fn is_empty(&mut self, head_ms: f64) -> bool {
        match self.empty_until_end_ms {
            Some(e) if self.params.window_end_ms(head_ms) <= e => true,
            Some(_) => {
                self.empty_until_end_ms = None;
                false
            }
            None => false,
        }
    }

    /// The reservoirs' p95 delay (ms, without the floor) at `now_ms`, with the newest record
    /// read arrived at `head_ms` and met `extra_now_ms` of queueing; `None` while empty.
    pub fn p95_delay_ms(&mut self, head_ms: f64, now_ms: f64, extra_now_ms: f64) -> Option<f64> {
        if self.is_empty(head_ms) {
            return None;
        }
        let p = self.params;
        let end = self.params.window_end_ms(head_ms).min(head_ms);
        // One binary search for the range's end; its start lies a few marks before.
        let i_end = self.marks.partition_point(|m| m.arrival_ms <= end);
        let mut start = end - p.span_ms;
        if let Some(keys) = p.keys {
            let records = p.samples * keys / p.window_input_fraction.max(1e-12);
            let cum_start = self.cum_at_index(i_end, end) - records;
            let mut j = i_end;
            while j > 0 && self.marks[j - 1].cum > cum_start {
                j -= 1;
            }
            start = start.max(self.arrival_at_cum_index(j, cum_start));
        }
        let head = (head_ms, now_ms, extra_now_ms);
        if start >= end {
            return Some(self.delay_at_index(i_end, end, head));
        }
        // Knots: the range ends and every mark inside; between knots delay and arrivals are
        // linear, so each piece is a uniform distribution of delays weighted by its records.
        let mut first = i_end;
        while first > 0 && self.marks[first - 1].arrival_ms > start {
            first -= 1;
        }
        // Steady state (most seconds): the knots' delays differ by less than a millisecond (the
        // metric's resolution; Dropwizard stores whole milliseconds) — no pieces needed.
        let d_start = self.delay_at_index(first, start, head);
        let (mut lo, mut hi) = (d_start, d_start);
        let mut i = first;
        while i < self.marks.len() && self.marks[i].arrival_ms < end {
            let d = if i < self.next {
                self.marks[i].delay_ms()
            } else {
                self.delay_at_index(i + 1, self.marks[i].arrival_ms, head)
            };
            lo = lo.min(d);
            hi = hi.max(d);
            i += 1;
        }
        let d_end = self.delay_at_index(i, end, head);
        lo = lo.min(d_end);
        hi = hi.max(d_end);
        if hi - lo < 1.0 {
            return Some(hi);
        }
        let mut pieces = std::mem::take(&mut self.scratch);
        pieces.clear();
        let mut a0 = start;
        let mut d0 = self.delay_at_index(first, a0, head);
        let mut c0 = self.cum_at_index(first, a0);
        let mut i = first;
        loop {
            // A mark inside the range is its own knot (index i + 1 as `partition_point`
            // counts it); the range's end is interpolated.
            let (a1, d1, c1) = if i < self.marks.len() && self.marks[i].arrival_ms < end {
                let m = self.marks[i];
                let d = if i < self.next {
                    m.delay_ms()
                } else {
                    self.delay_at_index(i + 1, m.arrival_ms, head)
                };
                (m.arrival_ms, d, m.cum)
            } else {
                (
                    end,
                    self.delay_at_index(i, end, head),
                    self.cum_at_index(i, end),
                )
            };
            if a1 > a0 {
                pieces.push(((c1 - c0).max(0.0), d0.min(d1), d0.max(d1)));
            }
            if a1 >= end {
                break;
            }
            (a0, d0, c0) = (a1, d1, c1);
            i += 1;
        }
        let q = quantile_with(&pieces, 0.95, &mut self.points);
        self.scratch = pieces;
        Some(q)
    }

    /// `cum_at(a)` with `i` = the number of marks at or before `a`.
    fn cum_at_index(&self, i: usize, a: f64) -> f64 {
        self.interpolate(i, a, |m| (m.arrival_ms, m.cum))
    }

    /// Arrival time at which the cumulative arrivals were `cum` (the oldest mark if before);
    /// `i` = the number of marks with cumulative arrivals <= `cum`.
    fn arrival_at_cum_index(&self, i: usize, cum: f64) -> f64 {
        self.interpolate(i, cum, |m| (m.cum, m.arrival_ms))
    }

    /// The marks as points `xy(mark)`, read at `x` between the `i`-th and the next (held at
    /// the first before it and at the last after it).
    fn interpolate(&self, i: usize, x: f64, xy: impl Fn(&Mark) -> (f64, f64)) -> f64 {
        let Some(m0) = i.checked_sub(1).map(|k| xy(&self.marks[k])) else {
            return xy(&self.marks[0]).1;
        };
        self.marks.get(i).map_or(m0.1, |m1| lerp(m0, xy(m1), x))
    }

    /// Delay of the record that arrived at `a` (<= the head): linear between read marks; past
    /// the last mark read, linear up to the head, read now.
    /// `i` = the number of marks at or before `a`; `head` = (head arrival, now, queueing now).
    fn delay_at_index(&self, i: usize, a: f64, head: (f64, f64, f64)) -> f64 {
        let (head_ms, now_ms, extra_now_ms) = head;
        let head_delay = now_ms - head_ms + extra_now_ms;
        if i == 0 {
            return self.marks[0].delay_ms();
        }
        let m0 = self.marks[i - 1];
        if i > self.next {
            // Not read in this attempt yet (only the head's own second): read now.
            return head_delay;
        }
        let d0 = m0.delay_ms();
        let (a1, d1) = match self.marks.get(i) {
            Some(m1) if i < self.next => (m1.arrival_ms, m1.delay_ms()),
            _ => (head_ms, head_delay),
        };
        if a1 > m0.arrival_ms {
            d0 + (d1 - d0) * ((a - m0.arrival_ms) / (a1 - m0.arrival_ms)).clamp(0.0, 1.0)
        } else {
            d0
        }
    }
}

/// The `q` quantile of a mixture of uniform distributions `(weight, lo, hi)` (a point mass
/// when lo == hi).
pub fn quantile_of_uniforms(pieces: &[(f64, f64, f64)], q: f64) -> f64 {
    quantile_with(pieces, q, &mut Vec::new())
}

/// [`quantile_of_uniforms`] with a reusable buffer for the breakpoints.
fn quantile_with(pieces: &[(f64, f64, f64)], q: f64, events: &mut Vec<(f64, f64, f64)>) -> f64 {
    let total: f64 = pieces.iter().map(|p| p.0).sum();
    let lo = pieces.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let hi = pieces.iter().map(|p| p.2).fold(f64::NEG_INFINITY, f64::max);
    if pieces.is_empty() {
        return 0.0;
    }
    if total <= 0.0 || hi - lo < 1e-9 {
        return hi;
    }
    let target = q * total;
    // Sweep the sorted ends: (x, change of density, point mass). Between events the CDF grows
    // linearly with the density of the pieces open there; a point mass jumps at its x.
    events.clear();
    for &(w, l, h) in pieces {
        if w <= 0.0 {
            continue;
        }
        if h - l < 1e-12 {
            events.push((l, 0.0, w));
        } else {
            let density = w / (h - l);
            events.push((l, density, 0.0));
            events.push((h, -density, 0.0));
        }
    }
    events.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut f, mut density, mut x_prev) = (0.0, 0.0, events[0].0);
    for &(x, d_density, mass) in events.iter() {
        let rise = density * (x - x_prev);
        if density > 0.0 && f + rise >= target {
            return x_prev + (target - f) / density;
        }
        f += rise;
        x_prev = x;
        density += d_density;
        f += mass;
        if mass > 0.0 && f >= target {
            return x;
        }
    }
    hi
}

/// y at `x` on the line through `p0` and `p1` (x, y); `p0`'s y when the segment has no length
/// along x (equal or decreasing x).
fn lerp(p0: (f64, f64), p1: (f64, f64), x: f64) -> f64 {
    if p1.0 > p0.0 {
        p0.1 + (p1.1 - p0.1) * (x - p0.0) / (p1.0 - p0.0)
    } else {
        p0.1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 100 records per second arriving from time 0; 500-sample reservoirs behind a 10-s/1-s
    /// window with a 10-s watermark delay; `keys` keys per result.
    fn params(keys: Option<f64>) -> ReservoirParams {
        ReservoirParams {
            samples: 500.0,
            watermark_delay_ms: 10_000.0,
            slide_ms: 1000.0,
            span_ms: 10_000.0,
            keys,
            window_input_fraction: 1.0,
        }
    }

    /// Records of arrival seconds < `step_s` were read `delay_s` late, later ones on arrival;
    /// the reservoir is sampled with the head at `until_s` (read now).
    fn step(keys: Option<f64>, step_s: i64, delay_s: f64, until_s: i64) -> LatencyReservoir {
        let mut r = LatencyReservoir::new(params(keys), 100.0);
        for s in 1..=until_s {
            r.arrival_boundary(s as f64 * 1000.0, s as f64 * 100.0);
            let late = if s <= step_s { delay_s * 1000.0 } else { 0.0 };
            let t = s as f64 * 1000.0 + late;
            r.read((s - 1) as f64 * 100.0, s as f64 * 100.0, t, t, 0.0);
        }
        r
    }

    fn p95_at(keys: Option<f64>, head_s: i64) -> f64 {
        let mut r = step(keys, 20, 30.0, head_s);
        let now = head_s as f64 * 1000.0;
        r.p95_delay_ms(now, now, 0.0).expect("not empty")
    }

    #[test]
    fn quantile_of_one_uniform_and_of_point_masses() {
        assert!((quantile_of_uniforms(&[(1.0, 0.0, 100.0)], 0.95) - 95.0).abs() < 1e-9);
        // 94 % at 0, 6 % at 30: the 95th percentile is 30.
        let masses = [(94.0, 0.0, 0.0), (6.0, 30.0, 30.0)];
        assert_eq!(quantile_of_uniforms(&masses, 0.95), 30.0);
        // 96 % at 0: it is 0.
        let masses = [(96.0, 0.0, 0.0), (4.0, 30.0, 30.0)];
        assert_eq!(quantile_of_uniforms(&masses, 0.95), 0.0);
        // Half uniform on [0, 10], half at 20: F(10) = 0.5 < 0.95 <= F(20).
        let mixed = [(1.0, 0.0, 10.0), (1.0, 20.0, 20.0)];
        assert_eq!(quantile_of_uniforms(&mixed, 0.95), 20.0);
        assert_eq!(quantile_of_uniforms(&[(2.0, 7.0, 7.0)], 0.95), 7.0);
    }

    /// The sweep agrees with bisection of the mixture's CDF on overlapping pieces.
    #[test]
    fn quantile_sweep_agrees_with_bisection() {
        let pieces = [
            (3.0, 0.0, 10.0),
            (1.0, 5.0, 30.0),
            (2.0, 8.0, 8.0),
            (0.5, 25.0, 40.0),
            (1.5, 12.0, 14.0),
        ];
        let total: f64 = pieces.iter().map(|p| p.0).sum();
        let cdf = |x: f64| -> f64 {
            pieces
                .iter()
                .map(|&(w, l, h)| {
                    if x >= h {
                        w
                    } else if x < l {
                        0.0
                    } else {
                        w * (x - l) / (h - l)
                    }
                })
                .sum::<f64>()
                / total
        };
        for q in [0.1, 0.3, 0.5, 0.7, 0.9, 0.95, 0.99] {
            let (mut a, mut b) = (0.0, 40.0);
            for _ in 0..200 {
                let m = 0.5 * (a + b);
                if cdf(m) >= q {
                    b = m
                } else {
                    a = m
                }
            }
            let got = quantile_of_uniforms(&pieces, q);
            assert!((got - b).abs() < 1e-9, "q {q}: sweep {got}, bisection {b}");
        }
    }

    /// Arrivals before 20 s waited 30 s, later ones none; the delay falls from 30 s to 0 over
    /// arrival second 20 (the marks are seconds apart). 100 rec/s and one key: a result holds
    /// 1 000 records, the reservoir its newest 500 = 5 s of event time. With the head at h the
    /// last fired window ends at E = floor(h - 10 s); the reservoir spans [E - 5, E).
    #[test]
    fn a_step_stays_in_the_p95_until_it_leaves_the_fired_windows() {
        // E = 20: [15, 20) all late.
        assert!((p95_at(Some(1.0), 30) - 30_000.0).abs() < 1e-6);
        // E = 24: [19, 24) = 100 late, 100 ramping 30 s -> 0, 300 on time: 95 % lies in the
        // late mass.
        assert!((p95_at(Some(1.0), 34) - 30_000.0).abs() < 1e-6);
        // Half a second later nothing moves: windows fire once per second of event time.
        let mut r = step(Some(1.0), 20, 30.0, 34);
        assert!((r.p95_delay_ms(34_500.0, 34_500.0, 0.0).unwrap() - 30_000.0).abs() < 1e-6);
        // E = 25: [20, 25) = 100 ramping, 400 on time: 475 = 400 + 100 x / 30 s -> x = 22.5 s.
        assert!((p95_at(Some(1.0), 35) - 22_500.0).abs() < 1e-6);
        // E = 26: [21, 26) all on time: the step is gone 10 s (watermark) + 5 s (reservoir)
        // after the last late record (arrival 21 s).
        assert!(p95_at(Some(1.0), 36).abs() < 1e-6);
        assert!(p95_at(Some(1.0), 50).abs() < 1e-6);
    }

    /// Ten keys: a result holds 100 records, fewer than the reservoir, which then spans the
    /// whole 10-s window: the step stays 5 s longer.
    #[test]
    fn a_reservoir_larger_than_a_result_spans_the_window() {
        // E = 30: [20, 30) = 100 ramping + 900 on time: 950 = 900 + 100 x / 30 s -> 15 s.
        assert!((p95_at(Some(10.0), 40) - 15_000.0).abs() < 1e-6);
        assert!(p95_at(Some(10.0), 41).abs() < 1e-6);
        // Without keys the reservoir spans the window as well.
        assert!((p95_at(None, 40) - 15_000.0).abs() < 1e-6);
        assert!(p95_at(None, 41).abs() < 1e-6);
    }

    #[test]
    fn steady_reading_gives_no_delay_and_the_head_counts_when_no_watermark_waits() {
        let mut r = step(Some(1.0), -1, 0.0, 60);
        assert!(r.p95_delay_ms(60_000.0, 60_000.0, 0.0).unwrap().abs() < 1e-9);
        // Queueing met downstream adds to every sample.
        let mut r = LatencyReservoir::new(params(None), 100.0);
        for s in 1..=30 {
            r.arrival_boundary(s as f64 * 1000.0, s as f64 * 100.0);
            let t = s as f64 * 1000.0;
            r.read((s - 1) as f64 * 100.0, s as f64 * 100.0, t, t, 250.0);
        }
        assert!((r.p95_delay_ms(30_000.0, 30_000.0, 250.0).unwrap() - 250.0).abs() < 1e-9);
        // No watermark, no slide: the range ends at the head, whose delay is now - head.
        let mut p = params(None);
        p.watermark_delay_ms = 0.0;
        p.slide_ms = 0.0;
        p.span_ms = 1000.0;
        let mut r = LatencyReservoir::new(p, 100.0);
        r.arrival_boundary(1000.0, 100.0);
        // Half of arrival second 0 read by 5 s, the mark at 1 s not yet: the records between
        // the last mark read (0 s, on time) and the head (0.5 s, read now, 4.5 s late) ramp.
        r.read(0.0, 50.0, 0.0, 5000.0, 0.0);
        // The range [-0.5 s, 0.5 s]: 50 records on time, 50 ramping 0 -> 4.5 s:
        // 95 = 50 + 50 x / 4.5 s -> x = 4.05 s.
        let d = r.p95_delay_ms(500.0, 5000.0, 0.0).unwrap();
        assert!((d - 4050.0).abs() < 1e-6, "{d}");
    }

    #[test]
    fn a_restarted_attempt_reads_empty_until_its_first_window_fires() {
        let mut r = step(Some(1.0), -1, 0.0, 40);
        // Rewind to offset 3 000 (arrival 30 s): the window ending at 20 s may have fired before.
        r.restart(3000.0, 30_000.0);
        assert_eq!(r.p95_delay_ms(30_000.0, 45_000.0, 0.0), None);
        assert_eq!(r.p95_delay_ms(30_900.0, 45_000.0, 0.0), None);
        // Re-read arrival second 31 at 45 s: the window ending at 21 s fires.
        r.read(3000.0, 3100.0, 45_000.0, 45_000.0, 0.0);
        assert!(r.p95_delay_ms(31_000.0, 45_000.0, 0.0).is_some());
    }

    #[test]
    fn trimming_keeps_what_the_reservoir_can_reach() {
        let mut r = step(Some(1.0), 20, 30.0, 3600);
        r.trim(3_600_000.0);
        assert!(r.marks.len() < 30, "{}", r.marks.len());
        assert!((p95_at(Some(1.0), 3600)).abs() < 1e-9);
        let now = 3_600_000.0;
        assert!(r.p95_delay_ms(now, now, 0.0).unwrap().abs() < 1e-9);
    }
}
