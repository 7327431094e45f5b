//! Two series on one time axis (e.g. recorded vs simulated), as one PNG.

use std::ops::Range;
use std::path::Path;

use plotters::coord::ranged1d::{Ranged, ValueFormatter};
use plotters::prelude::{ChartBuilder, IntoLogRange};
use plotters::style::Color;

use super::downsample::Bucket;
use super::timeline::{
    draw_legend, draw_mean_line, draw_mesh, fmt_si, linear_y_range, log_y_range, TimeAxis,
    TimeChart, BLUE, CAPTION_PX, ORANGE,
};
use super::{render_png, step, DrawResult, PlotError, FONT_FAMILY};
use crate::runfolder::Series;

const OVERLAY_PX: (u32, u32) = (1_200, 500);

/// Writes `out` (a `.png`): series `a` and `b` as their bucket means (1 min for 18 h) on one
/// axis of hours since `start_epoch`, labelled with their names; gaps stay gaps. Samples before
/// `start_epoch` are not drawn; the axis ends at the last sample of either series.
///
/// The y axis is logarithmic when both series are positive and spiky (the largest bucket
/// mean is over 50 x the median, as with latency spikes), linear otherwise; the axis
/// description then says "(log scale)".
pub fn plot_overlay(
    title: &str,
    y_label: &str,
    a: (&str, &Series),
    b: (&str, &Series),
    start_epoch: i64,
    out: &Path,
) -> Result<(), PlotError> {
    let last =
        a.1.points
            .iter()
            .chain(&b.1.points)
            .map(|p| p.0)
            .max()
            .unwrap_or(start_epoch);
    let axis = TimeAxis::new(start_epoch, last.saturating_add(1));
    let segs_a = axis.downsample(a.1);
    let segs_b = axis.downsample(b.1);
    render_png(out, OVERLAY_PX, |area| {
        let builder = || {
            let mut cb = ChartBuilder::on(area);
            cb.caption(title, (FONT_FAMILY, CAPTION_PX))
                .margin(8)
                .margin_right(24)
                .x_label_area_size(44)
                .y_label_area_size(86);
            cb
        };
        let lines = Lines {
            axis: &axis,
            a: (a.0, &segs_a),
            b: (b.0, &segs_b),
        };
        if spiky(&[&segs_a, &segs_b]) {
            let y = log_y_range(&[&segs_a, &segs_b], &[], 0.3);
            let mut chart = builder()
                .build_cartesian_2d(axis.x_range_h(), y.clone().log_scale())
                .map_err(step("laying out the chart"))?;
            lines.draw(&mut chart, &format!("{y_label} (log scale)"), &y)
        } else {
            let y = linear_y_range(&[&segs_a, &segs_b], &[], 0.3);
            let mut chart = builder()
                .build_cartesian_2d(axis.x_range_h(), y.clone())
                .map_err(step("laying out the chart"))?;
            lines.draw(&mut chart, y_label, &y)
        }
    })
}

/// True when every bucket mean is positive and the largest is over 50 x the median.
fn spiky(all: &[&[Vec<Bucket>]]) -> bool {
    let mut means: Vec<f64> = all
        .iter()
        .flat_map(|s| s.iter().flatten())
        .map(|b| b.mean)
        .collect();
    if means.is_empty() || means.iter().any(|m| *m <= 0.0) {
        return false;
    }
    means.sort_by(f64::total_cmp);
    let median = means[means.len() / 2];
    means[means.len() - 1] > 50.0 * median
}

struct Lines<'a> {
    axis: &'a TimeAxis,
    a: (&'a str, &'a [Vec<Bucket>]),
    b: (&'a str, &'a [Vec<Bucket>]),
}

impl Lines<'_> {
    fn draw<'a, 'b: 'a, Y>(
        &self,
        chart: &mut TimeChart<'a, 'b, Y>,
        y_desc: &str,
        y: &Range<f64>,
    ) -> DrawResult
    where
        Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
    {
        draw_mesh(chart, y_desc, &|v| fmt_si(*v))?;
        let bucket = self.axis.bucket_label();
        for ((name, segs), color) in [(self.a, BLUE), (self.b, ORANGE)] {
            draw_mean_line(
                chart,
                self.axis,
                segs,
                y,
                color.stroke_width(2),
                Some(format!("{name} ({bucket} mean)")),
            )?;
        }
        draw_legend(chart)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::png_size;
    use super::*;

    fn s(points: Vec<(i64, f64)>) -> Series {
        Series { points }
    }

    #[test]
    fn overlay_writes_a_deterministic_png() {
        let dir = tempfile::tempdir().unwrap();
        let rec = s((0..7_200)
            .map(|t| (1_000 + t, 1_100.0 + (t % 97) as f64))
            .collect());
        let sim = s((0..7_200)
            .filter(|t| !(3_000..3_300).contains(t))
            .map(|t| (1_000 + t, if t % 2_000 < 100 { 90_000.0 } else { 1_150.0 }))
            .collect());
        let p1 = dir.path().join("a.png");
        let p2 = dir.path().join("b.PNG");
        plot_overlay(
            "latency",
            "latency (ms)",
            ("recorded", &rec),
            ("simulated", &sim),
            1_000,
            &p1,
        )
        .unwrap();
        plot_overlay(
            "latency",
            "latency (ms)",
            ("recorded", &rec),
            ("simulated", &sim),
            1_000,
            &p2,
        )
        .unwrap();
        assert_eq!(png_size(&p1), OVERLAY_PX);
        assert_eq!(std::fs::read(&p1).unwrap(), std::fs::read(&p2).unwrap());
    }

    #[test]
    fn overlay_of_degenerate_series() {
        let dir = tempfile::tempdir().unwrap();
        let empty = Series::default();
        let nan = s(vec![(5, f64::NAN), (6, f64::NAN)]);
        let one = s(vec![(5, 3.0)]);
        let cases = [(&empty, &empty), (&nan, &one), (&one, &one), (&empty, &nan)];
        for (i, (a, b)) in cases.into_iter().enumerate() {
            let out = dir.path().join(format!("{i}.png"));
            plot_overlay("", "", ("", a), ("b", b), 0, &out).unwrap();
            png_size(&out);
        }
    }

    #[test]
    fn spikiness_picks_the_scale() {
        let b = |mean: f64| Bucket {
            start_s: 0,
            count: 1,
            first_s: 0,
            last_s: 0,
            min: mean,
            max: mean,
            mean,
        };
        let normal = vec![vec![b(1.0), b(1.1), b(1.2)]];
        let spiky_one = vec![vec![b(1.0), b(1.1), b(100.0)]];
        let with_zero = vec![vec![b(0.0), b(1.1), b(100.0)]];
        assert!(!spiky(&[&normal]));
        assert!(spiky(&[&spiky_one]));
        assert!(!spiky(&[&with_zero]));
        assert!(!spiky(&[]));
    }
}
