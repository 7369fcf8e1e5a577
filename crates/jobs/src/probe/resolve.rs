//! Name resolution that gives up at a deadline.

use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::mpsc;
use std::thread;
use std::time::Instant;

use super::Target;
use crate::describe_io_error;

/// Why resolution produced no address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ResolveError {
    /// The deadline passed first.
    TimedOut,
    /// The resolver answered with an error, or with no address.
    Failed(String),
}

/// The addresses of `target`, in the resolver's order, or why there are none.
///
/// `getaddrinfo` cannot be cancelled or given a timeout, so a name is resolved on a helper
/// thread and waited for only until `deadline`. A late helper is abandoned, not joined: it
/// finishes on its own (the system resolver has its own timeouts) and its answer is dropped.
/// Addresses given literally skip all of that.
pub(crate) fn resolve(target: &Target, deadline: Instant) -> Result<Vec<SocketAddr>, ResolveError> {
    if let Ok(ip) = target.host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, target.port)]);
    }
    let (sender, receiver) = mpsc::channel();
    let (host, port) = (target.host.clone(), target.port);
    let spawned = thread::Builder::new()
        .name("probe-resolve".into())
        .spawn(move || {
            // The receiver may be gone after a timeout; the answer is then of no use.
            let _ = sender.send(lookup(&host, port));
        });
    let answer = match spawned {
        Ok(_) => {
            let left = deadline.saturating_duration_since(Instant::now());
            match receiver.recv_timeout(left) {
                Ok(answer) => answer,
                Err(mpsc::RecvTimeoutError::Timeout) => return Err(ResolveError::TimedOut),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(ResolveError::Failed("resolver thread died".into()));
                }
            }
        }
        // Out of threads: resolving inline may overrun the deadline, but still answers.
        Err(_) => lookup(&target.host, target.port),
    };
    match answer {
        Ok(addrs) if addrs.is_empty() => Err(ResolveError::Failed("no addresses found".into())),
        Ok(addrs) => Ok(addrs),
        Err(err) => Err(ResolveError::Failed(describe_io_error(&err))),
    }
}

fn lookup(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    Ok((host, port).to_socket_addrs()?.collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn literal_addresses_need_no_resolver() {
        let deadline = Instant::now();
        let v4 = Target {
            host: "127.0.0.1".into(),
            port: 80,
        };
        assert_eq!(
            resolve(&v4, deadline),
            Ok(vec!["127.0.0.1:80".parse().unwrap()])
        );
        let v6 = Target {
            host: "::1".into(),
            port: 22,
        };
        assert_eq!(
            resolve(&v6, deadline + Duration::from_secs(1)),
            Ok(vec!["[::1]:22".parse().unwrap()])
        );
    }
}
