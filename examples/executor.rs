//! `concurrent.futures.ProcessPoolExecutor`: `submit` + `as_completed`, and `map`.
//!
//! ```text
//! cargo run --example executor
//! ```
//!
//! One of the calls aborts its worker process (SIGABRT). Only that future fails; in Python
//! every pending future would fail with `BrokenProcessPool`.

use std::time::Duration;
use supervisor_mp::{ProcessPoolExecutor, as_completed, task};

/// The input that makes `work` abort its process.
const CRASH: u64 = 13;

task!(
    /// (x, x²), after a short nap; aborts the whole process for x = 13.
    fn work(x: u64) -> (u64, u64) {
        if x == CRASH {
            std::process::abort();
        }
        std::thread::sleep(Duration::from_millis(50 * (x % 4)));
        (x, x * x)
    }
);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    supervisor_mp::init();
    // with ProcessPoolExecutor(max_workers=3) as executor:
    let executor = ProcessPoolExecutor::new(3)?;
    println!("max_workers: {}", executor.max_workers());

    let inputs = [1u64, 2, 3, CRASH, 4, 5];
    // futures = [executor.submit(work, x) for x in inputs]
    let futures = inputs
        .iter()
        .map(|&x| executor.submit(work, x))
        .collect::<Result<Vec<_>, _>>()?;

    // for future in as_completed(futures): ... (completion order varies from run to run)
    let mut failed = 0;
    for future in as_completed(futures.iter().cloned()) {
        match future.result() {
            Ok((x, y)) => println!("completed: work({x}) = {y}"),
            Err(e) => {
                failed += 1;
                println!("completed: a call failed: {e}");
            }
        }
    }

    // The same futures in submission order.
    for (x, future) in inputs.iter().zip(&futures) {
        match future.result() {
            Ok((_, y)) => println!("future work({x}): ok {y}"),
            Err(e) => println!("future work({x}): failed: {e}"),
        }
    }
    println!("failed futures: {failed} of {}", futures.len());

    // executor.map(work, [6, 7, 8]): the executor still works after the crash.
    let mapped = executor.map(work, [6, 7, 8])?;
    let squares: Vec<String> = mapped
        .iter()
        .map(|r| match r {
            Ok((_, y)) => y.to_string(),
            Err(e) => format!("<{e}>"),
        })
        .collect();
    println!("map(work, [6, 7, 8]): {}", squares.join(" "));

    // Leaving Python's `with` block.
    executor.shutdown(true, false);
    println!("shut down");
    Ok(())
}
