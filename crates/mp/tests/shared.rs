//! Manager, SharedMemory and per-process statistics with real worker processes: this test
//! binary is also the worker executable, so its `main` calls `supervisor_mp::init()` first.

use std::time::{Duration, Instant};
use supervisor_mp::{DictProxy, ListProxy, Manager, Process, SharedMemory, process_stats, task};

const TIMEOUT: Duration = Duration::from_secs(30);

task!(
    fn add_name(arg: (DictProxy<String, u64>, ListProxy<String>, String, u64)) -> () {
        let (dict, list, name, n) = arg;
        dict.insert(&name, &n).expect("dict insert");
        list.push(&name).expect("list push");
    }
);

task!(
    fn insert_many(arg: (DictProxy<String, u64>, String, u64)) -> u64 {
        let (dict, name, count) = arg;
        for i in 0..count {
            dict.insert(&format!("{name}-{i}"), &i)
                .expect("dict insert");
        }
        count
    }
);

task!(
    fn insert_then_abort(arg: (DictProxy<String, u64>, String, u64)) -> () {
        let (dict, name, after) = arg;
        for i in 0.. {
            if i == after {
                std::process::abort();
            }
            dict.insert(&format!("{name}-{i}"), &i)
                .expect("dict insert");
        }
    }
);

task!(
    fn insert_forever(arg: (DictProxy<String, u64>, String)) -> () {
        let (dict, name) = arg;
        for i in 0u64.. {
            dict.insert(&format!("{name}-{i}"), &i)
                .expect("dict insert");
        }
    }
);

task!(
    fn write_shm(arg: (String, Vec<u8>)) -> usize {
        let (name, data) = arg;
        let mut shm = SharedMemory::open(&name).expect("open");
        shm.write_at(0, &data).expect("write");
        shm.len()
    }
);

task!(
    fn write_shm_and_hang(arg: (String, Vec<u8>)) -> () {
        let (name, data) = arg;
        let mut shm = SharedMemory::open(&name).expect("open");
        shm.write_at(0, &data).expect("write");
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
);

task!(
    fn spin(ms: u64) -> u64 {
        let deadline = Instant::now() + Duration::from_millis(ms);
        let mut x = 0u64;
        let buf = vec![1u8; 8 << 20];
        while Instant::now() < deadline {
            x = x.wrapping_add(buf.iter().step_by(4096).map(|&b| u64::from(b)).sum::<u64>());
        }
        x
    }
);

mod common;

fn main() -> std::process::ExitCode {
    supervisor_mp::init();
    let tests: &[(&str, fn())] = &[
        (
            "manager_four_processes_add_their_names",
            manager_four_processes_add_their_names,
        ),
        (
            "manager_survives_killed_clients",
            manager_survives_killed_clients,
        ),
        (
            "manager_drop_removes_its_directory",
            manager_drop_removes_its_directory,
        ),
        ("manager_is_a_child_process", manager_is_a_child_process),
        (
            "shared_memory_written_by_a_child",
            shared_memory_written_by_a_child,
        ),
        (
            "shared_memory_outlives_a_killed_child",
            shared_memory_outlives_a_killed_child,
        ),
        (
            "shared_memory_removed_on_owner_panic",
            shared_memory_removed_on_owner_panic,
        ),
        ("stats_of_a_running_process", stats_of_a_running_process),
    ];
    common::run_tests(tests)
}

/// Polls `done` until it holds, failing after `TIMEOUT`.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn join<R: serde::de::DeserializeOwned + std::fmt::Debug>(
    p: &Process<R>,
) -> Result<R, supervisor_mp::TaskError> {
    p.join_timeout(TIMEOUT)
        .expect("the process did not end in time")
}

fn manager_four_processes_add_their_names() {
    let manager = Manager::start().unwrap();
    let dict = manager.dict::<String, u64>();
    let list = manager.list::<String>();
    let names = ["bob", "alice", "carol", "dave"];
    let processes: Vec<_> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            Process::spawn(
                add_name,
                (dict.clone(), list.clone(), name.to_string(), i as u64),
            )
            .unwrap()
        })
        .collect();
    for p in &processes {
        join(p).unwrap();
    }
    let snapshot = dict.snapshot().unwrap();
    assert_eq!(snapshot.len(), 4);
    for (i, name) in names.iter().enumerate() {
        assert_eq!(snapshot.get(*name), Some(&(i as u64)));
        assert_eq!(dict.get(&name.to_string()).unwrap(), Some(i as u64));
    }
    let mut items = list.snapshot().unwrap();
    items.sort();
    let mut expected: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(items, expected);
    assert_eq!(list.len().unwrap(), 4);
    assert!(list.get(0).unwrap().is_some());
    assert_eq!(list.get(4).unwrap(), None);
    assert_eq!(dict.remove(&"bob".to_string()).unwrap(), Some(0));
    assert_eq!(dict.len().unwrap(), 3);
}

fn manager_survives_killed_clients() {
    let manager = Manager::start().unwrap();
    let dict = manager.dict::<String, u64>();
    let normal: Vec<_> = (0..3)
        .map(|i| Process::spawn(insert_many, (dict.clone(), format!("ok{i}"), 200)).unwrap())
        .collect();
    let aborting = Process::spawn(insert_then_abort, (dict.clone(), "abort".into(), 50)).unwrap();
    let killed = Process::spawn(insert_forever, (dict.clone(), "killed".into())).unwrap();
    // Kill the endless client in the middle of its updates.
    wait_until("the endless client to make updates", || {
        dict.get(&"killed-20".to_string()).unwrap().is_some()
    });
    killed.kill();
    assert!(join(&killed).is_err());
    let aborted = join(&aborting).unwrap_err();
    assert!(aborted.to_string().contains("SIGABRT"), "{aborted}");
    for p in &normal {
        assert_eq!(join(p).unwrap(), 200);
    }
    let snapshot = dict.snapshot().unwrap();
    assert_eq!(snapshot.len(), dict.len().unwrap());
    for i in 0..3 {
        for n in 0..200u64 {
            assert_eq!(snapshot.get(&format!("ok{i}-{n}")), Some(&n));
        }
    }
    // The aborting client's 50 acknowledged updates are all there, nothing after them.
    for n in 0..50u64 {
        assert_eq!(snapshot.get(&format!("abort-{n}")), Some(&n));
    }
    assert_eq!(snapshot.get("abort-50"), None);
    // The killed client's updates form a prefix 0..k: every value matches its key.
    let killed_keys: Vec<u64> = snapshot
        .iter()
        .filter(|(k, _)| k.starts_with("killed-"))
        .map(|(k, v)| {
            assert_eq!(k, &format!("killed-{v}"));
            *v
        })
        .collect();
    let k = killed_keys.len() as u64;
    assert!(k > 20);
    assert!((0..k).all(|n| snapshot.contains_key(&format!("killed-{n}"))));
    // Still serving.
    dict.insert(&"after".into(), &1).unwrap();
    assert_eq!(dict.get(&"after".into()).unwrap(), Some(1));
}

fn manager_drop_removes_its_directory() {
    let manager = Manager::start().unwrap();
    let dict = manager.dict::<u32, u32>();
    dict.insert(&1, &2).unwrap();
    let dir = manager.socket_path().parent().unwrap().to_path_buf();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    drop(manager);
    assert!(!dir.exists());
    let started = Instant::now();
    assert!(dict.get(&1).is_err());
    assert!(started.elapsed() < TIMEOUT);
}

fn dev_shm(name: &str) -> std::path::PathBuf {
    std::path::Path::new("/dev/shm").join(name)
}

fn shared_memory_written_by_a_child() {
    let shm = SharedMemory::create(4096).unwrap();
    assert_eq!(shm.len(), 4096);
    assert!(shm.is_owner());
    assert!(dev_shm(shm.name()).exists());
    let p = Process::spawn(
        write_shm,
        (shm.name().to_string(), b"hello from the child".to_vec()),
    )
    .unwrap();
    assert_eq!(join(&p).unwrap(), 4096);
    let mut buf = [0u8; 20];
    shm.read_at(0, &mut buf).unwrap();
    assert_eq!(&buf, b"hello from the child");
    assert!(shm.read_at(4090, &mut buf).is_err());
    let name = shm.name().to_string();
    drop(shm);
    assert!(!dev_shm(&name).exists());
    assert!(SharedMemory::open(&name).is_err());
}

fn shared_memory_outlives_a_killed_child() {
    let mut shm = SharedMemory::create(64).unwrap();
    let name = shm.name().to_string();
    let p = Process::spawn(write_shm_and_hang, (name.clone(), vec![7u8; 8])).unwrap();
    wait_until("the child to write", || {
        let mut buf = [0u8; 8];
        shm.read_at(0, &mut buf).unwrap();
        buf == [7u8; 8]
    });
    p.kill();
    assert!(join(&p).is_err());
    // Still usable, still named.
    shm.write_at(8, b"parent").unwrap();
    assert_eq!(
        &shm.to_vec()[..14],
        b"\x07\x07\x07\x07\x07\x07\x07\x07parent"
    );
    assert!(dev_shm(&name).exists());
    let other = SharedMemory::open(&name).unwrap();
    assert!(!other.is_owner());
    drop(other);
    assert!(dev_shm(&name).exists(), "a non-owner must not unlink");
    drop(shm);
    assert!(!dev_shm(&name).exists());
}

fn shared_memory_removed_on_owner_panic() {
    let name = std::sync::Mutex::new(String::new());
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {})); // the panic below is expected: keep the output clean
    let result = std::panic::catch_unwind(|| {
        let shm = SharedMemory::create(16).unwrap();
        *name.lock().unwrap() = shm.name().to_string();
        panic!("owner panics");
    });
    std::panic::set_hook(hook);
    assert!(result.is_err());
    let name = name.into_inner().unwrap();
    assert!(!name.is_empty());
    assert!(!dev_shm(&name).exists());
    // unlink() by an attached handle removes the name; mappings stay usable.
    let mut shm = SharedMemory::create(16).unwrap();
    let mut other = SharedMemory::open(shm.name()).unwrap();
    other.unlink().unwrap();
    assert!(!dev_shm(shm.name()).exists());
    shm.write_at(0, b"x").unwrap();
    let mut b = [0u8; 1];
    other.read_at(0, &mut b).unwrap();
    assert_eq!(&b, b"x");
}

fn stats_of_a_running_process() {
    let me = process_stats(std::process::id()).unwrap();
    assert!(me.rss_bytes > 0);
    let p = Process::spawn(spin, 20_000).unwrap();
    let pid = p.pid().unwrap();
    let mut last = None;
    wait_until("the child to use CPU and memory", || {
        let stats = p.stats().unwrap();
        assert_eq!(stats.pid, pid);
        let ok = stats.rss_bytes > 8 << 20 && stats.cpu_time() >= Duration::from_millis(50);
        last = Some(stats);
        ok
    });
    let stats = last.unwrap();
    assert!(stats.cpu_time() < Duration::from_secs(60), "{stats:?}");
    assert!(stats.rss_bytes < 1 << 40, "{stats:?}");
    p.kill();
    assert!(join(&p).is_err());
    assert!(p.stats().is_err());
    assert!(process_stats(pid).is_err());
}

/// The parent pid and state of `pid`, from `/proc/<pid>/stat` (`None`: no such process).
fn parent_and_state(pid: u32) -> Option<(u32, char)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((ppid, state))
}

fn manager_is_a_child_process() {
    let manager = Manager::start().unwrap();
    let pid = manager.pid().expect("the manager process has a pid");
    assert_ne!(pid, std::process::id());
    let (ppid, state) = parent_and_state(pid).expect("the manager process is running");
    assert_eq!(
        ppid,
        std::process::id(),
        "the manager is a child of this process"
    );
    assert_ne!(state, 'Z');
    let d: DictProxy<String, u64> = manager.dict();
    d.insert(&"a".to_string(), &1).unwrap();
    assert_eq!(d.get(&"a".to_string()).unwrap(), Some(1));
    drop(manager);
    // Killed and reaped: gone, or at least no longer our child.
    if let Some((ppid, _)) = parent_and_state(pid) {
        assert_ne!(
            ppid,
            std::process::id(),
            "the manager process survived the drop"
        );
    }
    assert!(d.get(&"a".to_string()).is_err());
}
