//! Helpers the test modules share: the repository root and running the binary from it.

use std::path::PathBuf;
use std::process::{Command, Output};

/// The repository root (where `scenarios/`, `models/` and `traces/` are).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `demeter-sim` binary.
fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_demeter-sim"))
}

/// Runs the binary with `args` from the repository root.
pub fn run(args: &[&str]) -> Output {
    bin().args(args).current_dir(root()).output().unwrap()
}

/// Its standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// A shipped scenario's text with its `../models/` paths made absolute, to be edited and
/// written anywhere (e.g. a temporary directory).
pub fn scenario_text(name: &str) -> String {
    let root = root();
    std::fs::read_to_string(root.join("scenarios").join(name))
        .unwrap()
        .replace("../models/", &format!("{}/models/", root.display()))
}
