//! The `demeter-sim` binary: everything lives in the library's `cli` module.
fn main() -> std::process::ExitCode {
    demeter_sim::cli::main()
}
