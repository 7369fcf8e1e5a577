//! Tests that need something a machine may lack: a reference tool to compare with (`b3sum`,
//! GNU parallel), a browser (Chromium),
//! IPv6 loopback, a listener whose accept queue can be filled. Where it is missing, a test
//! reports itself ignored with the reason, at listing time too, so neither `cargo test` nor
//! `cargo nextest run` counts it as passed; CI installs the tools, so nothing is ignored there.

#[path = "../../crates/runtime/tests/harness/mod.rs"]
mod harness;
#[path = "../integration/support.rs"]
#[allow(dead_code)]
mod support;

mod exec_parallel;
mod hash_tools;
mod probe;
mod report;

fn main() -> std::process::ExitCode {
    let mut tests = hash_tools::tests();
    tests.extend(exec_parallel::tests());
    tests.extend(probe::tests());
    tests.extend(report::tests());
    harness::run_parallel(tests)
}
