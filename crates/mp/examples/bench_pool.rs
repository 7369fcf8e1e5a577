//! The library side of `scripts/bench.sh`'s "library vs CPython multiprocessing" rows; the
//! same programs in Python are `scripts/mp_bench_pool.py`. Prints one `name=value` line per
//! measurement (seconds), each timed inside the process after the pool has started:
//!
//! - `pool_reuse`: a `Pool(2)` reused, 1000 × `map` of 8 items; per call
//! - `map_200k`: one `map` of 200,000 trivial items
//! - `apply_async_10k`: 10,000 `apply_async` calls, then every result
//! - `spawn_join`: one `Process` started and joined; per process (median of 20)
//!
//! `cargo run --release -p supervisor-mp --example bench_pool [-- NAME...]`

use std::time::Instant;
use supervisor_mp::{Pool, Process, task};

task!(
    fn square(x: u64) -> u64 {
        x * x
    }
);

fn main() {
    supervisor_mp::init();
    let only: Vec<String> = std::env::args().skip(1).collect();
    let wanted = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    let pool = Pool::new(2).expect("pool");
    // The workers are up once a call has gone through.
    assert_eq!(pool.apply(square, 3).expect("apply"), Ok(9));

    if wanted("pool_reuse") {
        let calls = 1000;
        let started = Instant::now();
        for _ in 0..calls {
            let results = pool.map(square, 0..8u64).expect("map");
            assert_eq!(results[7], Ok(49));
        }
        println!(
            "pool_reuse={:.9}",
            started.elapsed().as_secs_f64() / calls as f64
        );
    }
    if wanted("map_200k") {
        let started = Instant::now();
        let results = pool.map(square, 0..200_000u64).expect("map");
        let elapsed = started.elapsed().as_secs_f64();
        assert_eq!(results[199_999], Ok(199_999 * 199_999));
        println!("map_200k={elapsed:.9}");
    }
    if wanted("apply_async_10k") {
        let started = Instant::now();
        let pending: Vec<_> = (0..10_000u64)
            .map(|x| pool.apply_async(square, x).expect("apply_async"))
            .collect();
        let total: u64 = pending.iter().map(|p| p.get().expect("result")).sum();
        let elapsed = started.elapsed().as_secs_f64();
        assert_eq!(total, (0..10_000u64).map(|x| x * x).sum::<u64>());
        println!("apply_async_10k={elapsed:.9}");
    }
    drop(pool);
    if wanted("spawn_join") {
        let mut times: Vec<f64> = (0..20)
            .map(|x| {
                let started = Instant::now();
                let process = Process::spawn(square, x).expect("spawn");
                assert_eq!(process.join(), Ok(x * x));
                started.elapsed().as_secs_f64()
            })
            .collect();
        times.sort_by(f64::total_cmp);
        println!("spawn_join={:.9}", times[times.len() / 2]);
    }
}
