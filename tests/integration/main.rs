mod summarize;
mod twin;
mod cli;
mod determinism;
mod golden;
mod regime;
