//! The `cpu` job: the seed's `cpu_bound_task`, a loop that exists to burn CPU.
//!
//! ```python
//! def cpu_bound_task(n):
//!     result = 0
//!     for i in range(n * 1000000):
//!         result += i * i
//!     return result
//! ```
//!
//! The result is exact (u128, printed in decimal), so it can be compared with Python's.

use std::hint::black_box;

use serde::{Deserialize, Serialize};

/// The seed's multiplier: task `n` loops `n * 1_000_000` times.
pub const DEFAULT_SCALE: u64 = 1_000_000;

/// The seed's task list.
pub const SEED_TASKS: [u64; 5] = [100, 200, 300, 400, 500];

/// The largest iteration count whose sum of squares fits in a `u128`; beyond it the result
/// wraps modulo 2^128 (such a task would also loop for the better part of an hour).
pub const MAX_EXACT_ITERATIONS: u64 = 10_069_012_961_345;

/// One task of the `cpu` job: Σ i² for i in `0..n * scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuTask {
    /// The seed's `n`.
    pub n: u64,
    /// Iterations per unit of `n` ([`DEFAULT_SCALE`] in the seed).
    pub scale: u64,
}

/// A contiguous slice of one task's loop, Σ i² for i in `from..to`: the unit a worker runs.
///
/// A task's parts add up (wrapping, like the loop itself) to exactly the task's result, so a
/// long task can be spread over every core instead of leaving the others idle behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuPart {
    /// The seed's `n` of the task this part belongs to.
    pub n: u64,
    /// First iteration of the slice.
    pub from: u64,
    /// One past its last iteration.
    pub to: u64,
}

impl CpuPart {
    /// Runs the slice of the loop.
    pub fn run(&self) -> u128 {
        squares(self.from, self.to)
    }

    /// Loop iterations in the slice: the part's cost.
    pub fn iterations(&self) -> u64 {
        self.to - self.from
    }
}

/// Parts per worker the whole run is cut into: enough that largest-first dispatch evens the
/// cores out to within a small part, few enough that their messages cost nothing.
pub const PARTS_PER_WORKER: u64 = 16;

/// Smallest part worth its own message (a few milliseconds of loop).
pub const MIN_PART_ITERATIONS: u64 = 4_000_000;

/// Cuts every task into parts for `workers` cores: each into near-equal slices of at most
/// an even `1 / (workers × PARTS_PER_WORKER)` of the whole run (and no smaller than
/// [`MIN_PART_ITERATIONS`] unless the task itself is): one list per task, in task order and
/// each in loop order. Every task gets at least one part, so an empty loop still has a result.
///
/// # Errors
///
/// A task whose result would not be exact (see [`CpuTask::iterations`]).
pub fn plan_parts(
    tasks: &[CpuTask],
    workers: usize,
) -> Result<Vec<Vec<CpuPart>>, TooManyIterations> {
    let sizes = tasks
        .iter()
        .map(CpuTask::iterations)
        .collect::<Result<Vec<u64>, _>>()?;
    let total: u64 = sizes.iter().fold(0, |sum, &size| sum.saturating_add(size));
    let share = (workers.max(1) as u64).saturating_mul(PARTS_PER_WORKER);
    let most = total.div_ceil(share).max(MIN_PART_ITERATIONS);
    let parts = tasks.iter().zip(sizes).map(|(task, size)| {
        let count = size.div_ceil(most).max(1);
        // Boundaries k·size/count, in u128 so the product cannot overflow.
        let at = |k: u64| (u128::from(size) * u128::from(k) / u128::from(count)) as u64;
        (0..count)
            .map(|k| CpuPart {
                n: task.n,
                from: at(k),
                to: at(k + 1),
            })
            .collect()
    });
    Ok(parts.collect())
}

/// A task whose result would not be exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "{n} * {scale} iterations is too many: the sum of squares is exact only up to {MAX_EXACT_ITERATIONS}"
)]
pub struct TooManyIterations {
    /// The task's `n`.
    pub n: u64,
    /// The task's `scale`.
    pub scale: u64,
}

impl CpuTask {
    /// The number of loop iterations, refused when the result could not be exact, so the
    /// command line can reject such a task before any worker starts it.
    pub fn iterations(&self) -> Result<u64, TooManyIterations> {
        self.n
            .checked_mul(self.scale)
            .filter(|&total| total <= MAX_EXACT_ITERATIONS)
            .ok_or(TooManyIterations {
                n: self.n,
                scale: self.scale,
            })
    }

    /// Runs the loop: [`sum_of_squares`]`(n, scale)`.
    ///
    /// # Panics
    ///
    /// If `n * scale` overflows `u64` (see [`CpuTask::iterations`]).
    pub fn run(&self) -> u128 {
        sum_of_squares(self.n, self.scale)
    }
}

/// Σ i² for i in `0..n * scale`, computed by really looping: the point is to burn CPU.
///
/// Exact while `n * scale` ≤ [`MAX_EXACT_ITERATIONS`], wrapping modulo 2^128 beyond.
///
/// # Panics
///
/// If `n * scale` overflows `u64`.
pub fn sum_of_squares(n: u64, scale: u64) -> u128 {
    let total = n
        .checked_mul(scale)
        .expect("cpu job: n * scale overflows u64");
    squares(0, total)
}

/// Σ i² for i in `from..to`.
fn squares(from: u64, to: u64) -> u128 {
    // Below 2^32 a square fits in u64, and a 64-bit multiply is cheaper than a 128-bit one.
    const SPLIT: u64 = 1 << 32;
    let low_end = to.min(SPLIT).max(from);
    let low = squares_with(from, low_end, |i| u128::from(i * i));
    let high = squares_with(low_end, to, |i| u128::from(i) * u128::from(i));
    low.wrapping_add(high)
}

/// The loop itself. `black_box` hides each group's starting value from the optimizer, which
/// could otherwise replace a plain loop by the closed form (N-1)N(2N-1)/6 and burn nothing.
/// Four independent accumulators keep the 128-bit add-with-carry chains from serializing the
/// loop (about 1.5x faster than one accumulator here); every square is still computed.
#[inline(always)]
fn squares_with(from: u64, to: u64, square: impl Fn(u64) -> u128) -> u128 {
    const LANES: usize = 4;
    let mut acc = [0u128; LANES];
    let mut i = from;
    while to - i >= LANES as u64 {
        let base = black_box(i);
        for (lane, sum) in acc.iter_mut().enumerate() {
            *sum = sum.wrapping_add(square(base + lane as u64));
        }
        i += LANES as u64;
    }
    while i < to {
        acc[0] = acc[0].wrapping_add(square(black_box(i)));
        i += 1;
    }
    acc.iter().fold(0, |total, &sum| total.wrapping_add(sum))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (N-1)N(2N-1)/6 = Σ i² for i in 0..N, valid while the product fits in u128.
    fn closed_form(total: u64) -> u128 {
        let n = u128::from(total);
        if n == 0 {
            return 0;
        }
        (n - 1) * n * (2 * n - 1) / 6
    }

    /// `sum(i*i for i in range(n*1000000))` for the seed's tasks, from Python's closed form.
    const SEED_RESULTS: [(u64, u128); 5] = [
        (100, 333_333_328_333_333_350_000_000),
        (200, 2_666_666_646_666_666_700_000_000),
        (300, 8_999_999_955_000_000_050_000_000),
        (400, 21_333_333_253_333_333_400_000_000),
        (500, 41_666_666_541_666_666_750_000_000),
    ];

    #[test]
    fn loop_matches_closed_form_for_small_inputs() {
        for total in (0..40).chain([999, 1000, 1001, 123_457]) {
            assert_eq!(sum_of_squares(total, 1), closed_form(total), "N = {total}");
        }
        assert_eq!(sum_of_squares(100, 1000), closed_form(100_000));
        assert_eq!(sum_of_squares(7, 0), 0);
        assert_eq!(sum_of_squares(0, DEFAULT_SCALE), 0);
    }

    #[test]
    fn seed_constants_are_the_closed_form() {
        for (n, expected) in SEED_RESULTS {
            assert_eq!(closed_form(n * DEFAULT_SCALE), expected, "n = {n}");
        }
        assert_eq!(SEED_TASKS, SEED_RESULTS.map(|(n, _)| n));
    }

    /// 10^8 iterations: a fraction of a second optimized (this crate is optimized in test
    /// builds too; see the workspace's Cargo.toml).
    #[test]
    fn seed_task_100_through_the_real_loop() {
        let task = CpuTask {
            n: 100,
            scale: DEFAULT_SCALE,
        };
        assert_eq!(task.run(), SEED_RESULTS[0].1);
    }

    #[test]
    fn parts_cover_each_loop_once_and_add_up_to_its_result() {
        let tasks: Vec<CpuTask> = [0, 1, 7, 100, 3, 500]
            .map(|n| CpuTask {
                n,
                scale: 1_000_000,
            })
            .to_vec();
        for workers in [1, 2, 3, 16] {
            let parts = plan_parts(&tasks, workers).unwrap();
            let total: u64 = tasks.iter().map(|t| t.iterations().unwrap()).sum();
            let most = (total.div_ceil(workers as u64 * PARTS_PER_WORKER)).max(MIN_PART_ITERATIONS);
            assert_eq!(parts.len(), tasks.len());
            for (task, mine) in tasks.iter().zip(&parts) {
                assert!(!mine.is_empty(), "n = {}", task.n);
                assert!(mine.iter().all(|p| p.n == task.n));
                assert_eq!(mine[0].from, 0);
                assert_eq!(mine.last().unwrap().to, task.iterations().unwrap());
                for pair in mine.windows(2) {
                    assert_eq!(pair[0].to, pair[1].from, "contiguous");
                }
                assert!(
                    mine.iter().all(|p| p.iterations() <= most),
                    "n = {}",
                    task.n
                );
                let sum = mine
                    .iter()
                    .map(|p| closed_form(p.to) - closed_form(p.from))
                    .sum::<u128>();
                assert_eq!(
                    sum,
                    closed_form(task.iterations().unwrap()),
                    "n = {}",
                    task.n
                );
            }
        }
        // Through the real loop, at a size a debug build runs quickly.
        let small = [CpuTask {
            n: 9,
            scale: 1_000_001,
        }];
        let parts = &plan_parts(&small, 2).unwrap()[0];
        assert!(parts.len() > 1);
        let sum = parts.iter().fold(0u128, |sum, p| sum.wrapping_add(p.run()));
        assert_eq!(sum, small[0].run());
    }

    #[test]
    fn a_task_too_big_to_be_exact_is_refused_when_planning() {
        let tasks = [CpuTask {
            n: u64::MAX,
            scale: 2,
        }];
        assert!(plan_parts(&tasks, 2).is_err());
    }

    #[test]
    fn squares_cross_the_u64_square_boundary() {
        let split = 1u64 << 32;
        for (from, to) in [
            (split - 9, split + 9),
            (split - 1, split),
            (split, split + 3),
        ] {
            assert_eq!(
                squares(from, to),
                closed_form(to) - closed_form(from),
                "{from}..{to}"
            );
        }
    }

    /// Σ i² for i in 0..N by the closed form, dividing before multiplying so that it overflows
    /// only when the sum itself does not fit.
    fn checked_closed_form(total: u64) -> Option<u128> {
        let n = u128::from(total);
        let mut factors = [n.saturating_sub(1), n, (2 * n).saturating_sub(1)];
        let even = if factors[0] % 2 == 0 { 0 } else { 1 };
        factors[even] /= 2;
        let third = factors.iter().position(|f| f % 3 == 0).unwrap();
        factors[third] /= 3;
        factors[0].checked_mul(factors[1])?.checked_mul(factors[2])
    }

    #[test]
    fn exactness_limit() {
        assert_eq!(checked_closed_form(1000), Some(closed_form(1000)));
        assert!(checked_closed_form(MAX_EXACT_ITERATIONS).is_some());
        assert!(checked_closed_form(MAX_EXACT_ITERATIONS + 1).is_none());
        let task = |n, scale| CpuTask { n, scale }.iterations();
        assert_eq!(task(500, DEFAULT_SCALE), Ok(500_000_000));
        assert_eq!(task(MAX_EXACT_ITERATIONS, 1), Ok(MAX_EXACT_ITERATIONS));
        assert!(task(MAX_EXACT_ITERATIONS + 1, 1).is_err());
        let err = task(u64::MAX, 2).unwrap_err();
        assert!(err.to_string().contains("too many"), "{err}");
    }

    #[test]
    fn task_and_result_cross_the_process_boundary() {
        let config = bincode::config::standard();
        let task = CpuTask {
            n: 500,
            scale: DEFAULT_SCALE,
        };
        let encoded = bincode::serde::encode_to_vec(task, config).unwrap();
        let (back, _): (CpuTask, usize) =
            bincode::serde::decode_from_slice(&encoded, config).unwrap();
        assert_eq!(back, task);
        let result = SEED_RESULTS[4].1;
        let encoded = bincode::serde::encode_to_vec(result, config).unwrap();
        let (back, _): (u128, usize) = bincode::serde::decode_from_slice(&encoded, config).unwrap();
        assert_eq!(back, result);
    }
}
