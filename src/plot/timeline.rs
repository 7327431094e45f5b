//! Shared pieces of the time charts: the hours axis, value ranges, tick formats, downsampled
//! bands and lines with gaps, and the failure / configuration-change markers.

use std::ops::Range;

use plotters::chart::MeshStyle;
use plotters::coord::ranged1d::{Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::element::DashedPathElement;
use plotters::prelude::{
    BitMapBackend, Cartesian2d, ChartContext, DrawingBackend, PathElement, Polygon, RGBColor,
    SeriesLabelPosition, BLACK, WHITE,
};
use plotters::style::{Color, ShapeStyle};

use super::downsample::{choose_bucket_s, downsample, Bucket};
use super::{step, DrawResult, FONT_FAMILY};
use crate::runfolder::{ConfigRow, Series};

/// Most buckets a time chart draws (about one per horizontal pixel).
pub(crate) const MAX_BUCKETS: i64 = 1_200;

pub(crate) const BLUE: RGBColor = RGBColor(31, 119, 180);
pub(crate) const ORANGE: RGBColor = RGBColor(255, 127, 14);
pub(crate) const GREEN: RGBColor = RGBColor(44, 160, 44);
pub(crate) const RED: RGBColor = RGBColor(214, 39, 40);
pub(crate) const PURPLE: RGBColor = RGBColor(148, 103, 189);
pub(crate) const BROWN: RGBColor = RGBColor(140, 86, 75);
pub(crate) const DARK_GRAY: RGBColor = RGBColor(60, 60, 60);

pub(crate) const CAPTION_PX: u32 = 20;
pub(crate) const LABEL_PX: u32 = 14;
pub(crate) const DESC_PX: u32 = 15;

/// A time chart with f64 hours on x and some f64 axis `Y` on y.
pub(crate) type TimeChart<'a, 'b, Y> =
    ChartContext<'a, BitMapBackend<'b>, Cartesian2d<RangedCoordf64, Y>>;

/// The window a time chart shows: `[origin_s, end_s)` epoch seconds, drawn as hours since
/// `origin_s`, downsampled into `bucket_s`-second buckets.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TimeAxis {
    pub origin_s: i64,
    pub end_s: i64,
    pub bucket_s: i64,
}

impl TimeAxis {
    /// A window of at least one second starting at `origin_s`.
    pub fn new(origin_s: i64, end_s: i64) -> Self {
        let end_s = end_s.max(origin_s.saturating_add(1));
        let span_s = end_s.saturating_sub(origin_s);
        TimeAxis {
            origin_s,
            end_s,
            bucket_s: choose_bucket_s(span_s, MAX_BUCKETS),
        }
    }

    pub fn hours(&self, t_s: i64) -> f64 {
        (i128::from(t_s) - i128::from(self.origin_s)) as f64 / 3600.0
    }

    pub fn x_range_h(&self) -> Range<f64> {
        0.0..self.hours(self.end_s)
    }

    pub fn contains(&self, t_s: i64) -> bool {
        (self.origin_s..self.end_s).contains(&t_s)
    }

    pub fn downsample(&self, series: &Series) -> Vec<Vec<Bucket>> {
        downsample(&series.points, self.origin_s, self.end_s, self.bucket_s)
    }

    /// "1 min", "30 s", "2 h": the bucket width for legends.
    pub fn bucket_label(&self) -> String {
        let b = self.bucket_s;
        if b % 3600 == 0 {
            format!("{} h", b / 3600)
        } else if b % 60 == 0 {
            format!("{} min", b / 60)
        } else {
            format!("{b} s")
        }
    }

    /// Bucket centre in hours.
    fn centre_h(&self, b: &Bucket) -> f64 {
        self.hours(b.start_s) + self.bucket_s as f64 / 7200.0
    }
}

/// Values beyond this are clamped when computing ranges, so range arithmetic stays finite.
const VALUE_LIMIT: f64 = 1e300;

/// A linear y range covering all bucket extremes and zero, with `headroom` (a fraction of the
/// span) above for the legend. Never empty, always finite.
pub(crate) fn linear_y_range(all: &[&[Vec<Bucket>]], extra: &[f64], headroom: f64) -> Range<f64> {
    let mut lo = 0.0f64;
    let mut hi = 0.0f64;
    let values = all
        .iter()
        .flat_map(|segs| segs.iter().flatten())
        .flat_map(|b| [b.min, b.max])
        .chain(extra.iter().copied())
        .filter(|v| v.is_finite())
        .map(|v| v.clamp(-VALUE_LIMIT, VALUE_LIMIT));
    for v in values {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if hi - lo <= 0.0 {
        hi = lo + 1.0;
    }
    let span = hi - lo;
    lo..hi + span * headroom
}

/// A log-10 y range covering the positive bucket extremes and `must_include`, with `headroom`
/// (a fraction of the decades spanned) above. Never empty, always positive and finite.
pub(crate) fn log_y_range(
    all: &[&[Vec<Bucket>]],
    must_include: &[f64],
    headroom: f64,
) -> Range<f64> {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    let values = all
        .iter()
        .flat_map(|segs| segs.iter().flatten())
        .flat_map(|b| [b.min, b.max])
        .chain(must_include.iter().copied())
        .filter(|v| v.is_finite() && *v > 0.0)
        .map(|v| v.clamp(1e-300, VALUE_LIMIT));
    for v in values {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() || !hi.is_finite() {
        return 1.0..10.0;
    }
    // At least one decade, a little room below, `headroom` of the decades above.
    let lo = lo / 1.5;
    let hi = hi.max(lo * 10.0);
    let decades = (hi / lo).log10();
    let hi = (hi * 10f64.powf(decades * headroom)).min(VALUE_LIMIT * 10.0);
    lo..hi
}

/// "0", "950", "25k", "1.5M", "2.1G"; scientific beyond 1e15.
pub(crate) fn fmt_si(v: f64) -> String {
    let a = v.abs();
    if !v.is_finite() {
        return format!("{v}");
    }
    if a >= 1e15 {
        return format!("{v:.2e}");
    }
    let (scaled, suffix) = if a >= 1e9 {
        (v / 1e9, "G")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    format!("{}{suffix}", trim_decimals(scaled, 2))
}

/// Milliseconds as "250 ms", "1.5 s", "100 s".
pub(crate) fn fmt_ms(v: f64) -> String {
    if v.abs() >= 1000.0 {
        format!("{} s", fmt_si(v / 1000.0))
    } else {
        format!("{} ms", trim_decimals(v, 2))
    }
}

/// Hours as tick text: "0", "2", "1.5", "0.25".
pub(crate) fn fmt_hours(v: f64) -> String {
    trim_decimals(v, 2)
}

/// `v` with at most `decimals` decimals, trailing zeros dropped, no "-0".
pub(crate) fn trim_decimals(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" {
        "0".into()
    } else {
        s
    }
}

/// The house style of every chart's grid and axis text: the embedded font at the label and
/// description sizes, faint bold and light grid lines.
pub(crate) fn house_mesh<'m, 'a, 'b, X, Y, XT, YT, DB>(
    mesh: &'m mut MeshStyle<'a, 'b, X, Y, DB>,
) -> &'m mut MeshStyle<'a, 'b, X, Y, DB>
where
    X: Ranged<ValueType = XT> + ValueFormatter<XT>,
    Y: Ranged<ValueType = YT> + ValueFormatter<YT>,
    DB: DrawingBackend,
{
    mesh.label_style((FONT_FAMILY, LABEL_PX))
        .axis_desc_style((FONT_FAMILY, DESC_PX))
        .bold_line_style(BLACK.mix(0.12))
        .light_line_style(BLACK.mix(0.04))
}

/// Draws the grid, the axes and their descriptions.
pub(crate) fn draw_mesh<Y>(
    chart: &mut TimeChart<'_, '_, Y>,
    y_desc: &str,
    y_fmt: &dyn Fn(&f64) -> String,
) -> DrawResult
where
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    house_mesh(
        chart
            .configure_mesh()
            .x_desc("time since start (h)")
            .y_desc(y_desc)
            .x_labels(12)
            .y_labels(7)
            .x_label_formatter(&|v| fmt_hours(*v))
            .y_label_formatter(y_fmt),
    )
    .draw()
    .map_err(step("drawing the axes"))
}

/// Draws the legend in the upper right corner (only if some series has a label).
pub(crate) fn draw_legend<'a, 'b: 'a, Y>(chart: &mut TimeChart<'a, 'b, Y>) -> DrawResult
where
    Y: Ranged<ValueType = f64>,
{
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.4))
        .label_font((FONT_FAMILY, LABEL_PX))
        .draw()
        .map_err(step("drawing the legend"))
}

/// Draws the min-max band of `segs` (a translucent polygon per segment, so gaps stay gaps).
pub(crate) fn draw_band<Y>(
    chart: &mut TimeChart<'_, '_, Y>,
    axis: &TimeAxis,
    segs: &[Vec<Bucket>],
    y: &Range<f64>,
    color: RGBColor,
    label: Option<String>,
) -> DrawResult
where
    Y: Ranged<ValueType = f64>,
{
    let clamp = |v: f64| v.clamp(y.start, y.end);
    let half_h = axis.bucket_s as f64 / 7200.0;
    let polygons = segs.iter().filter(|s| !s.is_empty()).map(|seg| {
        let mut pts: Vec<(f64, f64)> = Vec::with_capacity(seg.len() * 2 + 2);
        if seg.len() == 1 {
            let (b, c) = (&seg[0], axis.centre_h(&seg[0]));
            pts.extend([
                (c - half_h, clamp(b.max)),
                (c + half_h, clamp(b.max)),
                (c + half_h, clamp(b.min)),
                (c - half_h, clamp(b.min)),
            ]);
        } else {
            pts.extend(seg.iter().map(|b| (axis.centre_h(b), clamp(b.max))));
            pts.extend(seg.iter().rev().map(|b| (axis.centre_h(b), clamp(b.min))));
        }
        Polygon::new(pts, color.mix(0.25).filled())
    });
    let anno = chart
        .draw_series(polygons)
        .map_err(step("drawing a min-max band"))?;
    if let Some(label) = label {
        anno.label(label).legend(move |(x, y)| {
            plotters::prelude::Rectangle::new(
                [(x, y - 5), (x + 20, y + 5)],
                color.mix(0.25).filled(),
            )
        });
    }
    Ok(())
}

/// Draws the bucket means of `segs` as a line, one path per segment so gaps stay gaps.
/// A one-bucket segment is a short horizontal dash across its bucket.
pub(crate) fn draw_mean_line<Y>(
    chart: &mut TimeChart<'_, '_, Y>,
    axis: &TimeAxis,
    segs: &[Vec<Bucket>],
    y: &Range<f64>,
    style: ShapeStyle,
    label: Option<String>,
) -> DrawResult
where
    Y: Ranged<ValueType = f64>,
{
    let clamp = |v: f64| v.clamp(y.start, y.end);
    let half_h = axis.bucket_s as f64 / 7200.0;
    let paths = segs.iter().filter(|s| !s.is_empty()).map(|seg| {
        let pts: Vec<(f64, f64)> = if seg.len() == 1 {
            let (b, c) = (&seg[0], axis.centre_h(&seg[0]));
            vec![(c - half_h, clamp(b.mean)), (c + half_h, clamp(b.mean))]
        } else {
            seg.iter()
                .map(|b| (axis.centre_h(b), clamp(b.mean)))
                .collect()
        };
        PathElement::new(pts, style)
    });
    let anno = chart.draw_series(paths).map_err(step("drawing a line"))?;
    if let Some(label) = label {
        anno.label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], style));
    }
    Ok(())
}

/// A horizontal dashed reference line at `value` (e.g. the latency SLO).
pub(crate) fn draw_reference_line<Y>(
    chart: &mut TimeChart<'_, '_, Y>,
    axis: &TimeAxis,
    value: f64,
    color: RGBColor,
    label: String,
) -> DrawResult
where
    Y: Ranged<ValueType = f64>,
{
    let style = color.stroke_width(2);
    let x = axis.x_range_h();
    chart
        .draw_series(std::iter::once(DashedPathElement::new(
            [(x.start, value), (x.end, value)],
            8,
            5,
            style,
        )))
        .map_err(step("drawing a reference line"))?
        .label(label)
        .legend(move |(x, y)| DashedPathElement::new([(x, y), (x + 20, y)], 5, 3, style));
    Ok(())
}

/// Configuration changes: rows strictly inside the window that differ from the row before.
pub(crate) fn config_changes(axis: &TimeAxis, configs: &[ConfigRow]) -> Vec<i64> {
    let mut out = Vec::new();
    let mut prev: Option<&ConfigRow> = None;
    for c in configs {
        let changed = prev.is_none_or(|p| {
            (
                p.scale_out,
                p.task_slots,
                p.memory_mb,
                p.checkpoint_interval_ms,
            ) != (
                c.scale_out,
                c.task_slots,
                c.memory_mb,
                c.checkpoint_interval_ms,
            ) || p.cpu.to_bits() != c.cpu.to_bits()
        });
        if changed && c.timestamp > axis.origin_s && axis.contains(c.timestamp) {
            out.push(c.timestamp);
        }
        prev = Some(c);
    }
    out
}

/// Thin vertical markers: failure injections (solid red) and configuration changes (dashed
/// green), each with one legend entry giving the count, if there are any in the window.
pub(crate) fn draw_event_markers<Y>(
    chart: &mut TimeChart<'_, '_, Y>,
    axis: &TimeAxis,
    failures_s: &[i64],
    config_changes_s: &[i64],
    y: &Range<f64>,
) -> DrawResult
where
    Y: Ranged<ValueType = f64>,
{
    let failures: Vec<f64> = failures_s
        .iter()
        .filter(|t| axis.contains(**t))
        .map(|t| axis.hours(*t))
        .collect();
    if !failures.is_empty() {
        let style = RED.mix(0.6).stroke_width(1);
        let n = failures.len();
        chart
            .draw_series(
                failures
                    .into_iter()
                    .map(|x| PathElement::new([(x, y.start), (x, y.end)], style)),
            )
            .map_err(step("drawing failure markers"))?
            .label(format!("failure injection ({n})"))
            .legend(move |(x, y)| PathElement::new([(x + 10, y - 7), (x + 10, y + 7)], style));
    }
    let changes: Vec<f64> = config_changes_s.iter().map(|t| axis.hours(*t)).collect();
    if !changes.is_empty() {
        let style = GREEN.mix(0.8).stroke_width(1);
        let n = changes.len();
        chart
            .draw_series(
                changes
                    .into_iter()
                    .map(|x| DashedPathElement::new([(x, y.start), (x, y.end)], 6, 4, style)),
            )
            .map_err(step("drawing configuration-change markers"))?
            .label(format!("configuration change ({n})"))
            .legend(move |(x, y)| {
                DashedPathElement::new([(x + 10, y - 7), (x + 10, y + 7)], 3, 2, style)
            });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_formats() {
        assert_eq!(fmt_si(0.0), "0");
        assert_eq!(fmt_si(950.0), "950");
        assert_eq!(fmt_si(25_000.0), "25k");
        assert_eq!(fmt_si(1_500_000.0), "1.5M");
        assert_eq!(fmt_si(-2_000.0), "-2k");
        assert_eq!(fmt_si(f64::NAN), "NaN");
        assert_eq!(fmt_ms(250.0), "250 ms");
        assert_eq!(fmt_ms(1500.0), "1.5 s");
        assert_eq!(fmt_ms(100_000.0), "100 s");
        assert_eq!(fmt_hours(2.0), "2");
        assert_eq!(fmt_hours(0.25), "0.25");
        assert_eq!(trim_decimals(-0.001, 2), "0");
    }

    #[test]
    fn ranges_are_never_empty() {
        let empty: Vec<Vec<Bucket>> = Vec::new();
        assert_eq!(linear_y_range(&[&empty], &[], 0.0), 0.0..1.0);
        assert_eq!(log_y_range(&[&empty], &[], 0.0), 1.0..10.0);
        let b = |v: f64| Bucket {
            start_s: 0,
            count: 1,
            first_s: 0,
            last_s: 0,
            min: v,
            max: v,
            mean: v,
        };
        let flat = vec![vec![b(5.0)]];
        let r = linear_y_range(&[&flat], &[], 0.5);
        assert!(r.start == 0.0 && r.end > 5.0);
        let neg = vec![vec![b(-3.0)]];
        let r = linear_y_range(&[&neg], &[], 0.0);
        assert!(r.start == -3.0 && r.end == 0.0);
        let huge = vec![vec![b(f64::MAX), b(-f64::MAX)]];
        let r = linear_y_range(&[&huge], &[], 0.3);
        assert!(r.start.is_finite() && r.end.is_finite() && r.end > r.start);
        let r = log_y_range(&[&huge], &[], 0.3);
        assert!(r.start > 0.0 && r.end.is_finite() && r.end > r.start);
        let lat = vec![vec![b(1100.0), b(100_000.0)]];
        let r = log_y_range(&[&lat], &[1500.0], 0.2);
        assert!(r.start < 1100.0 && r.end > 100_000.0);
    }

    #[test]
    fn config_changes_skip_the_initial_and_repeated_rows() {
        let row = |t: i64, scale_out: u32| ConfigRow {
            timestamp: t,
            scale_out,
            task_slots: 2,
            cpu: 1.0,
            memory_mb: 2048,
            checkpoint_interval_ms: 10_000,
        };
        let axis = TimeAxis::new(100, 1_000);
        let rows = [row(100, 4), row(200, 4), row(300, 6), row(2_000, 8)];
        assert_eq!(config_changes(&axis, &rows), [300]);
        assert!(config_changes(&axis, &[]).is_empty());
    }

    #[test]
    fn time_axis_is_never_empty() {
        let a = TimeAxis::new(10, 10);
        assert_eq!(a.end_s, 11);
        assert!(a.x_range_h().end > 0.0);
        assert_eq!(TimeAxis::new(0, 64_800).bucket_label(), "1 min");
        assert_eq!(TimeAxis::new(0, 600).bucket_label(), "1 s");
        let a = TimeAxis::new(i64::MIN, i64::MAX);
        assert!(a.x_range_h().end.is_finite());
    }
}
