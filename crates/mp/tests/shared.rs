//! Manager, SharedMemory and per-process statistics with real worker processes: this test
//! binary is also the worker executable, so its `main` calls `supervisor_mp::init()` first.

use std::time::{Duration, Instant};
use supervisor_mp::{
    DictProxy, ListProxy, Manager, ManagerGone, NamespaceProxy, Process, SharedMemory, ValueProxy,
    process_stats, task,
};

const TIMEOUT: Duration = Duration::from_secs(30);

task!(
    fn add_name(arg: (DictProxy<String, u64>, ListProxy<String>, String, u64)) -> () {
        let (dict, list, name, n) = arg;
        dict.insert(&name, n).expect("dict insert");
        list.push(&name).expect("list push");
    }
);

task!(
    fn insert_many(arg: (DictProxy<String, u64>, String, u64)) -> u64 {
        let (dict, name, count) = arg;
        for i in 0..count {
            dict.insert(format!("{name}-{i}"), i).expect("dict insert");
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
            dict.insert(format!("{name}-{i}"), i).expect("dict insert");
        }
    }
);

task!(
    fn insert_forever(arg: (DictProxy<String, u64>, String)) -> () {
        let (dict, name) = arg;
        for i in 0u64.. {
            dict.insert(format!("{name}-{i}"), i).expect("dict insert");
        }
    }
);

task!(
    fn push_expecting_gone(list: ListProxy<u64>) -> String {
        let err = list.push(1).expect_err("the manager was shut down");
        assert!(ManagerGone::is(&err), "{err}");
        err.to_string()
    }
);

task!(
    fn use_namespace(arg: (NamespaceProxy, ValueProxy<u64>)) -> () {
        let (ns, counter) = arg;
        assert_eq!(ns.get::<String>("name").unwrap().as_deref(), Some("main"));
        ns.set("name", "child".to_string()).unwrap();
        ns.set("bytes", vec![1u8, 2, 3]).unwrap();
        for _ in 0..100 {
            let v = counter.get().unwrap();
            counter.set(v + 1).unwrap();
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
        (
            "manager_temporary_and_shutdown",
            manager_temporary_and_shutdown,
        ),
        (
            "manager_killed_is_gone_for_clients",
            manager_killed_is_gone_for_clients,
        ),
        ("manager_namespace_and_value", manager_namespace_and_value),
        (
            "manager_proxy_keeps_one_connection",
            manager_proxy_keeps_one_connection,
        ),
        (
            "manager_clients_killed_at_random_points",
            manager_clients_killed_at_random_points,
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
    dict.insert(String::from("after"), 1).unwrap();
    assert_eq!(dict.get(&"after".into()).unwrap(), Some(1));
}

fn manager_drop_removes_its_directory() {
    let manager = Manager::start().unwrap();
    let dict = manager.dict::<u32, u32>();
    dict.insert(1, 2).unwrap();
    let dir = manager.socket_path().parent().unwrap().to_path_buf();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    // The proxy keeps the manager alive after the `Manager` is dropped...
    drop(manager);
    assert!(dir.exists());
    assert_eq!(dict.get(&1).unwrap(), Some(2));
    // ...and a proxy as another process sees it (decoded: no share of the manager's life)
    // fails with `ManagerGone` once the last owner is dropped.
    let bytes = bincode::serde::encode_to_vec(&dict, bincode::config::standard()).unwrap();
    let (remote, _): (DictProxy<u32, u32>, _) =
        bincode::serde::decode_from_slice(&bytes, bincode::config::standard()).unwrap();
    assert_eq!(remote.get(&1).unwrap(), Some(2));
    drop(dict);
    assert!(!dir.exists());
    let started = Instant::now();
    let err = remote.get(&1).unwrap_err();
    assert!(ManagerGone::is(&err), "{err}");
    assert_eq!(err.kind(), std::io::ErrorKind::NotConnected);
    assert!(started.elapsed() < TIMEOUT);
}

fn manager_temporary_and_shutdown() {
    // Python: `d = Manager().dict()` works; the proxy holds the manager.
    let d = Manager::start().unwrap().dict::<String, u64>();
    d.insert("a".to_string(), 1).unwrap();
    let b = "b".to_string();
    let two = 2;
    // Borrowed key and value: the call form of code written when `insert` took only these.
    #[allow(clippy::needless_borrows_for_generic_args)]
    d.insert(&b, &two).unwrap();
    assert_eq!(d.get(&b).unwrap(), Some(two));
    let child = Process::spawn(insert_many, (d.clone(), "child".into(), 10)).unwrap();
    assert_eq!(join(&child).unwrap(), 10);
    assert_eq!(d.len().unwrap(), 12);
    assert!(d.contains_key(&"a".into()).unwrap());
    drop(d);
    // shutdown() stops it at once, proxies or not; a child using a proxy then gets the same
    // clear error.
    let manager = Manager::start().unwrap();
    let list = manager.list::<u64>();
    list.push(5).unwrap();
    assert_eq!(list.set(0, 6).unwrap(), 5);
    assert!(list.set(3, 1).is_err());
    manager.shutdown();
    assert_eq!(manager.pid(), None);
    let err = list.push(1).unwrap_err();
    assert!(ManagerGone::is(&err), "{err}");
    let user = Process::spawn(push_expecting_gone, list.clone()).unwrap();
    assert!(join(&user).unwrap().contains("manager is gone"));
}

fn manager_killed_is_gone_for_clients() {
    let manager = Manager::start().unwrap();
    let dict = manager.dict::<String, u64>();
    dict.insert("x".to_string(), 1).unwrap();
    let pid = manager.pid().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_until("the manager's connection to fail", || {
        dict.get(&"x".to_string()).is_err()
    });
    let err = dict.insert("y".to_string(), 2).unwrap_err();
    assert!(ManagerGone::is(&err), "{err}");
}

fn manager_namespace_and_value() {
    let manager = Manager::start().unwrap();
    let ns = manager.namespace();
    let counter = manager.value(0u64).unwrap();
    ns.set("name", "main".to_string()).unwrap();
    let child = Process::spawn(use_namespace, (ns.clone(), counter.clone())).unwrap();
    join(&child).unwrap();
    assert_eq!(ns.get::<String>("name").unwrap().as_deref(), Some("child"));
    assert_eq!(ns.get::<Vec<u8>>("bytes").unwrap(), Some(vec![1, 2, 3]));
    assert_eq!(ns.get::<u8>("missing").unwrap(), None);
    assert_eq!(ns.names().unwrap().len(), 2);
    assert!(ns.remove("bytes").unwrap());
    assert!(!ns.remove("bytes").unwrap());
    assert_eq!(counter.get().unwrap(), 100);
    counter.set(7).unwrap();
    assert_eq!(counter.get().unwrap(), 7);
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
    d.insert("a".to_string(), 1).unwrap();
    assert_eq!(d.get(&"a".to_string()).unwrap(), Some(1));
    manager.shutdown();
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

/// Clients SIGKILLed at random points of their updates, many times, two at a time on one
/// dict: after each round every killed client's entries are a prefix 0..k (each update whole
/// or absent), the other clients' are complete, the pids are gone, and the manager serves.
fn manager_clients_killed_at_random_points() {
    let manager = Manager::start().unwrap();
    let dict = manager.dict::<String, u64>();
    let mut seed = std::process::id() as u64 | 1;
    let mut below = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    for round in 0..12 {
        let steady = Process::spawn(insert_many, (dict.clone(), format!("s{round}"), 300)).unwrap();
        let doomed: Vec<_> = (0..2)
            .map(|i| {
                Process::spawn(insert_forever, (dict.clone(), format!("k{round}.{i}"))).unwrap()
            })
            .collect();
        let first = format!("k{round}.0-{}", below(100));
        wait_until("the doomed clients to make updates", || {
            dict.get(&first).unwrap().is_some()
        });
        for p in &doomed {
            let until = Instant::now() + Duration::from_micros(below(5_000));
            while Instant::now() < until {
                std::hint::spin_loop();
            }
            let pid = p.pid().unwrap();
            p.kill();
            assert!(join(p).is_err());
            assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
        }
        assert_eq!(join(&steady).unwrap(), 300);
        let snapshot = dict.snapshot().unwrap();
        for n in 0..300u64 {
            assert_eq!(
                snapshot.get(&format!("s{round}-{n}")),
                Some(&n),
                "round {round}"
            );
        }
        for i in 0..2 {
            let prefix = format!("k{round}.{i}-");
            let mut values: Vec<u64> = snapshot
                .iter()
                .filter(|(k, _)| k.starts_with(&prefix))
                .map(|(k, v)| {
                    assert_eq!(k, &format!("{prefix}{v}"), "round {round}: torn update");
                    *v
                })
                .collect();
            values.sort_unstable();
            assert_eq!(
                values,
                (0..values.len() as u64).collect::<Vec<_>>(),
                "round {round}"
            );
        }
        dict.insert(format!("after{round}"), round).unwrap();
        assert_eq!(dict.get(&format!("after{round}")).unwrap(), Some(round));
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// One persistent connection per proxy: the first operation opens it, the next thousand reuse
/// it; a clone (another proxy) has its own.
fn manager_proxy_keeps_one_connection() {
    let manager = Manager::start().unwrap();
    let dict = manager.dict::<u64, u64>();
    let before = open_fds();
    dict.insert(0, 0).unwrap();
    let connected = open_fds();
    assert_eq!(connected, before + 1);
    for i in 1..1000 {
        dict.insert(i, i).unwrap();
    }
    assert_eq!(open_fds(), connected);
    let other = dict.clone();
    assert_eq!(other.len().unwrap(), 1000);
    assert_eq!(open_fds(), connected + 1);
    drop(other);
    assert_eq!(open_fds(), connected);
}
