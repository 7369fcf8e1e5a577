//! The trivial job the engine's benchmarks measure: n², shared by `benches/engine.rs` and
//! `examples/throughput.rs` (each binary is its own worker and registers it).

use supervisor_runtime::Job;

/// The trivial task: n².
pub struct Square;

impl Job for Square {
    const NAME: &'static str = "bench-square";
    type Setup = ();
    type Task = u64;
    type Output = u64;

    fn start((): ()) -> Result<Self, String> {
        Ok(Square)
    }

    fn run(&mut self, n: u64) -> u64 {
        n.wrapping_mul(n)
    }
}
