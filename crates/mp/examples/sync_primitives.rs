//! Python's `multiprocessing` synchronization primitives on supervisor-mp, across real
//! processes: `Value`/`Array` with their lock, `Lock`, `Event`, `Barrier`, `Semaphore`,
//! `BoundedSemaphore`, `Condition`, and a lock holder killed with SIGKILL.
//!
//! ```text
//! cargo run -p supervisor-mp --example sync_primitives
//! ```

use std::time::Duration;
use supervisor_mp::{
    AcquireError, Array, Barrier, BoundedSemaphore, Condition, Event, Lock, LockError, Process,
    Semaphore, Value, task,
};

const WORKERS: u64 = 4;
const INCREMENTS: u64 = 10_000;
const WAIT: Duration = Duration::from_secs(30);

task!(
    fn worker(p: (u64, Event, Barrier, Value<u64>, Array<f64>, Semaphore)) -> usize {
        let (id, start, barrier, counter, squares, sem) = p;
        // Python: start.wait()
        start.wait();
        for _ in 0..INCREMENTS {
            // Python: with counter.get_lock(): counter.value += 1
            *counter.lock().expect("counter lock") += 1;
        }
        squares.set(id as usize, (id * id) as f64);
        {
            // Python: with sem: (at most 2 workers in here at once)
            let _unit = sem.acquire().expect("semaphore");
        }
        // Python: barrier.wait() returns a distinct index in 0..parties
        barrier.wait_timeout(WAIT).expect("barrier")
    }
);

task!(
    fn hold_forever(p: (Lock, Event)) -> () {
        let (lock, holding) = p;
        let _guard = lock.acquire().expect("acquire");
        holding.set();
        loop {
            std::thread::park();
        }
    }
);

task!(
    fn wait_for_ready(p: (Condition, Value<u64>)) -> u64 {
        let (cond, ready) = p;
        let guard = cond.acquire().expect("acquire");
        let (_guard, ok) = cond
            .wait_for(guard, || ready.get() == 1, Some(WAIT))
            .expect("wait_for");
        assert!(ok);
        ready.get()
    }
);

fn main() {
    supervisor_mp::init();

    // Value, Array, Event, Barrier, Semaphore.
    let start = Event::new().unwrap();
    let barrier = Barrier::new(WORKERS as usize).unwrap();
    let counter = Value::new(0u64).unwrap();
    let squares = Array::<f64>::new(WORKERS as usize).unwrap();
    let sem = Semaphore::new(2).unwrap();
    let procs: Vec<_> = (0..WORKERS)
        .map(|id| {
            let arg = (
                id,
                start.clone(),
                barrier.clone(),
                counter.clone(),
                squares.clone(),
                sem.clone(),
            );
            Process::spawn(worker, arg).unwrap()
        })
        .collect();
    start.set();
    let mut indices: Vec<usize> = procs.iter().map(|p| p.join().unwrap()).collect();
    indices.sort_unstable();
    println!("barrier indices: {indices:?}");
    println!(
        "counter: {} ({WORKERS} processes x {INCREMENTS})",
        counter.get()
    );
    println!(
        "counter == expected: {}",
        counter.get() == WORKERS * INCREMENTS
    );
    println!("squares: {:?}", squares.to_vec());
    println!("squares[1..3]: {:?}", squares.slice(1..3));
    println!("semaphore value after: {}", sem.value());

    // BoundedSemaphore: releasing above the initial value is an error (Python: ValueError).
    let bounded = BoundedSemaphore::new(1).unwrap();
    bounded.acquire().unwrap().release();
    match bounded.release() {
        Ok(()) => println!("bounded over-release: accepted"),
        Err(e) => println!("bounded over-release: {e}"),
    }

    // Condition: a worker waits for a predicate that this process makes true.
    let cond = Condition::new().unwrap();
    let ready = Value::new(0u64).unwrap();
    let waiter = Process::spawn(wait_for_ready, (cond.clone(), ready.clone())).unwrap();
    {
        let guard = cond.acquire().unwrap();
        ready.set(1);
        cond.notify_all(&guard);
    }
    println!("condition waiter saw: {}", waiter.join().unwrap());

    // A Lock whose holder is killed: Python waits forever; here the next acquirer gets it.
    let lock = Lock::new().unwrap();
    let holding = Event::new().unwrap();
    let holder = Process::spawn(hold_forever, (lock.clone(), holding.clone())).unwrap();
    holding.wait();
    println!(
        "lock free while held elsewhere: {}",
        lock.try_acquire().is_ok()
    );
    holder.kill();
    let _ = holder.join();
    match lock.acquire_timeout(WAIT) {
        Err(LockError::Abandoned(guard)) => {
            println!("after SIGKILL of the holder: acquired, abandoned");
            drop(guard);
        }
        Ok(_) => println!("after SIGKILL of the holder: acquired"),
        Err(e) => println!("after SIGKILL of the holder: {e}"),
    }
    println!("next acquire: {}", lock.acquire().is_ok());

    // The lock of a Value reports a timeout like any other.
    let guard = counter.lock().unwrap();
    let other = counter.clone();
    let timed_out = std::thread::spawn(move || {
        matches!(
            other.lock_timeout(Duration::from_millis(10)),
            Err(AcquireError::Timeout)
        )
    })
    .join()
    .unwrap();
    drop(guard);
    println!("value lock held elsewhere times out: {timed_out}");
}
