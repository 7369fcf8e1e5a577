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

    /// 10^8 iterations: a fraction of a second optimized, too slow for debug test runs.
    #[test]
    #[cfg_attr(debug_assertions, ignore = "slow unoptimized; run with --release")]
    fn seed_task_100_through_the_real_loop() {
        let task = CpuTask {
            n: 100,
            scale: DEFAULT_SCALE,
        };
        assert_eq!(task.run(), SEED_RESULTS[0].1);
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
