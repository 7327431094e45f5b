//! PNG charts (plotters, bitmap backend) of runs, run-vs-run overlays and policy comparisons.
//!
//! Public entry points: [`plot_run`] (one run folder's six series as four charts plus a stacked
//! overview), [`plot_overlay`] (two series on one time axis, e.g. recorded vs simulated) and
//! [`plot_comparison`] (one metric per policy as bars with error bars), [`plot_scatter`]
//! (recorded against simulated, one point per item). [`downsample`] is the pure
//! bucketing the time charts use.
//!
//! Text uses an embedded DejaVu Sans (see `DejaVuSans.LICENSE`), registered once with plotters'
//! `ab_glyph` font table under the family name `sans-serif`, so no system font is needed.
//! Every chart is drawn into memory first and written only when drawing succeeded; the same
//! input gives a byte-identical PNG.

mod comparison;
pub mod downsample;
mod overlay;
mod run;
mod scatter;
mod timeline;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::backend::DrawingBackend;
use plotters::coord::Shift;
use plotters::prelude::{BitMapBackend, DrawingArea, IntoDrawingArea, WHITE};
use plotters::style::{register_font, FontStyle};

pub use comparison::plot_comparison;
pub use downsample::{choose_bucket_s, downsample, Bucket};
pub use overlay::plot_overlay;
pub use run::{plot_run, RUN_PLOT_FILES};
pub use scatter::{plot_scatter, ScatterGroup};

/// Why a chart could not be written. Every variant names the output file.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("{}: cannot create the output directory: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {what}", path.display())]
    Draw { path: PathBuf, what: String },
}

impl PlotError {
    /// The output file (or directory) the error is about.
    pub fn path(&self) -> &Path {
        match self {
            PlotError::CreateDir { path, .. } | PlotError::Draw { path, .. } => path,
        }
    }
}

/// The embedded regular face of DejaVu Sans 2.37 (licence in `DejaVuSans.LICENSE`).
static DEJAVU_SANS_TTF: &[u8] = include_bytes!("DejaVuSans.ttf");

/// Family name every chart uses; the embedded font is registered under it.
const FONT_FAMILY: &str = "sans-serif";

/// Registers the embedded font once per process; `false` if ab_glyph rejected it.
fn font_registered() -> bool {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    *REGISTERED
        .get_or_init(|| register_font(FONT_FAMILY, FontStyle::Normal, DEJAVU_SANS_TTF).is_ok())
}

/// In-memory drawing area the chart code draws on.
type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// Internal drawing result: the error is a sentence saying which step failed.
type DrawResult<T = ()> = Result<T, String>;

/// Maps a plotters error to "`what`: error".
fn step<E: std::fmt::Display>(what: &'static str) -> impl FnOnce(E) -> String {
    move |e| format!("{what}: {e}")
}

/// Draws a `width_px` x `height_px` chart with `draw` into memory and writes it to `path` as a
/// PNG. Nothing is written if drawing fails.
fn render_png(
    path: &Path,
    (width_px, height_px): (u32, u32),
    draw: impl FnOnce(&Area<'_>) -> DrawResult,
) -> Result<(), PlotError> {
    let fail = |what: String| PlotError::Draw {
        path: path.to_path_buf(),
        what,
    };
    let is_png = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"));
    if !is_png {
        return Err(fail("the output file name must end in .png".into()));
    }
    if !font_registered() {
        return Err(fail(
            "the embedded DejaVu Sans font could not be registered".into(),
        ));
    }
    let mut rgb = vec![0u8; width_px as usize * height_px as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width_px, height_px)).into_drawing_area();
        root.fill(&WHITE)
            .map_err(step("filling the background"))
            .map_err(fail)?;
        draw(&root).map_err(fail)?;
        root.present()
            .map_err(step("finishing the drawing"))
            .map_err(fail)?;
    }
    let mut file = BitMapBackend::new(path, (width_px, height_px));
    file.blit_bitmap((0, 0), (width_px, height_px), &rgb)
        .map_err(step("copying the image"))
        .map_err(fail)?;
    file.present()
        .map_err(step("writing the PNG file"))
        .map_err(fail)
}

#[cfg(test)]
mod test_util {
    use std::path::Path;

    /// Checks the PNG signature and returns the IHDR (width, height).
    pub fn png_size(path: &Path) -> (u32, u32) {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(bytes.len() > 33, "{}: too short for a PNG", path.display());
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}", path.display());
        assert_eq!(&bytes[12..16], b"IHDR", "{}", path.display());
        let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
        let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
        (w, h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_font_registers() {
        assert!(font_registered());
        assert!(font_registered());
    }

    #[test]
    fn rejects_non_png_names_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("chart.jpg");
        let err = render_png(&out, (10, 10), |_| Ok(())).unwrap_err();
        assert_eq!(err.path(), out);
        assert!(err.to_string().contains("chart.jpg"), "{err}");
        assert!(!out.exists());
    }

    #[test]
    fn failed_drawing_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("chart.png");
        let err = render_png(&out, (10, 10), |_| Err("boom".into())).unwrap_err();
        assert_eq!(err.to_string(), format!("{}: boom", out.display()));
        assert!(!out.exists());
    }

    #[test]
    fn missing_directory_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("no/such/dir/chart.png");
        let err = render_png(&out, (10, 10), |_| Ok(())).unwrap_err();
        assert_eq!(err.path(), out);
    }
}
