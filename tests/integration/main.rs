mod summarize;
mod twin;
mod cli;
mod determinism;
