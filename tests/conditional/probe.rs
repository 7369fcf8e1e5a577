//! `run probe` against listeners the test opens on the loopback interface only (127.0.0.1 and
//! [::1]): up, down, timeout and error results, in input order, and the exit codes.

use crate::harness::Test;
use crate::support::{Finished, closed_port, run, supervisor_run, tempdir};
use serde_json::Value;
use std::net::TcpListener;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_millis(500);
const TIMEOUT_ARG: &str = "500ms";

/// `run -w 2 --format json probe --connect-timeout 500ms ARGS...`.
fn probe(extra: &[&str]) -> Finished {
    run(supervisor_run()
        .args(["-w", "2", "--format", "json", "probe"])
        .args(["--connect-timeout", TIMEOUT_ARG])
        .args(extra))
}

fn results(done: &Finished) -> Vec<Value> {
    done.json()["results"]
        .as_array()
        .expect("results is an array")
        .clone()
}

fn open_listener(ip: &str) -> Option<(TcpListener, String)> {
    let listener = TcpListener::bind((ip, 0)).ok()?;
    let text = listener.local_addr().ok()?.to_string();
    Some((listener, text))
}

fn assert_up(r: &Value, target: &str) {
    assert_eq!(r["target"], target, "{r}");
    assert_eq!(r["status"], "up", "{r}");
    let latency = r["latency_ms"].as_f64().unwrap_or_else(|| panic!("{r}"));
    assert!(
        (0.0..TIMEOUT.as_millis() as f64).contains(&latency),
        "latency out of range: {r}"
    );
    assert_eq!(r["error"], Value::Null, "{r}");
}

fn assert_down(r: &Value, target: &str) {
    assert_eq!(r["target"], target, "{r}");
    assert_eq!(r["status"], "down", "{r}");
    assert_eq!(r["latency_ms"], Value::Null, "{r}");
    assert_eq!(r["error"], "Connection refused", "{r}");
}

fn assert_timeout(r: &Value, target: &str) {
    assert_eq!(r["target"], target, "{r}");
    assert_eq!(r["status"], "timeout", "{r}");
    assert_eq!(r["latency_ms"], Value::Null, "{r}");
    let error = r["error"].as_str().unwrap_or_else(|| panic!("{r}"));
    assert!(
        error.contains("timed out") && error.contains(TIMEOUT_ARG),
        "timeout error does not name the timeout: {r}"
    );
}

fn assert_error(r: &Value, target: &str) -> String {
    assert_eq!(r["target"], target, "{r}");
    assert_eq!(r["status"], "error", "{r}");
    assert_eq!(r["latency_ms"], Value::Null, "{r}");
    let error = r["error"].as_str().unwrap_or_else(|| panic!("{r}"));
    assert!(!error.is_empty(), "{r}");
    error.to_owned()
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Up,
    Down,
    Timeout,
    Malformed,
}

fn every_status_comes_back_in_input_order() {
    let (full, _clients) = saturated_listener().expect("checked by needs_a_full_backlog");
    let (_open, up) = open_listener("127.0.0.1").unwrap();
    let down = closed_port("127.0.0.1").unwrap().to_string();
    let hanging = full.local_addr().unwrap().to_string();
    let v6 = open_listener("::1");
    if v6.is_none() {
        eprintln!("note: [::1] cannot be bound; the IPv6 target is left out");
    }

    let mut targets: Vec<(String, Kind)> = vec![
        (hanging.clone(), Kind::Timeout),
        (up.clone(), Kind::Up),
        ("no-port-here".into(), Kind::Malformed),
        (down.clone(), Kind::Down),
    ];
    if let Some((_, text)) = &v6 {
        assert!(text.starts_with("[::1]:"), "{text}");
        targets.push((text.clone(), Kind::Up));
        let v6_down = closed_port("::1").unwrap().to_string();
        targets.push((v6_down, Kind::Down));
    }
    targets.extend([
        (down.clone(), Kind::Down),
        ("http://127.0.0.1:80".into(), Kind::Malformed),
        (up.clone(), Kind::Up),
        (hanging.clone(), Kind::Timeout),
        ("127.0.0.1:0".into(), Kind::Malformed),
        (up.clone(), Kind::Up),
    ]);
    let args: Vec<&str> = targets.iter().map(|(t, _)| t.as_str()).collect();
    let done = probe(&args);
    // Malformed targets are failed results.
    done.assert_code(1);
    let got = results(&done);
    assert_eq!(got.len(), targets.len(), "{got:?}");
    for (r, (target, kind)) in got.iter().zip(&targets) {
        match kind {
            Kind::Up => assert_up(r, target),
            Kind::Down => assert_down(r, target),
            Kind::Timeout => assert_timeout(r, target),
            Kind::Malformed => {
                let error = assert_error(r, target);
                assert!(error.contains(target.as_str()), "{r}");
            }
        }
    }
    drop(v6);
}

fn a_full_backlog_times_out_after_about_the_connect_timeout() {
    let (full, _clients) = saturated_listener().expect("checked by needs_a_full_backlog");
    let target = full.local_addr().unwrap().to_string();
    let began = Instant::now();
    let done = probe(&[&target]);
    let took = began.elapsed();
    done.assert_code(0);
    let doc = done.json();
    assert_timeout(&doc["results"][0], &target);
    let elapsed = Duration::from_millis(doc["summary"]["elapsed_ms"].as_u64().unwrap());
    assert!(
        elapsed >= TIMEOUT - Duration::from_millis(50),
        "gave up before the timeout: {elapsed:?}"
    );
    assert!(took < TIMEOUT * 6, "a 500 ms timeout took {took:?}");
}

fn ipv6_loopback_port_is_up() {
    let (_listener, target) = open_listener("::1").expect("checked by needs_ipv6");
    let done = probe(&[&target]);
    done.assert_code(0);
    assert_up(&results(&done)[0], &target);
}

fn targets_file_skips_comments_and_blanks_and_names_a_bad_line() {
    let (_open, up) = open_listener("127.0.0.1").unwrap();
    let down = closed_port("127.0.0.1").unwrap().to_string();
    let dir = tempdir();
    let file = dir.path().join("targets.txt");
    let text = format!(
        "# targets for the test\n\n{up}   # trailing comment\n   \n\tthis is garbage\n# {down} commented out\n{down}\n"
    );
    std::fs::write(&file, text).unwrap();
    let done = probe(&[&up, "--targets-file", file.to_str().unwrap()]);
    done.assert_code(1);
    let got = results(&done);
    assert_eq!(got.len(), 4, "{got:?}");
    assert_up(&got[0], &up);
    assert_up(&got[1], &up);
    let error = got[2]["error"].as_str().unwrap_or_default();
    assert_eq!(got[2]["status"], "error", "{}", got[2]);
    assert!(
        got[2]["target"]
            .as_str()
            .unwrap()
            .contains("this is garbage"),
        "{}",
        got[2]
    );
    assert!(
        error.contains(&format!("{}:5", file.display())),
        "the error does not name line 5 of the file: {}",
        got[2]
    );
    assert_down(&got[3], &down);
}

fn down_targets_fail_the_run_only_with_fail_on_down() {
    let (_open, up) = open_listener("127.0.0.1").unwrap();
    let down = closed_port("127.0.0.1").unwrap().to_string();

    let done = probe(&[&up, &down]);
    done.assert_code(0);
    let got = results(&done);
    assert_up(&got[0], &up);
    assert_down(&got[1], &down);

    let done = probe(&[&up, &down, "--fail-on-down"]);
    done.assert_code(1);
    let got = results(&done);
    assert_up(&got[0], &up);
    assert_down(&got[1], &down);

    // All up: --fail-on-down has nothing to fail on.
    probe(&[&up, &up, "--fail-on-down"]).assert_code(0);
}

fn many_targets_are_probed_concurrently() {
    let (full, _clients) = saturated_listener().expect("checked by needs_a_full_backlog");
    let hanging = full.local_addr().unwrap().to_string();
    let mut targets: Vec<(String, bool)> = Vec::new();
    for i in 0..40 {
        if i % 2 == 0 {
            targets.push((hanging.clone(), true));
        } else {
            targets.push((closed_port("127.0.0.1").unwrap().to_string(), false));
        }
    }
    let args: Vec<&str> = targets.iter().map(|(t, _)| t.as_str()).collect();
    let began = Instant::now();
    let done = probe(&args);
    let took = began.elapsed();
    done.assert_code(0);
    let got = results(&done);
    assert_eq!(got.len(), 40);
    for (r, (target, hangs)) in got.iter().zip(&targets) {
        if *hangs {
            assert_timeout(r, target);
        } else {
            assert_down(r, target);
        }
    }
    // One after the other, the 20 timeouts alone would take 10 s.
    assert!(
        took < TIMEOUT * 10,
        "40 targets with a 500 ms timeout took {took:?}: not probed concurrently"
    );
}

/// The probe tests; those that need a listener whose accept queue can be filled, or IPv6
/// loopback, report themselves ignored where the machine cannot give them that.
pub fn tests() -> Vec<Test> {
    vec![
        Test::when(
            "probe::every_status_comes_back_in_input_order",
            needs_a_full_backlog,
            every_status_comes_back_in_input_order,
        ),
        Test::when(
            "probe::a_full_backlog_times_out_after_about_the_connect_timeout",
            needs_a_full_backlog,
            a_full_backlog_times_out_after_about_the_connect_timeout,
        ),
        Test::when(
            "probe::ipv6_loopback_port_is_up",
            needs_ipv6,
            ipv6_loopback_port_is_up,
        ),
        Test::new(
            "probe::targets_file_skips_comments_and_blanks_and_names_a_bad_line",
            targets_file_skips_comments_and_blanks_and_names_a_bad_line,
        ),
        Test::new(
            "probe::down_targets_fail_the_run_only_with_fail_on_down",
            down_targets_fail_the_run_only_with_fail_on_down,
        ),
        Test::when(
            "probe::many_targets_are_probed_concurrently",
            needs_a_full_backlog,
            many_targets_are_probed_concurrently,
        ),
    ]
}

/// A timeout target needs a listener whose accept queue is full (the kernel then drops SYNs).
fn needs_a_full_backlog() -> Option<String> {
    static CAN: OnceLock<bool> = OnceLock::new();
    let can = *CAN.get_or_init(|| saturated_listener().is_some());
    (!can).then(|| {
        "cannot fill a listener's accept queue on 127.0.0.1 here (no timeout target)".into()
    })
}

fn needs_ipv6() -> Option<String> {
    TcpListener::bind("[::1]:0")
        .is_err()
        .then(|| "cannot bind [::1] (no IPv6 loopback)".into())
}

/// A listener that is never accepted from and whose accept queue is full, so the kernel drops
/// further SYNs and a connect to it hangs until its timeout; with the client connections that
/// fill it (keep both alive). The backlog is first lowered to 1 so that a few connections
/// fill it, then clients connect until one attempt times out. `None` (the caller skips) where
/// that cannot be arranged.
fn saturated_listener() -> Option<(std::net::TcpListener, Vec<std::net::TcpStream>)> {
    use std::os::fd::AsRawFd;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").ok()?;
    // SAFETY: listen(2) on a socket this function owns; it only changes the backlog.
    let lowered = unsafe { libc::listen(listener.as_raw_fd(), 1) } == 0;
    if !lowered {
        eprintln!("note: could not lower the backlog; filling the system maximum");
    }
    let addr = listener.local_addr().ok()?;
    let mut clients = Vec::new();
    for _ in 0..20_000 {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
            Ok(stream) => clients.push(stream),
            Err(err) if err.kind() == std::io::ErrorKind::TimedOut => {
                return Some((listener, clients));
            }
            Err(err) => {
                eprintln!(
                    "skipped: could not fill the backlog after {} connections: {err}",
                    clients.len()
                );
                return None;
            }
        }
    }
    eprintln!("skipped: the backlog never filled");
    None
}
