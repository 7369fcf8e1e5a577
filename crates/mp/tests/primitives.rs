//! Queue, pipes and Lock across real worker processes, including processes killed in the
//! middle of an operation. This binary is also the worker executable: `main` calls
//! `supervisor_mp::init()` first.

use std::path::PathBuf;
use std::time::{Duration, Instant};
use supervisor_mp::{BrokerError, Lock, LockError, Process, Queue, duplex, pipe, task};

const WAIT: Duration = Duration::from_secs(20);

task!(
    fn produce(p: (Queue<u64>, u64, u64)) -> () {
        let (queue, base, n) = p;
        for i in 0..n {
            queue.put(base + i).expect("put");
        }
    }
);

task!(
    fn consume(p: (Queue<u64>, usize)) -> Vec<u64> {
        let (queue, n) = p;
        (0..n)
            .map(|_| queue.get_timeout(WAIT).expect("get"))
            .collect()
    }
);

task!(
    fn produce_forever(queue: Queue<u64>) -> () {
        for i in 0.. {
            queue.put(i).expect("put");
        }
    }
);

task!(
    fn announce_then_get(p: (Queue<u64>, Queue<u64>)) -> u64 {
        let (ready, queue) = p;
        ready.put(1).expect("put");
        queue.get().expect("get")
    }
);

task!(
    fn hold_lock(p: (Lock, Queue<u64>)) -> () {
        let (lock, ready) = p;
        let _guard = lock.acquire().expect("acquire");
        ready.put(1).expect("put");
        loop {
            std::thread::park();
        }
    }
);

task!(
    fn increment_file(p: (Lock, String, u64)) -> () {
        let (lock, path, n) = p;
        for _ in 0..n {
            let _guard = lock.acquire().expect("acquire");
            let value: u64 = std::fs::read_to_string(&path)
                .unwrap()
                .trim()
                .parse()
                .unwrap();
            std::thread::yield_now();
            std::fs::write(&path, (value + 1).to_string()).unwrap();
        }
    }
);

task!(
    fn echo_doubled(end: supervisor_mp::Duplex<u64>) -> () {
        while let Ok(x) = end.recv_timeout(WAIT) {
            if x == 0 {
                return;
            }
            end.send(x * 2).expect("send");
        }
    }
);

task!(
    fn send_three(tx: supervisor_mp::Sender<String>) -> () {
        for s in ["a", "b", "c"] {
            tx.send(s.to_string()).expect("send");
        }
    }
);

mod common;

fn main() -> std::process::ExitCode {
    supervisor_mp::init();
    let tests: &[(&str, fn())] = &[
        ("two_producers_one_consumer", two_producers_one_consumer),
        ("producer_killed_mid_put", producer_killed_mid_put),
        (
            "producer_killed_blocked_on_full",
            producer_killed_blocked_on_full,
        ),
        ("consumer_killed_mid_get", consumer_killed_mid_get),
        (
            "lock_holder_killed_is_abandoned",
            lock_holder_killed_is_abandoned,
        ),
        ("lock_mutual_exclusion", lock_mutual_exclusion),
        ("lock_try_and_timeout", lock_try_and_timeout),
        ("pipes_cross_processes", pipes_cross_processes),
        (
            "handles_fail_cleanly_after_drop",
            handles_fail_cleanly_after_drop,
        ),
    ];
    common::run_tests(tests)
}

fn broker_dir(socket: &std::path::Path) -> PathBuf {
    let dir = socket
        .parent()
        .expect("socket in a directory")
        .to_path_buf();
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&dir).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o700, "broker directory must be private");
    dir
}

fn poll_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn join<R: serde::de::DeserializeOwned>(p: &Process<R>) -> Result<R, supervisor_mp::ProcessError> {
    p.join_timeout(WAIT).expect("process did not end in time")
}

fn two_producers_one_consumer() {
    let queue = Queue::<u64>::new().unwrap();
    let dir = broker_dir(queue.socket_path());
    let consumer = Process::spawn(consume, (queue.clone(), 200)).unwrap();
    let a = Process::spawn(produce, (queue.clone(), 0, 100)).unwrap();
    let b = Process::spawn(produce, (queue.clone(), 100, 100)).unwrap();
    join(&a).unwrap();
    join(&b).unwrap();
    let mut got = join(&consumer).unwrap();
    got.sort_unstable();
    assert_eq!(got, (0..200).collect::<Vec<u64>>());
    assert_eq!(queue.try_get().unwrap(), None);
    assert_eq!(queue.len().unwrap(), 0);
    drop(queue);
    assert!(!dir.exists(), "broker directory left behind");
}

fn producer_killed_mid_put() {
    let queue = Queue::<u64>::new().unwrap();
    let dir = broker_dir(queue.socket_path());
    let producer = Process::spawn(produce_forever, queue.clone()).unwrap();
    let mut got = Vec::new();
    while got.len() < 50 {
        got.push(queue.get_timeout(WAIT).unwrap());
    }
    producer.kill();
    assert!(join(&producer).is_err());
    // Drain what it managed to put: a strictly increasing run, nothing corrupted.
    while let Some(x) = queue.try_get().unwrap() {
        got.push(x);
    }
    assert_eq!(got, (0..got.len() as u64).collect::<Vec<_>>());
    // The queue still serves others.
    let other = Process::spawn(produce, (queue.clone(), 1000, 5)).unwrap();
    join(&other).unwrap();
    let rest: Vec<u64> = (0..5).map(|_| queue.get_timeout(WAIT).unwrap()).collect();
    assert_eq!(rest, vec![1000, 1001, 1002, 1003, 1004]);
    drop(queue);
    assert!(!dir.exists());
}

fn producer_killed_blocked_on_full() {
    let queue = Queue::<u64>::bounded(5).unwrap();
    let dir = broker_dir(queue.socket_path());
    let producer = Process::spawn(produce_forever, queue.clone()).unwrap();
    poll_until("a full queue", || queue.len().unwrap() == 5);
    producer.kill();
    assert!(join(&producer).is_err());
    let got: Vec<u64> = (0..5).map(|_| queue.get_timeout(WAIT).unwrap()).collect();
    assert_eq!(got, vec![0, 1, 2, 3, 4]);
    // Its blocked put died with it: nothing more arrives, and there is room again.
    assert_eq!(
        queue.get_timeout(Duration::from_millis(200)),
        Err(BrokerError::Timeout)
    );
    for i in 0..5 {
        queue.put_timeout(i, WAIT).unwrap();
    }
    assert_eq!(
        queue.put_timeout(9, Duration::from_millis(50)),
        Err(BrokerError::Timeout)
    );
    drop(queue);
    assert!(!dir.exists());
}

fn consumer_killed_mid_get() {
    let ready = Queue::<u64>::new().unwrap();
    let queue = Queue::<u64>::new().unwrap();
    let dir = broker_dir(queue.socket_path());
    let consumer = Process::spawn(announce_then_get, (ready.clone(), queue.clone())).unwrap();
    ready.get_timeout(WAIT).unwrap();
    consumer.kill();
    assert!(join(&consumer).is_err());
    // The item put after its death is not swallowed by its abandoned get.
    queue.put(42).unwrap();
    assert_eq!(queue.get_timeout(WAIT), Ok(42));
    // A live consumer still gets items.
    let other = Process::spawn(consume, (queue.clone(), 2)).unwrap();
    queue.put(1).unwrap();
    queue.put(2).unwrap();
    assert_eq!(join(&other).unwrap(), vec![1, 2]);
    drop((ready, queue));
    assert!(!dir.exists());
}

fn lock_holder_killed_is_abandoned() {
    let lock = Lock::new().unwrap();
    let ready = Queue::<u64>::new().unwrap();
    let holder = Process::spawn(hold_lock, (lock.clone(), ready.clone())).unwrap();
    ready.get_timeout(WAIT).unwrap();
    assert!(matches!(lock.try_acquire(), Err(LockError::Timeout)));
    holder.kill();
    assert!(join(&holder).is_err());
    match lock.acquire_timeout(WAIT) {
        Err(LockError::Abandoned(guard)) => drop(guard),
        other => panic!("expected an abandoned lock, got {other:?}"),
    }
    // Reported once: the next acquisition is a plain one.
    let guard = lock.acquire_timeout(WAIT).expect("lock after abandon");
    guard.release();
    drop((lock, ready));
}

fn lock_mutual_exclusion() {
    let lock = Lock::new().unwrap();
    let path = std::env::temp_dir().join(format!("mp-lock-counter-{}", std::process::id()));
    std::fs::write(&path, "0").unwrap();
    let p = path.to_string_lossy().into_owned();
    let a = Process::spawn(increment_file, (lock.clone(), p.clone(), 100)).unwrap();
    let b = Process::spawn(increment_file, (lock.clone(), p.clone(), 100)).unwrap();
    join(&a).unwrap();
    join(&b).unwrap();
    let value = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    assert_eq!(value.trim(), "200");
}

fn lock_try_and_timeout() {
    let lock = Lock::new().unwrap();
    let guard = lock.try_acquire().unwrap();
    let start = Instant::now();
    assert!(matches!(
        lock.acquire_timeout(Duration::from_millis(100)),
        Err(LockError::Timeout)
    ));
    assert!(start.elapsed() >= Duration::from_millis(100));
    drop(guard);
    drop(lock.try_acquire().unwrap());
}

fn pipes_cross_processes() {
    let (mine, theirs) = duplex::<u64>().unwrap();
    let echo = Process::spawn(echo_doubled, theirs).unwrap();
    for x in 1..=10 {
        mine.send(x).unwrap();
        assert_eq!(mine.recv_timeout(WAIT), Ok(2 * x));
    }
    mine.send(0).unwrap();
    join(&echo).unwrap();

    let (tx, rx) = pipe::<String>().unwrap();
    let sender = Process::spawn(send_three, tx).unwrap();
    let got: Vec<String> = (0..3).map(|_| rx.recv_timeout(WAIT).unwrap()).collect();
    assert_eq!(got, ["a", "b", "c"]);
    join(&sender).unwrap();
    assert_eq!(rx.try_recv(), Ok(None));
}

fn handles_fail_cleanly_after_drop() {
    let queue = Queue::<u64>::new().unwrap();
    let dir = broker_dir(queue.socket_path());
    // A handle as a worker would see it: decoded, not owning the broker.
    let bytes = bincode::serde::encode_to_vec(&queue, bincode::config::standard()).unwrap();
    let (remote, _): (Queue<u64>, _) =
        bincode::serde::decode_from_slice(&bytes, bincode::config::standard()).unwrap();
    remote.put(7).unwrap();
    assert_eq!(queue.get_timeout(WAIT), Ok(7));
    // A handle of another type is refused.
    let (wrong, _): (Queue<String>, _) =
        bincode::serde::decode_from_slice(&bytes, bincode::config::standard()).unwrap();
    assert!(matches!(wrong.len(), Err(BrokerError::Refused(_))));
    drop(queue);
    assert!(!dir.exists());
    assert!(matches!(
        remote.get_timeout(WAIT),
        Err(BrokerError::Disconnected(_))
    ));
}
