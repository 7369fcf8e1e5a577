//! Probing one target: resolve, then connect, all within one deadline.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::resolve::{ResolveError, resolve};
use super::{ProbeResult, ProbeStatus, Target};
use crate::describe_io_error;

/// Probes `target`: resolves its name, then tries each address in the resolver's order until
/// one accepts, all within `timeout` from now. The connection is closed at once; nothing is
/// sent.
///
/// When no address accepts, the status is [`ProbeStatus::Down`] if any refused (the host is
/// there, the port is closed), else [`ProbeStatus::Timeout`] if the deadline passed, else
/// [`ProbeStatus::Error`] with the last address's error. A zero `timeout` times out at once.
pub fn probe(target: &Target, timeout: Duration) -> ProbeResult {
    let deadline = Instant::now() + timeout;
    let outcome = match resolve(target, deadline) {
        Ok(addrs) => connect_any(&addrs, deadline, timeout),
        Err(ResolveError::TimedOut) => Outcome::failed(
            ProbeStatus::Timeout,
            format!("name resolution timed out after {}", human(timeout)),
        ),
        Err(ResolveError::Failed(message)) => Outcome::failed(ProbeStatus::Error, message),
    };
    ProbeResult {
        target: target.to_string(),
        status: outcome.status,
        latency_ms: outcome.latency.map(|d| d.as_secs_f64() * 1000.0),
        error: outcome.error,
    }
}

struct Outcome {
    status: ProbeStatus,
    latency: Option<Duration>,
    error: Option<String>,
}

impl Outcome {
    fn failed(status: ProbeStatus, message: String) -> Self {
        Outcome {
            status,
            latency: None,
            error: Some(message),
        }
    }
}

fn connect_any(addrs: &[SocketAddr], deadline: Instant, timeout: Duration) -> Outcome {
    let mut refused = None;
    let mut timed_out = false;
    let mut other = None;
    for addr in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            // connect_timeout refuses a zero duration; there is no time left anyway.
            timed_out = true;
            break;
        }
        let began = Instant::now();
        match TcpStream::connect_timeout(addr, left) {
            Ok(_stream) => {
                return Outcome {
                    status: ProbeStatus::Up,
                    latency: Some(began.elapsed()),
                    error: None,
                };
            }
            Err(err) => match classify(&err) {
                ProbeStatus::Down => refused = Some(err),
                ProbeStatus::Timeout => timed_out = true,
                _ => other = Some(err),
            },
        }
    }
    if let Some(err) = refused {
        Outcome::failed(ProbeStatus::Down, describe_io_error(&err))
    } else if timed_out {
        Outcome::failed(
            ProbeStatus::Timeout,
            format!("connect timed out after {}", human(timeout)),
        )
    } else {
        let message = other.map_or_else(|| "no addresses".to_owned(), |e| describe_io_error(&e));
        Outcome::failed(ProbeStatus::Error, message)
    }
}

/// The status a failed connect means.
fn classify(err: &io::Error) -> ProbeStatus {
    match err.kind() {
        io::ErrorKind::ConnectionRefused => ProbeStatus::Down,
        // std reports its own deadline as TimedOut; the kernel's SYN retries as ETIMEDOUT.
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => ProbeStatus::Timeout,
        _ => ProbeStatus::Error,
    }
}

/// `300ms`, `5s`, `1.5s`: the way durations are written on the command line.
fn human(duration: Duration) -> String {
    let ms = duration.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else {
        // f64's Display writes 5.0 as "5" and 1.5 as "1.5".
        format!("{}s", duration.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_statuses() {
        let os = io::Error::from_raw_os_error;
        assert_eq!(classify(&os(libc::ECONNREFUSED)), ProbeStatus::Down);
        assert_eq!(classify(&os(libc::ETIMEDOUT)), ProbeStatus::Timeout);
        assert_eq!(classify(&os(libc::ENETUNREACH)), ProbeStatus::Error);
        assert_eq!(classify(&os(libc::EHOSTUNREACH)), ProbeStatus::Error);
        assert_eq!(
            describe_io_error(&os(libc::ENETUNREACH)),
            "Network is unreachable"
        );
    }

    #[test]
    fn durations_read_like_the_command_line() {
        assert_eq!(human(Duration::from_millis(300)), "300ms");
        assert_eq!(human(Duration::from_secs(5)), "5s");
        assert_eq!(human(Duration::from_millis(1500)), "1.5s");
    }

    #[test]
    fn zero_timeout_times_out_at_once() {
        let target = Target {
            host: "127.0.0.1".into(),
            port: 9,
        };
        let got = probe(&target, Duration::ZERO);
        assert_eq!(got.status, ProbeStatus::Timeout);
        assert_eq!(got.error.as_deref(), Some("connect timed out after 0ms"));
    }
}
