//! Probes against listeners on the loopback interface only (127.0.0.1 and [::1]).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use super::*;

const TIMEOUT: Duration = Duration::from_millis(300);

fn target_of(addr: SocketAddr) -> Target {
    parse_target(&addr.to_string()).unwrap()
}

/// A port on `ip` that was just listening and no longer is.
fn closed_port(ip: &str) -> Option<SocketAddr> {
    let listener = TcpListener::bind((ip, 0)).ok()?;
    listener.local_addr().ok()
}

/// A listener whose accept queue is full, so the kernel drops further SYNs and a connect
/// hangs until its timeout. Returns `None` (test skipped) where that cannot be arranged,
/// e.g. when the fd limit is below the backlog (std listens with the system maximum).
fn saturated_listener() -> Option<(TcpListener, Vec<TcpStream>)> {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut clients = Vec::new();
    for _ in 0..20_000 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
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

#[test]
fn listening_port_is_up_with_a_latency() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = target_of(listener.local_addr().unwrap());
    let got = probe(&target, TIMEOUT);
    assert_eq!(got.status, ProbeStatus::Up, "{got:?}");
    assert_eq!(got.target, target.to_string());
    let latency = got.latency_ms.unwrap();
    assert!((0.0..300.0).contains(&latency), "{latency}");
    assert_eq!(got.error, None);
}

#[test]
fn closed_port_is_down() {
    let target = target_of(closed_port("127.0.0.1").unwrap());
    let got = probe(&target, TIMEOUT);
    assert_eq!(got.status, ProbeStatus::Down, "{got:?}");
    assert_eq!(got.error.as_deref(), Some("Connection refused"));
    assert_eq!(got.latency_ms, None);
}

#[test]
fn ipv6_loopback_up_and_down() {
    let Ok(listener) = TcpListener::bind("[::1]:0") else {
        eprintln!("skipped: cannot bind [::1]");
        return;
    };
    let up = target_of(listener.local_addr().unwrap());
    assert_eq!(up.host, "::1");
    let down = target_of(closed_port("::1").unwrap());
    let got = probe_group(&[up.clone(), down.clone()], TIMEOUT);
    assert_eq!(got[0].status, ProbeStatus::Up, "{got:?}");
    assert_eq!(got[0].target, up.to_string());
    assert!(got[0].target.starts_with("[::1]:"));
    assert_eq!(got[1].status, ProbeStatus::Down, "{got:?}");
}

#[test]
fn malformed_target_is_a_parse_error() {
    assert!(matches!(
        parse_target("127.0.0.1"),
        Err(TargetError::MissingPort(_))
    ));
}

#[test]
fn full_backlog_times_out_within_the_timeout() {
    let Some((listener, _clients)) = saturated_listener() else {
        return;
    };
    let target = target_of(listener.local_addr().unwrap());
    let began = Instant::now();
    let got = probe(&target, TIMEOUT);
    let took = began.elapsed();
    assert_eq!(got.status, ProbeStatus::Timeout, "{got:?}");
    assert_eq!(got.error.as_deref(), Some("connect timed out after 300ms"));
    assert!(took >= TIMEOUT - Duration::from_millis(20), "{took:?}");
    assert!(took < TIMEOUT * 3, "{took:?}");
}

#[test]
fn group_is_concurrent_and_keeps_input_order() {
    let Some((full, _clients)) = saturated_listener() else {
        return;
    };
    let open = TcpListener::bind("127.0.0.1:0").unwrap();
    let hanging = target_of(full.local_addr().unwrap());
    let up = target_of(open.local_addr().unwrap());
    let down = target_of(closed_port("127.0.0.1").unwrap());
    let mut targets = Vec::new();
    for _ in 0..4 {
        targets.extend([hanging.clone(), up.clone(), down.clone()]);
    }
    let task = ProbeTask {
        targets: targets.clone(),
        timeout: TIMEOUT,
    };
    let began = Instant::now();
    let got = task.run();
    let took = began.elapsed();
    // Four timeouts one after the other would take 1.2 s.
    assert!(took < TIMEOUT * 3, "{took:?}");
    let statuses: Vec<_> = got.iter().map(|r| r.status.to_string()).collect();
    assert_eq!(statuses, ["timeout", "up", "down"].repeat(4));
    for (result, target) in got.iter().zip(&targets) {
        assert_eq!(result.target, target.to_string());
    }
}

#[test]
fn empty_group_and_serde() {
    assert!(probe_group(&[], TIMEOUT).is_empty());
    let config = bincode::config::standard();
    let result = ProbeResult {
        target: "[::1]:22".into(),
        status: ProbeStatus::Timeout,
        latency_ms: None,
        error: Some("connect timed out after 300ms".into()),
    };
    let encoded = bincode::serde::encode_to_vec(&result, config).unwrap();
    let (back, _): (ProbeResult, usize) =
        bincode::serde::decode_from_slice(&encoded, config).unwrap();
    assert_eq!(back, result);
    let task = ProbeTask {
        targets: vec![parse_target("[::1]:22").unwrap()],
        timeout: TIMEOUT,
    };
    let encoded = bincode::serde::encode_to_vec(&task, config).unwrap();
    let (back, _): (ProbeTask, usize) =
        bincode::serde::decode_from_slice(&encoded, config).unwrap();
    assert_eq!(back, task);
}
