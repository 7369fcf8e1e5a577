//! The seed's CPU-bound example: `Pool.map` against a sequential loop.
//!
//! ```text
//! cargo run --release --example cpu_pool -- [--scale N] [--processes P]
//! ```
//!
//! `cpu_bound_task(n)` sums `i * i` for `i < n * SCALE` (the seed uses SCALE = 1_000_000; the
//! default here, 10_000, finishes in about a second in a debug build). Sums are `u128`, so no
//! result overflows; each is checked against the closed form `(N-1)N(2N-1)/6`.

use std::time::Instant;
use supervisor_mp::{Pool, task};

const TASKS: [u64; 5] = [100, 200, 300, 400, 500];

task!(
    /// The sum of `i * i` for `i < n * scale`, the long way.
    fn cpu_bound_task(args: (u64, u64)) -> u128 {
        let (n, scale) = args;
        let mut result: u128 = 0;
        for i in 0..u128::from(n * scale) {
            result += i * i;
        }
        result
    }
);

fn closed_form(n: u128) -> u128 {
    if n == 0 {
        return 0;
    }
    (n - 1) * n * (2 * n - 1) / 6
}

fn flag(args: &[String], name: &str) -> Option<u64> {
    let i = args.iter().position(|a| a == name)?;
    match args.get(i + 1).map(|v| v.replace('_', "").parse()) {
        Some(Ok(v)) => Some(v),
        _ => {
            eprintln!("{name} needs a number");
            std::process::exit(2);
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    supervisor_mp::init();
    let args: Vec<String> = std::env::args().collect();
    let scale = flag(&args, "--scale").unwrap_or(10_000);
    let processes = match flag(&args, "--processes") {
        Some(p) => p as usize,
        None => supervisor_runtime::Config::available_cores(),
    };
    let inputs: Vec<(u64, u64)> = TASKS.iter().map(|&n| (n, scale)).collect();

    let start = Instant::now();
    let sequential: Vec<u128> = inputs.iter().map(|&a| cpu_bound_task::call(a)).collect();
    let seq_time = start.elapsed();

    // with Pool(processes=os.cpu_count()) as pool: results = pool.map(cpu_bound_task, tasks)
    let start = Instant::now();
    let pool = Pool::new(processes)?;
    let parallel = pool
        .map(cpu_bound_task, inputs.iter().copied())?
        .into_iter()
        .collect::<Result<Vec<u128>, _>>()?;
    drop(pool);
    let pool_time = start.elapsed();

    println!("scale: {scale}");
    for (&n, &r) in TASKS.iter().zip(&parallel) {
        println!("cpu_bound_task({n}) = {r}");
    }
    let expected: Vec<u128> = TASKS
        .iter()
        .map(|&n| closed_form(u128::from(n * scale)))
        .collect();
    println!("pool == sequential: {}", parallel == sequential);
    println!("results == closed form: {}", parallel == expected);
    println!("sequential: {:.3} s", seq_time.as_secs_f64());
    println!(
        "pool of {processes} processes: {:.3} s",
        pool_time.as_secs_f64()
    );
    println!(
        "speedup: {:.2}x",
        seq_time.as_secs_f64() / pool_time.as_secs_f64().max(1e-9)
    );
    if parallel != sequential || parallel != expected {
        std::process::exit(1);
    }
    Ok(())
}
