//! Watching worker processes: pid, whether each is alive, its memory and CPU time, and how it
//! ended.
//!
//! ```text
//! cargo run --example monitoring
//! ```
//!
//! Three processes work for different times, one exits with status 2, and one that would run
//! for a minute is terminated (SIGTERM). The seed does this with `psutil`
//! (`Process(pid).memory_info()`, `.cpu_times()`); here `Process::stats` and `process_stats(pid)`
//! read the same figures (resident memory, user + system CPU time) from `/proc`.

use std::time::Duration;
use supervisor_mp::{Process, ProcessStats, process_stats, task};

task!(
    /// Sleeps `ms` milliseconds, then spins a little; returns `ms`.
    fn busy(ms: u64) -> u64 {
        std::thread::sleep(Duration::from_millis(ms));
        let mut x = 0u64;
        for i in 0..100_000u64 {
            x = x.wrapping_add(i * i);
        }
        std::hint::black_box(x);
        ms
    }
);

task!(
    fn exit_with(code: i32) -> () {
        std::process::exit(code)
    }
);

fn state(p: &Process<impl serde::de::DeserializeOwned>) -> String {
    match p.exitcode() {
        None if p.is_alive() => "running".to_string(),
        None => "ended".to_string(),
        Some(code) => format!("ended, exitcode {code}"),
    }
}

fn show_stats(name: &str, stats: std::io::Result<ProcessStats>) {
    match stats {
        Ok(s) => println!(
            "{name}: pid {} rss {:.1} MiB cpu {} ms",
            s.pid,
            s.rss_bytes as f64 / (1024.0 * 1024.0),
            s.cpu_time().as_millis()
        ),
        Err(e) => println!("{name}: no stats ({e})"),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    supervisor_mp::init();
    let workers = [("worker-1", 500u64), ("worker-2", 800), ("worker-3", 1100)];
    let mut processes = Vec::new();
    for (name, ms) in workers {
        processes.push((name, Process::spawn(busy, ms)?));
    }
    let failing = Process::spawn(exit_with, 2)?;
    let sleeper = Process::spawn(busy, 60_000)?;

    println!("-- started");
    for (name, p) in &processes {
        println!(
            "{name}: pid {} alive {}",
            p.pid().unwrap_or(0),
            p.is_alive()
        );
    }
    println!(
        "sleeper: pid {} alive {}",
        sleeper.pid().unwrap_or(0),
        sleeper.is_alive()
    );

    // psutil.Process(pid).memory_info().rss, .cpu_times(), for each running worker.
    std::thread::sleep(Duration::from_millis(100));
    println!("-- resources");
    for (name, p) in &processes {
        show_stats(name, p.stats());
    }
    show_stats("sleeper", process_stats(sleeper.pid().unwrap_or(0)));

    // Poll until the three workers are done, as a monitoring loop would.
    let mut ticks = 0;
    while processes.iter().any(|(_, p)| p.is_alive()) && ticks < 200 {
        std::thread::sleep(Duration::from_millis(50));
        ticks += 1;
    }

    sleeper.terminate();
    println!("-- finished");
    for (name, p) in &processes {
        let result = p.join();
        println!(
            "{name}: {} alive {} result {:?}",
            state(p),
            p.is_alive(),
            result
        );
    }
    match failing.join() {
        Ok(()) => println!("failing: returned"),
        Err(e) => println!("failing: {e} ({})", state(&failing)),
    }
    match sleeper.join() {
        Ok(ms) => println!("sleeper: returned {ms}"),
        Err(e) => println!("sleeper: {e} ({})", state(&sleeper)),
    }
    Ok(())
}
