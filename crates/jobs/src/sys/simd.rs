//! The `logs` job's AVX2 line scan, handed out as a safe function only where it can run.

use crate::logs::LogCounts;
use crate::logs::line_scan::{Kernel, LineScan, MAX_PATTERNS};

/// The one-pass line scan for `patterns` patterns, or `None` when there are none or more than
/// [`MAX_PATTERNS`], or when this CPU lacks the instructions it is compiled for (then the
/// counter searches pattern by pattern).
pub(crate) fn line_scan_kernel(patterns: usize) -> Option<Kernel> {
    #[cfg(target_arch = "x86_64")]
    {
        let cpu_has = std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("popcnt")
            && std::is_x86_feature_detected!("bmi1");
        if !cpu_has || patterns > MAX_PATTERNS {
            return None;
        }
        let kernel: Kernel = match patterns {
            1 => scan::<1>,
            2 => scan::<2>,
            3 => scan::<3>,
            4 => scan::<4>,
            _ => return None,
        };
        Some(kernel)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = patterns;
        None
    }
}

/// Private, so it is reachable only through [`line_scan_kernel`], after the check.
#[cfg(target_arch = "x86_64")]
fn scan<const N: usize>(scan: &LineScan, body: &[u8], counts: &mut LogCounts) {
    // SAFETY: `avx2` requires only that the CPU supports AVX2, POPCNT and BMI1 (its body is
    // safe code), and this function is handed out by `line_scan_kernel` only after
    // `is_x86_feature_detected!` confirmed all three.
    unsafe { scan.avx2::<N>(body, counts) }
}
