//! The seed's first example: one function in its own process (`multiprocessing.Process`).
//!
//! ```text
//! cargo run --example basic_process [NAME]
//! ```
//!
//! The worker is a re-execution of this binary; `init()` routes it before `main` goes on.
//! Whatever the function returns comes back through `join` (in Python it would be lost).

use std::time::Duration;
use supervisor_mp::{Process, task};

task!(
    /// Works a little; returns a message and the pid it ran in.
    fn worker(name: String) -> (String, u32) {
        std::thread::sleep(Duration::from_millis(200));
        (format!("{name} done"), std::process::id())
    }
);

task!(
    fn exit_with(code: i32) -> () {
        std::process::exit(code)
    }
);

fn show(code: Option<i32>) -> String {
    code.map_or_else(|| "none (running)".to_string(), |c| c.to_string())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    supervisor_mp::init(); // Python's `if __name__ == "__main__":`
    let name = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "Worker-1".to_string());

    // p = Process(target=worker, args=("Worker-1",)); p.start()
    let p = Process::spawn(worker, name.clone())?;
    let pid = p.pid().unwrap_or(0);
    println!("process {name} started: pid {pid}, alive {}", p.is_alive());
    // p.join(): here it also returns the function's result.
    let (message, ran_in) = p.join()?;
    println!("result: {message}");
    println!("ran in the spawned process: {}", ran_in == pid);
    println!("ran in this process: {}", ran_in == std::process::id());
    println!("process {name} exitcode: {}", show(p.exitcode()));
    println!("process {name} alive after join: {}", p.is_alive());

    // A process that ends with `exit(3)` has no result, and the exit code says so.
    let q = Process::spawn(exit_with, 3)?;
    match q.join() {
        Ok(()) => println!("exit_with(3): returned"),
        Err(e) => println!("exit_with(3): {e}"),
    }
    println!("exit_with(3) exitcode: {}", show(q.exitcode()));
    Ok(())
}
