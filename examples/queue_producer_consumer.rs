//! The seed's producer/consumer with a `Queue` (`multiprocessing.Queue`), and a `Lock`
//! protecting a counter file shared by two processes.
//!
//! ```text
//! cargo run --example queue_producer_consumer
//! ```
//!
//! The queue lives in shared memory created by this (the parent) process, which outlives both
//! workers. The producer puts five items and then `None` (Python's `queue.put(None)`); the
//! consumer gets until that sentinel and returns what it processed. Only the parent prints.

use std::path::PathBuf;
use std::time::Duration;
use supervisor_mp::{Lock, LockError, Process, Queue, task};

task!(
    /// Puts `{name}-item-{i}` for i in 0..5, then the sentinel; returns what it put.
    fn producer(args: (Queue<Option<String>>, String)) -> Vec<String> {
        let (queue, name) = args;
        let mut produced = Vec::new();
        for i in 0..5 {
            let item = format!("{name}-item-{i}");
            queue.put(Some(item.clone())).expect("put");
            produced.push(item);
            std::thread::sleep(Duration::from_millis(20));
        }
        queue.put(&None).expect("put the sentinel");
        produced
    }
);

task!(
    /// Gets items until the sentinel; returns them in the order processed.
    fn consumer(queue: Queue<Option<String>>) -> Vec<String> {
        let mut processed = Vec::new();
        while let Some(item) = queue.get().expect("get") {
            processed.push(item);
        }
        processed
    }
);

task!(
    /// Increments the number in the file `times` times, each read-modify-write under the lock.
    fn increment(args: (Lock, PathBuf, u32)) -> u32 {
        let (lock, path, times) = args;
        for _ in 0..times {
            let _guard = match lock.acquire() {
                Ok(guard) => guard,
                Err(LockError::Abandoned(guard)) => guard,
                Err(e) => panic!("lock: {e}"),
            };
            let n: u64 = std::fs::read_to_string(&path)
                .expect("read the counter")
                .trim()
                .parse()
                .expect("a number");
            // Widen the race window: without the lock, increments would be lost.
            std::thread::yield_now();
            std::fs::write(&path, format!("{}\n", n + 1)).expect("write the counter");
        }
        times
    }
);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    supervisor_mp::init();

    // queue = multiprocessing.Queue()
    let queue: Queue<Option<String>> = Queue::new()?;
    let c1 = Process::spawn(consumer, queue.clone())?;
    let p1 = Process::spawn(producer, (queue.clone(), "Producer-1".to_string()))?;
    let produced = p1.join()?;
    let consumed = c1.join()?;
    for item in &produced {
        println!("produced: {item}");
    }
    for item in &consumed {
        println!("Consumer-1 processed: {item}");
    }
    println!("produced: {}", produced.len());
    println!("consumed: {}", consumed.len());
    println!("consumed == produced: {}", consumed == produced);

    // A counter file updated by two processes under one Lock.
    let path = std::env::temp_dir().join(format!("mp-counter-{}.txt", std::process::id()));
    std::fs::write(&path, "0\n")?;
    let lock = Lock::new()?;
    let per_process = 50u32;
    let a = Process::spawn(increment, (lock.clone(), path.clone(), per_process))?;
    let b = Process::spawn(increment, (lock.clone(), path.clone(), per_process))?;
    let done = a.join()? + b.join()?;
    let count: u64 = std::fs::read_to_string(&path)?.trim().parse()?;
    std::fs::remove_file(&path)?;
    println!("increments: 2 processes x {per_process} = {done}");
    println!("final count: {count}");
    println!("count == increments: {}", count == u64::from(done));
    Ok(())
}
