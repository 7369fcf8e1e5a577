//! The seed's server monitoring case: TCP reachability of many HOST:PORT targets at once, one
//! connection attempt per task, with `Pool.map`.
//!
//! ```text
//! cargo run --example server_checks [HOST:PORT ...]
//! ```
//!
//! Without targets, it checks two loopback ports of its own: one with a listener it opens
//! (UP) and one it has just closed (DOWN). Nothing beyond 127.0.0.1 is contacted unless you
//! name it.

use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};
use supervisor_mp::{Pool, task};

task!(
    /// "UP", "DOWN (reason)" or "ERROR: reason" for one `HOST:PORT`.
    fn check_server(target: String) -> String {
        let addrs = match target.to_socket_addrs() {
            Ok(addrs) => addrs.collect::<Vec<_>>(),
            Err(e) => return format!("ERROR: {e}"),
        };
        let mut last = String::from("no address");
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
                Ok(_) => return "UP".to_string(),
                Err(e) => last = e.kind().to_string(),
            }
        }
        format!("DOWN ({last})")
    }
);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    supervisor_mp::init();
    let mut targets: Vec<String> = std::env::args().skip(1).collect();
    // Kept open until the checks are done.
    let mut _listener = None;
    if targets.is_empty() {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let closed = TcpListener::bind("127.0.0.1:0")?.local_addr()?; // dropped: closed now
        targets = vec![listener.local_addr()?.to_string(), closed.to_string()];
        _listener = Some(listener);
    }

    let start = Instant::now();
    let pool = Pool::new(targets.len())?;
    let results = pool.map(check_server, targets.iter().cloned())?;
    let elapsed = start.elapsed();

    for (target, status) in targets.iter().zip(results) {
        match status {
            Ok(status) => println!("{target} {status}"),
            Err(e) => println!("{target} ERROR: task failed: {e}"),
        }
    }
    println!(
        "checked {} targets in {:.3} s",
        targets.len(),
        elapsed.as_secs_f64()
    );
    Ok(())
}
