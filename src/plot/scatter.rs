//! Recorded-vs-simulated scatter (one point per item, coloured by group, with the y = x line),
//! as one PNG: e.g. every profiling run's recovery, recorded against the twin's.

use std::path::Path;

use plotters::prelude::{ChartBuilder, Circle, PathElement, SeriesLabelPosition, BLACK, WHITE};
use plotters::style::{Color, RGBColor};

use super::timeline::{
    fmt_si, house_mesh, BLUE, BROWN, CAPTION_PX, DARK_GRAY, GREEN, LABEL_PX, ORANGE, PURPLE, RED,
};
use super::{render_png, step, PlotError, FONT_FAMILY};

const PALETTE: [RGBColor; 6] = [BLUE, ORANGE, GREEN, RED, PURPLE, BROWN];
const SCATTER_PX: (u32, u32) = (700, 640);

/// One group of points `(recorded, simulated)` with its legend label.
pub struct ScatterGroup {
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

/// Writes `out` (a `.png`): every group's points, x = recorded and y = simulated, on equal
/// axes from 0 to the largest finite value (+5 %), with the y = x diagonal and a legend. Points
/// with a non-finite coordinate are left out; no points gives the empty axes.
pub fn plot_scatter(
    title: &str,
    axis_label: &str,
    groups: &[ScatterGroup],
    out: &Path,
) -> Result<(), PlotError> {
    let finite = |p: &&(f64, f64)| p.0.is_finite() && p.1.is_finite();
    let top = groups
        .iter()
        .flat_map(|g| g.points.iter().filter(finite))
        .flat_map(|&(a, b)| [a, b])
        .fold(0.0f64, f64::max);
    let top = if top > 0.0 { top * 1.05 } else { 1.0 };
    render_png(out, SCATTER_PX, |area| {
        let mut chart = ChartBuilder::on(area)
            .caption(title, (FONT_FAMILY, CAPTION_PX))
            .margin(12)
            .margin_right(24)
            .x_label_area_size(44)
            .y_label_area_size(76)
            .build_cartesian_2d(0.0..top, 0.0..top)
            .map_err(step("laying out the chart"))?;
        house_mesh(
            chart
                .configure_mesh()
                .x_labels(8)
                .y_labels(8)
                .x_label_formatter(&|v| fmt_si(*v))
                .y_label_formatter(&|v| fmt_si(*v))
                .x_desc(format!("recorded {axis_label}"))
                .y_desc(format!("simulated {axis_label}")),
        )
        .draw()
        .map_err(step("drawing the axes"))?;
        chart
            .draw_series(std::iter::once(PathElement::new(
                [(0.0, 0.0), (top, top)],
                DARK_GRAY.mix(0.6).stroke_width(1),
            )))
            .map_err(step("drawing the diagonal"))?
            .label("simulated = recorded")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], DARK_GRAY.stroke_width(1)));
        for (i, g) in groups.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            chart
                .draw_series(
                    g.points
                        .iter()
                        .filter(finite)
                        .map(|&(a, b)| Circle::new((a, b), 4, color.mix(0.75).filled())),
                )
                .map_err(step("drawing the points"))?
                .label(format!(
                    "{} ({})",
                    g.label,
                    g.points.iter().filter(finite).count()
                ))
                .legend(move |(x, y)| Circle::new((x + 9, y), 4, color.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.4))
            .label_font((FONT_FAMILY, LABEL_PX))
            .draw()
            .map_err(step("drawing the legend"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::test_util::png_size;

    #[test]
    fn writes_a_png_and_is_deterministic() {
        let dir = tempfile::tempdir().unwrap();
        let groups = vec![
            ScatterGroup {
                label: "10-s checkpoints".into(),
                points: vec![(88.0, 125.0), (91.0, 95.0), (360.0, 360.0)],
            },
            ScatterGroup {
                label: "90-s checkpoints".into(),
                points: vec![(155.0, 184.0), (f64::NAN, 3.0)],
            },
        ];
        let a = dir.path().join("a.png");
        let b = dir.path().join("b.png");
        plot_scatter("profiles", "recovery (s)", &groups, &a).unwrap();
        plot_scatter("profiles", "recovery (s)", &groups, &b).unwrap();
        assert_eq!(png_size(&a), SCATTER_PX);
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        // No points: the empty axes.
        plot_scatter("none", "x", &[], &dir.path().join("c.png")).unwrap();
        // A wrong extension names the file.
        let e = plot_scatter("x", "x", &groups, &dir.path().join("d.svg")).unwrap_err();
        assert!(e.to_string().contains("d.svg"), "{e}");
    }
}
