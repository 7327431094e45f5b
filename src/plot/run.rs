//! The charts of one run: workload vs throughput, consumer lag, latency (log scale, SLO line),
//! TaskManagers and slots, as four PNGs plus a stacked overview of the four.

use std::path::{Path, PathBuf};

use plotters::coord::ranged1d::{Ranged, ValueFormatter};
use plotters::prelude::{ChartBuilder, IntoLogRange};
use plotters::style::Color;

use super::downsample::Bucket;
use super::timeline::{
    config_changes, draw_band, draw_event_markers, draw_legend, draw_mean_line, draw_mesh,
    draw_reference_line, fmt_ms, fmt_si, linear_y_range, log_y_range, TimeAxis, TimeChart, BLUE,
    BROWN, CAPTION_PX, DARK_GRAY, ORANGE, PURPLE, RED,
};
use super::{render_png, step, Area, DrawResult, PlotError, FONT_FAMILY};
use crate::runfolder::{RunData, Series};

/// The files [`plot_run`] writes into its output directory, in the order it returns them.
pub const RUN_PLOT_FILES: [&str; 5] = [
    "workload_throughput.png",
    "lag.png",
    "latency.png",
    "task_managers.png",
    "overview.png",
];

/// The latency service-level objective the experiments used, in milliseconds.
const LATENCY_SLO_MS: f64 = 1_500.0;

/// Size of one chart, and of one panel of the overview.
const CHART_PX: (u32, u32) = (1_200, 450);
/// Height of the overview title strip.
const OVERVIEW_TITLE_PX: u32 = 40;

/// Fraction of the y span left free above the data for the legend.
const HEADROOM: f64 = 0.45;

/// Writes the charts of one run into `out_dir` (created if missing) and returns their paths,
/// in the order of [`RUN_PLOT_FILES`]:
/// - `workload_throughput.png`: offered workload (`workload_rps`, if given) and measured
///   throughput, records/s;
/// - `lag.png`: Kafka consumer lag, records;
/// - `latency.png`: latency on a log scale (normal ~1.1 s and 100-s spikes both stay readable)
///   with the 1.5-s SLO as a dashed line;
/// - `task_managers.png`: registered TaskManagers and total task slots;
/// - `overview.png`: the four stacked on one time axis.
///
/// The x axis is hours since `run.start_epoch`, over `run.window_s` seconds (or up to the last
/// sample when `window_s` is 0). Series are downsampled to about one bucket per pixel column
/// (1 min for 18 h) and drawn as a min-max band plus the bucket mean; a bucket without samples
/// is a gap. Failure injections are solid red vertical lines, configuration changes dashed
/// green ones. Empty, NaN-only or constant series give an empty or flat chart, not an error.
pub fn plot_run(
    run: &RunData,
    workload_rps: Option<&Series>,
    out_dir: &Path,
) -> Result<Vec<PathBuf>, PlotError> {
    std::fs::create_dir_all(out_dir).map_err(|source| PlotError::CreateDir {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let p = Prepared::new(run, workload_rps);
    let panels: [Panel; 4] = [
        workload_panel,
        lag_panel,
        latency_panel,
        task_managers_panel,
    ];
    let mut written = Vec::with_capacity(RUN_PLOT_FILES.len());
    for (file, panel) in RUN_PLOT_FILES.iter().zip(panels) {
        let path = out_dir.join(file);
        render_png(&path, CHART_PX, |area| panel(area, &p))?;
        written.push(path);
    }
    let path = out_dir.join(RUN_PLOT_FILES[4]);
    let size = (CHART_PX.0, OVERVIEW_TITLE_PX + 4 * CHART_PX.1);
    render_png(&path, size, |root| {
        let (title, body) = root.split_vertically(OVERVIEW_TITLE_PX);
        title
            .titled(&format!("{}: overview", p.name), (FONT_FAMILY, 24))
            .map_err(step("drawing the title"))?;
        for (area, panel) in body.split_evenly((4, 1)).iter().zip(panels) {
            panel(area, &p)?;
        }
        Ok(())
    })?;
    written.push(path);
    Ok(written)
}

type Panel = fn(&Area<'_>, &Prepared) -> DrawResult;

/// A run, downsampled once for all charts.
struct Prepared {
    name: String,
    axis: TimeAxis,
    failures: Vec<i64>,
    config_changes: Vec<i64>,
    workload: Option<Vec<Vec<Bucket>>>,
    throughput: Vec<Vec<Bucket>>,
    lag: Vec<Vec<Bucket>>,
    latency: Vec<Vec<Bucket>>,
    task_managers: Vec<Vec<Bucket>>,
    task_slots: Vec<Vec<Bucket>>,
}

impl Prepared {
    fn new(run: &RunData, workload: Option<&Series>) -> Self {
        let origin = run.start_epoch;
        let end = if run.window_s > 0 {
            origin.saturating_add(run.window_s)
        } else {
            // Unknown window: up to the last sample of any series.
            [
                &run.latency_ms,
                &run.throughput_rps,
                &run.consumer_lag,
                &run.task_managers,
                &run.task_slots,
            ]
            .iter()
            .filter_map(|s| s.points.iter().map(|p| p.0).max())
            .max()
            .map_or(origin.saturating_add(3600), |t| t.saturating_add(1))
        };
        let axis = TimeAxis::new(origin, end);
        Prepared {
            name: if run.name.is_empty() {
                "run".into()
            } else {
                run.name.clone()
            },
            axis,
            failures: run.failures.clone(),
            config_changes: config_changes(&axis, &run.configs),
            workload: workload.map(|w| axis.downsample(w)),
            throughput: axis.downsample(&run.throughput_rps),
            lag: axis.downsample(&run.consumer_lag),
            latency: axis.downsample(&run.latency_ms),
            task_managers: axis.downsample(&run.task_managers),
            task_slots: axis.downsample(&run.task_slots),
        }
    }

    fn markers<Y: Ranged<ValueType = f64>>(
        &self,
        chart: &mut TimeChart<'_, '_, Y>,
        y: &std::ops::Range<f64>,
    ) -> DrawResult {
        draw_event_markers(chart, &self.axis, &self.failures, &self.config_changes, y)
    }
}

/// The chart frame shared by all panels.
fn builder<'a, 'b>(
    area: &'a Area<'b>,
    caption: &str,
) -> ChartBuilder<'a, 'b, plotters::prelude::BitMapBackend<'b>> {
    let mut b = ChartBuilder::on(area);
    b.caption(caption, (FONT_FAMILY, CAPTION_PX))
        .margin(8)
        .margin_right(24)
        .x_label_area_size(44)
        .y_label_area_size(86);
    b
}

fn finish<'a, 'b: 'a, Y>(chart: &mut TimeChart<'a, 'b, Y>) -> DrawResult
where
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    draw_legend(chart)
}

fn workload_panel(area: &Area<'_>, p: &Prepared) -> DrawResult {
    let empty = Vec::new();
    let workload = p.workload.as_ref().unwrap_or(&empty);
    let y = linear_y_range(&[&p.throughput, workload], &[], HEADROOM);
    let caption = if p.workload.is_some() {
        format!("{}: offered workload vs measured throughput", p.name)
    } else {
        format!("{}: measured throughput", p.name)
    };
    let mut chart = builder(area, &caption)
        .build_cartesian_2d(p.axis.x_range_h(), y.clone())
        .map_err(step("laying out the chart"))?;
    draw_mesh(&mut chart, "records/s", &|v| fmt_si(*v))?;
    p.markers(&mut chart, &y)?;
    let bucket = p.axis.bucket_label();
    draw_band(
        &mut chart,
        &p.axis,
        &p.throughput,
        &y,
        BLUE,
        Some(format!("throughput min–max per {bucket}")),
    )?;
    if let Some(w) = &p.workload {
        draw_mean_line(
            &mut chart,
            &p.axis,
            w,
            &y,
            DARK_GRAY.stroke_width(2),
            Some(format!("offered workload ({bucket} mean)")),
        )?;
    }
    draw_mean_line(
        &mut chart,
        &p.axis,
        &p.throughput,
        &y,
        BLUE.stroke_width(1),
        Some(format!("measured throughput ({bucket} mean)")),
    )?;
    finish(&mut chart)
}

fn lag_panel(area: &Area<'_>, p: &Prepared) -> DrawResult {
    let y = linear_y_range(&[&p.lag], &[], HEADROOM);
    let mut chart = builder(area, &format!("{}: consumer lag", p.name))
        .build_cartesian_2d(p.axis.x_range_h(), y.clone())
        .map_err(step("laying out the chart"))?;
    draw_mesh(&mut chart, "consumer lag (records)", &|v| fmt_si(*v))?;
    p.markers(&mut chart, &y)?;
    let bucket = p.axis.bucket_label();
    draw_band(
        &mut chart,
        &p.axis,
        &p.lag,
        &y,
        PURPLE,
        Some(format!("lag min–max per {bucket}")),
    )?;
    draw_mean_line(
        &mut chart,
        &p.axis,
        &p.lag,
        &y,
        PURPLE.stroke_width(1),
        Some(format!("consumer lag ({bucket} mean)")),
    )?;
    finish(&mut chart)
}

fn latency_panel(area: &Area<'_>, p: &Prepared) -> DrawResult {
    // Log scale: values <= 0 are drawn at the bottom edge.
    let y = log_y_range(&[&p.latency], &[LATENCY_SLO_MS], 0.35);
    let mut chart = builder(area, &format!("{}: latency", p.name))
        .build_cartesian_2d(p.axis.x_range_h(), y.clone().log_scale())
        .map_err(step("laying out the chart"))?;
    draw_mesh(&mut chart, "latency (log scale)", &|v| fmt_ms(*v))?;
    p.markers(&mut chart, &y)?;
    let bucket = p.axis.bucket_label();
    draw_band(
        &mut chart,
        &p.axis,
        &p.latency,
        &y,
        ORANGE,
        Some(format!("latency min–max per {bucket}")),
    )?;
    draw_mean_line(
        &mut chart,
        &p.axis,
        &p.latency,
        &y,
        BROWN.stroke_width(1),
        Some(format!("latency ({bucket} mean)")),
    )?;
    draw_reference_line(
        &mut chart,
        &p.axis,
        LATENCY_SLO_MS,
        RED,
        format!("SLO {}", fmt_ms(LATENCY_SLO_MS)),
    )?;
    finish(&mut chart)
}

fn task_managers_panel(area: &Area<'_>, p: &Prepared) -> DrawResult {
    let y = linear_y_range(&[&p.task_managers, &p.task_slots], &[], HEADROOM);
    let mut chart = builder(area, &format!("{}: TaskManagers and task slots", p.name))
        .build_cartesian_2d(p.axis.x_range_h(), y.clone())
        .map_err(step("laying out the chart"))?;
    draw_mesh(&mut chart, "count", &|v| fmt_si(*v))?;
    p.markers(&mut chart, &y)?;
    let bucket = p.axis.bucket_label();
    for (segs, color, what) in [
        (&p.task_slots, ORANGE, "task slots"),
        (&p.task_managers, BLUE, "TaskManagers"),
    ] {
        draw_band(&mut chart, &p.axis, segs, &y, color, None)?;
        draw_mean_line(
            &mut chart,
            &p.axis,
            segs,
            &y,
            color.stroke_width(2),
            Some(format!("{what} ({bucket} mean)")),
        )?;
    }
    finish(&mut chart)
}

#[cfg(test)]
mod tests {
    use super::super::test_util::png_size;
    use super::*;
    use crate::runfolder::ConfigRow;

    const START: i64 = 1_700_000_000;

    fn series(f: impl Fn(i64) -> Option<f64>, len_s: i64) -> Series {
        Series {
            points: (0..len_s)
                .filter_map(|s| f(s).map(|v| (START + s, v)))
                .collect(),
        }
    }

    /// An 18-h run with a daily-ish workload, failures every 45 min with 60-s gaps,
    /// latency spikes to 100 s and two configuration changes.
    pub(super) fn synthetic_run() -> (RunData, Series) {
        let len = 64_800;
        let failures: Vec<i64> = (1..=23).map(|i| START + i * 2_700 - 5).collect();
        let down = |s: i64| {
            failures
                .iter()
                .any(|f| (f - START..f - START + 60).contains(&s))
        };
        let wave =
            |s: i64| 60_000.0 + 30_000.0 * ((s as f64) / 64_800.0 * std::f64::consts::TAU).sin();
        let noise = |s: i64| ((s * 7_919) % 1_000) as f64 / 1_000.0 - 0.5;
        let since_fail = |s: i64| {
            failures
                .iter()
                .map(|f| s - (f - START))
                .filter(|d| *d >= 0)
                .min()
                .unwrap_or(i64::MAX)
        };
        let run = RunData {
            profiling: vec![],
            name: "demeter".into(),
            scheduled_failures: None,
            start_epoch: START,
            window_s: len,
            latency_ms: series(
                |s| {
                    (!down(s)).then(|| {
                        let d = since_fail(s);
                        if d < 400 {
                            100_000.0 * (1.0 - d as f64 / 400.0) + 1_100.0
                        } else {
                            1_100.0 + 200.0 * noise(s)
                        }
                    })
                },
                len,
            ),
            throughput_rps: series(
                |s| (!down(s)).then(|| wave(s) * (1.0 + 0.1 * noise(s))),
                len,
            ),
            consumer_lag: series(
                |s| {
                    (!down(s)).then(|| {
                        let d = since_fail(s);
                        if d < 400 {
                            3_000_000.0 * (1.0 - d as f64 / 400.0)
                        } else {
                            5_000.0 + 5_000.0 * noise(s)
                        }
                    })
                },
                len,
            ),
            cpu_load: Series::default(),
            task_managers: series(
                |s| (!down(s)).then_some(if s < 30_000 { 12.0 } else { 24.0 }),
                len,
            ),
            task_slots: series(
                |s| (!down(s)).then_some(if s < 30_000 { 24.0 } else { 72.0 }),
                len,
            ),
            failures,
            configs: vec![
                ConfigRow {
                    timestamp: START,
                    scale_out: 12,
                    task_slots: 2,
                    cpu: 1.0,
                    memory_mb: 4_096,
                    checkpoint_interval_ms: 10_000,
                },
                ConfigRow {
                    timestamp: START + 30_000,
                    scale_out: 24,
                    task_slots: 3,
                    cpu: 2.0,
                    memory_mb: 4_096,
                    checkpoint_interval_ms: 10_000,
                },
            ],
        };
        let workload = series(|s| Some(wave(s)), len);
        (run, workload)
    }

    #[test]
    fn writes_five_valid_pngs() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("plots");
        let (run, workload) = synthetic_run();
        let files = plot_run(&run, Some(&workload), &out).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap())
            .collect();
        assert_eq!(names, RUN_PLOT_FILES);
        for f in &files[..4] {
            assert_eq!(png_size(f), CHART_PX);
        }
        assert_eq!(png_size(&files[4]), (1_200, 40 + 4 * 450));
    }

    #[test]
    fn same_input_gives_identical_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let (run, workload) = synthetic_run();
        let a = plot_run(&run, Some(&workload), &dir.path().join("a")).unwrap();
        let b = plot_run(&run, Some(&workload), &dir.path().join("b")).unwrap();
        for (a, b) in a.iter().zip(&b) {
            assert_eq!(
                std::fs::read(a).unwrap(),
                std::fs::read(b).unwrap(),
                "{a:?}"
            );
        }
    }

    #[test]
    fn degenerate_runs_still_plot() {
        let dir = tempfile::tempdir().unwrap();
        let one = Series {
            points: vec![(START + 10, 5.0)],
        };
        let nan = Series {
            points: (0..100).map(|s| (START + s, f64::NAN)).collect(),
        };
        let flat = Series {
            points: (0..100).map(|s| (START + s, 0.0)).collect(),
        };
        let negative = Series {
            points: (0..100).map(|s| (START + s, -1e308)).collect(),
        };
        let runs = [
            RunData::default(),
            RunData {
                name: "one-point".into(),
                start_epoch: START,
                latency_ms: one.clone(),
                throughput_rps: one.clone(),
                consumer_lag: one.clone(),
                task_managers: one.clone(),
                task_slots: one,
                failures: vec![START - 5, START + 5, i64::MAX],
                ..RunData::default()
            },
            RunData {
                name: "odd".into(),
                start_epoch: START,
                window_s: 100,
                latency_ms: flat.clone(),
                throughput_rps: nan.clone(),
                consumer_lag: negative.clone(),
                task_managers: flat,
                task_slots: nan.clone(),
                ..RunData::default()
            },
            RunData {
                name: "extreme window".into(),
                start_epoch: i64::MIN,
                window_s: i64::MAX,
                latency_ms: negative,
                ..RunData::default()
            },
        ];
        for (i, run) in runs.iter().enumerate() {
            let out = dir.path().join(i.to_string());
            let files = plot_run(run, Some(&nan), &out).unwrap();
            assert_eq!(files.len(), 5);
            for f in &files {
                png_size(f);
            }
        }
    }

    #[test]
    fn unwritable_directory_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, b"x").unwrap();
        let out = blocker.join("plots");
        let err = plot_run(&RunData::default(), None, &out).unwrap_err();
        assert_eq!(err.path(), out);
    }
}
