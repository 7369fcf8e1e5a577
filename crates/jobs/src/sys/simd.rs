//! The `logs` job's SIMD line scans, handed out as safe functions only where they can run.

use crate::logs::LogCounts;
use crate::logs::line_scan::{Kernel, LineScan, MAX_PATTERNS, Width};

/// The fastest line scan this CPU runs for `patterns` patterns (AVX-512 before AVX2), or
/// `None` when there are none or more than [`MAX_PATTERNS`], or when this CPU has neither
/// (then the counter searches pattern by pattern).
pub(crate) fn line_scan_kernel(patterns: usize) -> Option<Kernel> {
    line_scan_kernel_of(patterns, Width::Avx512)
        .or_else(|| line_scan_kernel_of(patterns, Width::Avx2))
}

/// The line scan of one width for `patterns` patterns, or `None` when this CPU lacks the
/// instructions it is compiled for, or the number of patterns is out of range.
pub(crate) fn line_scan_kernel_of(patterns: usize, width: Width) -> Option<Kernel> {
    #[cfg(target_arch = "x86_64")]
    {
        if patterns == 0 || patterns > MAX_PATTERNS || !cpu_has(width) {
            return None;
        }
        let kernel: Kernel = match (width, patterns) {
            (Width::Avx512, 1) => avx512::<1>,
            (Width::Avx512, 2) => avx512::<2>,
            (Width::Avx512, 3) => avx512::<3>,
            (Width::Avx512, 4) => avx512::<4>,
            (Width::Avx2, 1) => avx2::<1>,
            (Width::Avx2, 2) => avx2::<2>,
            (Width::Avx2, 3) => avx2::<3>,
            (Width::Avx2, 4) => avx2::<4>,
            _ => return None,
        };
        Some(kernel)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (patterns, width);
        None
    }
}

/// Whether this CPU has every instruction set the scan of `width` is compiled for.
#[cfg(target_arch = "x86_64")]
fn cpu_has(width: Width) -> bool {
    let common = std::is_x86_feature_detected!("popcnt") && std::is_x86_feature_detected!("bmi1");
    common
        && match width {
            Width::Avx512 => std::is_x86_feature_detected!("avx512bw"),
            Width::Avx2 => std::is_x86_feature_detected!("avx2"),
        }
}

/// Private, so it is reachable only through [`line_scan_kernel_of`], after the check.
#[cfg(target_arch = "x86_64")]
fn avx512<const N: usize>(scan: &LineScan, body: &[u8], counts: &mut LogCounts) {
    // SAFETY: `avx512` requires only that the CPU supports AVX-512BW, POPCNT and BMI1 (its
    // body is safe code), and this function is handed out by `line_scan_kernel_of` only after
    // `cpu_has(Width::Avx512)` confirmed all three with `is_x86_feature_detected!`.
    unsafe { scan.avx512::<N>(body, counts) }
}

/// Private, so it is reachable only through [`line_scan_kernel_of`], after the check.
#[cfg(target_arch = "x86_64")]
fn avx2<const N: usize>(scan: &LineScan, body: &[u8], counts: &mut LogCounts) {
    // SAFETY: `avx2` requires only that the CPU supports AVX2, POPCNT and BMI1 (its body is
    // safe code), and this function is handed out by `line_scan_kernel_of` only after
    // `cpu_has(Width::Avx2)` confirmed all three with `is_x86_feature_detected!`.
    unsafe { scan.avx2::<N>(body, counts) }
}

/// Asks the CPU to bring `bytes` into the core's first-level cache ahead of the scan: a hint,
/// one `prefetcht0` per 64-byte line, that never faults and changes no result.
///
/// The scan of a mapped file reads the page cache itself, and its loop is long enough that
/// the out-of-order core runs only a few blocks ahead of it: without the hint each new line
/// waits on memory. Measured on the bench's logs, two chunks (8 KiB) ahead: 0.88× the wall
/// time of reading without it, where mapping without it was slower than reading.
#[inline(always)]
pub(crate) fn prefetch(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    for line in bytes.chunks(64) {
        // SAFETY: `_mm_prefetch` needs SSE, which every x86-64 CPU has; a prefetch is a hint
        // that reads nothing into the program and cannot fault, and the address is in a live
        // slice anyway.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                line.as_ptr().cast(),
            );
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bytes;
}
