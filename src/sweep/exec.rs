//! Running many independent runs on a rayon pool, results in input order.

use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;

use super::RunSpec;
use crate::scenario::SpecError;
use crate::simulate::{self, Overrides, RunResult};

/// A pool of `jobs` threads (`None`: one per core, rayon's default).
pub fn thread_pool(jobs: Option<usize>) -> Result<rayon::ThreadPool, String> {
    if jobs == Some(0) {
        return Err("--jobs: expected a number of threads >= 1, found 0".into());
    }
    let mut b = rayon::ThreadPoolBuilder::new().thread_name(|i| format!("demeter-run-{i}"));
    if let Some(n) = jobs {
        b = b.num_threads(n);
    }
    b.build()
        .map_err(|e| format!("cannot start the thread pool: {e}"))
}

/// Prepares and runs one sweep run (single-threaded, deterministic).
pub fn execute_run(spec: &RunSpec) -> Result<RunResult, SpecError> {
    let prepared = simulate::prepare(
        &spec.scenario,
        &Overrides {
            seed: Some(spec.seed),
            ..Overrides::default()
        },
    )?;
    Ok(simulate::execute(prepared, |_, _| {}))
}

/// Maps `f` over `items` in parallel on `pool` and returns the results in input order. Each
/// item runs on one thread, so the output does not depend on the number of threads. After a
/// failure the items not yet started are skipped, and the first error in input order among the
/// items that ran is returned.
pub fn run_parallel<I, T, E, F>(pool: &rayon::ThreadPool, items: &[I], f: F) -> Result<Vec<T>, E>
where
    I: Sync,
    T: Send,
    E: Send,
    F: Fn(&I) -> Result<T, E> + Sync,
{
    let failed = AtomicBool::new(false);
    let out: Vec<Option<Result<T, E>>> = pool.install(|| {
        items
            .par_iter()
            .map(|item| {
                if failed.load(Ordering::Relaxed) {
                    return None;
                }
                let r = f(item);
                if r.is_err() {
                    failed.store(true, Ordering::Relaxed);
                }
                Some(r)
            })
            .collect()
    });
    let mut results = Vec::with_capacity(out.len());
    let mut skipped = false;
    for r in out {
        match r {
            Some(Ok(t)) => results.push(t),
            Some(Err(e)) => return Err(e),
            None => skipped = true,
        }
    }
    debug_assert!(!skipped, "items are only skipped after an error");
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_input_order_and_the_first_error_wins() {
        let pool = thread_pool(Some(2)).unwrap();
        let items: Vec<u32> = (0..100).collect();
        let out: Result<Vec<u32>, String> = run_parallel(&pool, &items, |&i| Ok(i * 2));
        assert_eq!(
            out.unwrap(),
            items.iter().map(|i| i * 2).collect::<Vec<_>>()
        );
        let out: Result<Vec<u32>, String> = run_parallel(&pool, &items, |&i| {
            if i >= 10 {
                Err(format!("bad {i}"))
            } else {
                Ok(i)
            }
        });
        let e = out.unwrap_err();
        assert!(e.starts_with("bad "), "{e}");
        assert!(thread_pool(Some(0)).is_err());
    }
}
