//! `WorkloadError`: every way building an offered load can fail, with messages that name
//! the file, the line, the field and what was expected.

use std::path::PathBuf;

/// An error while reading, fitting or materialising a workload. Never a panic.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    /// The file could not be read (missing, unreadable, not UTF-8). `path` is the resolved path.
    #[error("cannot read workload file \"{}\": {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// One field of one line of a `timestamp|value` trace is wrong.
    #[error("\"{}\" line {line}: {field} \"{found}\" {problem} (expected {expected})", path.display())]
    Parse {
        path: PathBuf,
        /// 1-based line number in the file.
        line: usize,
        /// `header`, `timestamp`, `value` or `line`.
        field: &'static str,
        /// The offending text as found (truncated to 40 characters).
        found: String,
        /// What is wrong with it, e.g. `is not a number`.
        problem: String,
        /// What was expected, e.g. `records per second >= 0`.
        expected: String,
    },

    /// The trace holds fewer seconds than the run needs and `repeat` is off.
    #[error(
        "\"{}\": the trace has {available_s} s of data from offset_s = {offset_s} but the run needs {needed_s} s (expected a longer trace, a smaller offset_s, or repeat = true to wrap around)",
        path.display()
    )]
    TooShort {
        path: PathBuf,
        available_s: u64,
        offset_s: u64,
        needed_s: u64,
    },

    /// A parameter (of a `[workload]` table, of a model file, or of a fit) is out of range.
    #[error("{context}: {key} = {found} is invalid (expected {expected})")]
    Invalid {
        /// Where the parameter lives, e.g. `[workload] kind = "sine"` or `"ads.toml"`.
        context: String,
        key: String,
        found: String,
        expected: String,
    },

    /// A model file is not valid TOML of the expected shape (the toml message names the key).
    #[error("\"{}\": not a valid workload model: {message}", path.display())]
    Model { path: PathBuf, message: String },
}

impl WorkloadError {
    pub(crate) fn invalid(
        context: impl Into<String>,
        key: impl Into<String>,
        found: impl std::fmt::Display,
        expected: impl Into<String>,
    ) -> Self {
        WorkloadError::Invalid {
            context: context.into(),
            key: key.into(),
            found: found.to_string(),
            expected: expected.into(),
        }
    }
}
