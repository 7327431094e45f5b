//! Bar chart of one metric per policy (mean as the bar, spread as an error bar), as one PNG.

use std::ops::Range;
use std::path::Path;

use plotters::prelude::{
    ChartBuilder, EmptyElement, IntoSegmentedCoord, PathElement, Rectangle, SegmentValue, Text,
    BLACK,
};
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{Color, IntoTextStyle, RGBColor};

use super::timeline::{
    fmt_si, house_mesh, linear_y_range, trim_decimals, BLUE, BROWN, CAPTION_PX, GREEN, LABEL_PX,
    ORANGE, PURPLE, RED,
};
use super::{render_png, step, PlotError, FONT_FAMILY};

const PALETTE: [RGBColor; 6] = [BLUE, ORANGE, GREEN, RED, PURPLE, BROWN];
const HEIGHT_PX: u32 = 550;

/// Writes `out` (a `.png`): one bar per group `(label, mean, spread)` in the given order, the
/// bar at `mean`, an error bar from `mean - spread` to `mean + spread` (e.g. a standard
/// deviation over seeds) and the value written above it. The y axis includes zero and is
/// described by `metric_label` (put the unit in it). A non-finite mean gives no bar and
/// "n/a"; a non-finite spread no error bar; a negative spread counts as its absolute value.
/// No groups gives an empty chart with the title.
pub fn plot_comparison(
    title: &str,
    metric_label: &str,
    groups: &[(String, f64, f64)],
    out: &Path,
) -> Result<(), PlotError> {
    let n = i32::try_from(groups.len()).unwrap_or(i32::MAX);
    let width_px = (200 + 130 * n.clamp(0, 20)).max(700) as u32;
    let groups = &groups[..n as usize];
    let extremes: Vec<f64> = groups
        .iter()
        .filter(|g| g.1.is_finite())
        .flat_map(|&(_, m, s)| {
            let s = if s.is_finite() { s.abs() } else { 0.0 };
            [m - s, m + s]
        })
        .collect();
    let y = linear_y_range(&[], &extremes, 0.15);
    let bars: Vec<Bar> = groups
        .iter()
        .map(|(label, mean, spread)| Bar::new(label, *mean, *spread, &y))
        .collect();

    render_png(out, (width_px, HEIGHT_PX), |area| {
        let mut chart = ChartBuilder::on(area)
            .caption(title, (FONT_FAMILY, CAPTION_PX))
            .margin(12)
            .margin_right(24)
            .x_label_area_size(40)
            .y_label_area_size(86)
            // Integer ranges are inclusive in plotters: 0..n-1 is n segments.
            .build_cartesian_2d((0..(n - 1).max(0)).into_segmented(), y.clone())
            .map_err(step("laying out the chart"))?;
        let label_of = |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(i) => usize::try_from(*i)
                .ok()
                .and_then(|i| bars.get(i))
                .map_or_else(String::new, |b| b.label.to_string()),
            _ => String::new(),
        };
        house_mesh(
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(bars.len().max(1))
                .y_labels(8)
                .x_label_formatter(&label_of)
                .y_label_formatter(&|v| fmt_si(*v))
                .y_desc(metric_label),
        )
        .draw()
        .map_err(step("drawing the axes"))?;

        let at = |i: usize| i32::try_from(i).unwrap_or(i32::MAX);
        chart
            .draw_series(bars.iter().enumerate().filter_map(|(i, bar)| {
                let top = bar.top?;
                let color = PALETTE[i % PALETTE.len()];
                let mut r = Rectangle::new(
                    [
                        (SegmentValue::Exact(at(i)), 0.0),
                        (SegmentValue::Exact(at(i) + 1), top),
                    ],
                    color.mix(0.8).filled(),
                );
                r.set_margin(0, 0, 18, 18);
                Some(r)
            }))
            .map_err(step("drawing the bars"))?;

        let whisker = BLACK.stroke_width(2);
        let whiskers: Vec<(i32, f64, f64)> = bars
            .iter()
            .enumerate()
            .filter_map(|(i, bar)| bar.whisker.map(|(lo, hi)| (at(i), lo, hi)))
            .collect();
        chart
            .draw_series(whiskers.iter().map(|&(i, lo, hi)| {
                PathElement::new(
                    [
                        (SegmentValue::CenterOf(i), lo),
                        (SegmentValue::CenterOf(i), hi),
                    ],
                    whisker,
                )
            }))
            .map_err(step("drawing the error bars"))?;
        chart
            .draw_series(whiskers.iter().flat_map(|&(i, lo, hi)| {
                [lo, hi].map(|v| {
                    EmptyElement::at((SegmentValue::CenterOf(i), v))
                        + PathElement::new([(-10, 0), (10, 0)], whisker)
                })
            }))
            .map_err(step("drawing the error bars"))?;

        let text_style = (FONT_FAMILY, LABEL_PX)
            .into_text_style(area)
            .pos(Pos::new(HPos::Center, VPos::Bottom));
        chart
            .draw_series(bars.iter().enumerate().map(|(i, bar)| {
                EmptyElement::at((SegmentValue::CenterOf(at(i)), bar.text_y))
                    + Text::new(bar.text.clone(), (0, -6), text_style.clone())
            }))
            .map_err(step("drawing the value labels"))?;
        Ok(())
    })
}

/// One group, ready to draw: every coordinate clamped into the y range (plotters' pixel
/// arithmetic overflows on values far outside it), the text from the unclamped values.
struct Bar<'a> {
    label: &'a str,
    /// Bar end (the mean), `None` for a non-finite mean.
    top: Option<f64>,
    /// Error bar ends, `None` without a finite, non-zero spread.
    whisker: Option<(f64, f64)>,
    /// Where the value text sits (above the bar or its error bar).
    text_y: f64,
    text: String,
}

impl<'a> Bar<'a> {
    fn new(label: &'a str, mean: f64, spread: f64, y: &Range<f64>) -> Self {
        let clamp = |v: f64| v.clamp(y.start, y.end);
        if !mean.is_finite() {
            return Bar {
                label,
                top: None,
                whisker: None,
                text_y: clamp(0.0),
                text: "n/a".into(),
            };
        }
        let spread = spread.abs();
        let whisker = (spread.is_finite() && spread > 0.0)
            .then(|| (clamp(mean - spread), clamp(mean + spread)));
        let text = match whisker {
            Some(_) => format!("{} ± {}", fmt_value(mean), fmt_value(spread)),
            None => fmt_value(mean),
        };
        let top = clamp(mean);
        Bar {
            label,
            top: Some(top),
            whisker,
            text_y: whisker.map_or(top, |w| w.1).max(clamp(0.0)),
            text,
        }
    }
}

/// A bar value: "25.3k", "12.5", "1.234".
fn fmt_value(v: f64) -> String {
    let a = v.abs();
    if a >= 1000.0 {
        fmt_si(v)
    } else if a >= 10.0 {
        trim_decimals(v, 1)
    } else {
        trim_decimals(v, 3)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::png_size;
    use super::*;

    fn groups(v: &[(&str, f64, f64)]) -> Vec<(String, f64, f64)> {
        v.iter().map(|(l, m, s)| (l.to_string(), *m, *s)).collect()
    }

    #[test]
    fn comparison_writes_a_deterministic_png() {
        let dir = tempfile::tempdir().unwrap();
        let g = groups(&[
            ("static", 4.2, 0.3),
            ("reactive", 3.1, 0.8),
            ("ds2", 2.5, 0.2),
            ("flink-autoscaler", 2.9, 0.4),
            ("demeter", 1.2, 0.1),
            ("lvr", 2.0, 0.0),
        ]);
        let a = dir.path().join("a.png");
        let b = dir.path().join("b.png");
        plot_comparison("SLO violations", "violation time (%)", &g, &a).unwrap();
        plot_comparison("SLO violations", "violation time (%)", &g, &b).unwrap();
        assert_eq!(png_size(&a), (980, HEIGHT_PX));
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    }

    #[test]
    fn comparison_of_degenerate_groups() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            groups(&[]),
            groups(&[("only", 0.0, 0.0)]),
            groups(&[("nan", f64::NAN, 1.0), ("inf", 1.0, f64::INFINITY)]),
            groups(&[("neg", -5.0, -2.0), ("pos", 3.0, 1.0)]),
            groups(&[("huge", f64::MAX, f64::MAX), ("tiny", -f64::MAX, 0.0)]),
        ];
        for (i, g) in cases.iter().enumerate() {
            let out = dir.path().join(format!("{i}.png"));
            plot_comparison("t", "m", g, &out).unwrap();
            png_size(&out);
        }
        let many: Vec<_> = (0..50).map(|i| (format!("p{i}"), i as f64, 1.0)).collect();
        let out = dir.path().join("many.png");
        plot_comparison("t", "m", &many, &out).unwrap();
        assert_eq!(png_size(&out).0, 2_800);
    }

    #[test]
    fn value_format() {
        assert_eq!(fmt_value(25_300.0), "25.3k");
        assert_eq!(fmt_value(12.54), "12.5");
        assert_eq!(fmt_value(1.2344), "1.234");
    }
}
