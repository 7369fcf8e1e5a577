//! A worker's channel ends, and the one-shot rendezvous helpers.
//!
//! The engine bootstraps workers through an inherited socket pair (`crate::bootstrap`), so no
//! socket name is ever exposed before it is private. [`Rendezvous`] and [`connect`] are the
//! earlier name-based bootstrap, kept for callers of this public module; the engine no longer
//! uses them.

use crate::Error;
use crate::protocol::PROTOCOL_VERSION;
use ipc_channel::ipc::{self, IpcBytesReceiver, IpcBytesSender, IpcOneShotServer, IpcSender};
use serde::{Deserialize, Serialize};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The first message of the name-based rendezvous.
#[derive(Serialize, Deserialize)]
enum HelloFrame {
    /// A worker introducing itself.
    Hello(Hello),
    /// Sent by the parent to its own server to unblock `accept` when the child died (or hung)
    /// before connecting.
    Abort,
}

/// A worker's introduction in the name-based rendezvous.
#[derive(Serialize, Deserialize)]
struct Hello {
    version: u32,
    token: String,
    pid: u32,
    tasks: IpcBytesSender,
    results: IpcBytesReceiver,
}

/// The parent's end of a name-based bootstrap: a one-shot server the child connects to.
#[deprecated(
    since = "0.1.0",
    note = "the engine bootstraps workers over an inherited socket pair; this name-based rendezvous is kept only for existing callers"
)]
pub struct Rendezvous {
    server: IpcOneShotServer<HelloFrame>,
    name: String,
    token: String,
}

/// A worker's channel ends, as the parent holds them after a successful handshake.
pub struct Connection {
    /// Where tasks go.
    pub tasks: IpcBytesSender,
    /// Where results come from; closed when the worker dies.
    pub results: IpcBytesReceiver,
}

#[allow(deprecated)]
impl Rendezvous {
    /// Creates a one-shot server and a fresh random token, and makes the server's directory
    /// private (`0700`). The process umask is left alone (it is shared with every thread), so
    /// the directory is private only from just after its creation: prefer the engine's own
    /// bootstrap.
    pub fn new() -> Result<Self, Error> {
        let (server, name) = IpcOneShotServer::<HelloFrame>::new()
            .map_err(|e| Error::io("cannot create the handshake socket", e))?;
        if let Some(dir) = Path::new(&name).parent() {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| Error::io(format!("cannot make {} private", dir.display()), e))?;
        }
        check_private_dir(&name)?;
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(|e| {
            Error::io(
                "cannot read random bytes",
                std::io::Error::other(e.to_string()),
            )
        })?;
        let token = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Ok(Rendezvous {
            server,
            name,
            token,
        })
    }

    /// The server's name (a socket path) that the child connects to.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The token the child must present.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Waits for the child `pid` to connect and checks what it presents.
    ///
    /// `child_gone` is polled while waiting; when it returns true, or `deadline` passes, the
    /// wait ends with an error instead of blocking forever.
    pub fn accept(
        self,
        pid: u32,
        deadline: Duration,
        child_gone: impl Fn() -> bool + Send + 'static,
    ) -> Result<Connection, Error> {
        let Rendezvous {
            server,
            name,
            token,
        } = self;
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let guard_name = name.clone();
        let started = Instant::now();
        let guard = std::thread::Builder::new()
            .name("handshake-guard".into())
            .spawn(move || {
                loop {
                    match done_rx.recv_timeout(Duration::from_millis(2)) {
                        Err(mpsc::RecvTimeoutError::Timeout) => {}
                        _ => return false,
                    }
                    if child_gone() || started.elapsed() > deadline {
                        if let Ok(tx) = IpcSender::<HelloFrame>::connect(guard_name) {
                            let _ = tx.send(HelloFrame::Abort);
                        }
                        return true;
                    }
                }
            })
            .map_err(|e| Error::io("cannot start the handshake guard", e))?;
        let accepted = server.accept();
        let _ = done_tx.send(());
        let aborted = guard.join().unwrap_or(false);
        let (_bootstrap, frame) = accepted
            .map_err(|e| Error::Protocol(format!("handshake rejected: malformed hello ({e:?})")))?;
        let hello = match frame {
            HelloFrame::Abort => {
                return Err(Error::Protocol(
                    if aborted && started.elapsed() > deadline {
                        format!("worker {pid} did not connect within {deadline:?}")
                    } else {
                        format!("worker {pid} exited before connecting")
                    },
                ));
            }
            HelloFrame::Hello(hello) => hello,
        };
        verify(&hello, &token, pid)?;
        Ok(Connection {
            tasks: hello.tasks,
            results: hello.results,
        })
    }
}

#[allow(deprecated)]
fn verify(hello: &Hello, token: &str, pid: u32) -> Result<(), Error> {
    if hello.version != PROTOCOL_VERSION {
        return Err(Error::Protocol(format!(
            "handshake rejected: protocol version {} (expected {PROTOCOL_VERSION})",
            hello.version
        )));
    }
    if hello.token != token {
        return Err(Error::Protocol(
            "handshake rejected: wrong token".to_string(),
        ));
    }
    if hello.pid != pid {
        return Err(Error::Protocol(format!(
            "handshake rejected: pid {} (expected {pid})",
            hello.pid
        )));
    }
    Ok(())
}

/// A worker's two byte channels: tasks (down) and results (up).
pub(crate) type Channels = (
    (IpcBytesSender, IpcBytesReceiver),
    (IpcBytesSender, IpcBytesReceiver),
);

/// Creates a worker's task and result channels.
pub(crate) fn worker_channels() -> Result<Channels, Error> {
    let tasks = ipc::bytes_channel().map_err(|e| Error::io("cannot create the task channel", e))?;
    let results =
        ipc::bytes_channel().map_err(|e| Error::io("cannot create the result channel", e))?;
    Ok((tasks, results))
}

/// Checks that the socket's directory is `0700` and ours.
pub(crate) fn check_private_dir(socket: &str) -> Result<(), Error> {
    let dir = Path::new(socket)
        .parent()
        .ok_or_else(|| Error::Protocol(format!("handshake socket {socket:?} has no directory")))?;
    let meta = std::fs::metadata(dir)
        .map_err(|e| Error::io(format!("cannot inspect {}", dir.display()), e))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode != 0o700 || meta.uid() != nix::unistd::geteuid().as_raw() {
        return Err(Error::Protocol(format!(
            "handshake directory {} is not private (mode {mode:o}, owner {})",
            dir.display(),
            meta.uid()
        )));
    }
    Ok(())
}

/// The worker's side of a [`Rendezvous`]: connects to `name`, presents `token`, and returns
/// its channel ends (tasks to receive, results to send).
#[deprecated(
    since = "0.1.0",
    note = "the engine bootstraps workers over an inherited socket pair"
)]
pub fn connect(name: &str, token: &str) -> Result<(ipc::IpcBytesReceiver, IpcBytesSender), Error> {
    let bootstrap = IpcSender::<HelloFrame>::connect(name.to_string())
        .map_err(|e| Error::io(format!("cannot connect to {name}"), e))?;
    let ((tasks_tx, tasks_rx), (results_tx, results_rx)) = worker_channels()?;
    bootstrap
        .send(HelloFrame::Hello(Hello {
            version: PROTOCOL_VERSION,
            token: token.to_string(),
            pid: std::process::id(),
            tasks: tasks_tx,
            results: results_rx,
        }))
        .map_err(|e| Error::Protocol(format!("cannot send hello: {e:?}")))?;
    Ok((tasks_rx, results_tx))
}

/// Removes a one-shot server's socket and its private directory, as a worker does right after
/// connecting (so a parent killed before `accept` leaves nothing behind). Only a directory that
/// holds nothing but that socket is removed.
pub fn remove_socket_dir(name: &str) {
    let socket = Path::new(name);
    if socket.file_name().is_some_and(|n| n == "socket") {
        let _ = std::fs::remove_file(socket);
        if let Some(dir) = socket.parent() {
            // remove_dir (not remove_dir_all): it fails unless the directory is empty.
            let _ = std::fs::remove_dir(dir);
        }
    }
}

#[cfg(test)]
#[allow(deprecated)]
mod tests {
    use super::*;

    #[test]
    fn genuine_client_is_accepted() {
        let rv = Rendezvous::new().unwrap();
        let (name, token) = (rv.name().to_string(), rv.token().to_string());
        let client = std::thread::spawn(move || {
            let ends = connect(&name, &token).unwrap();
            remove_socket_dir(&name);
            assert!(!Path::new(&name).parent().unwrap().exists());
            ends
        });
        let conn = rv
            .accept(std::process::id(), Duration::from_secs(5), || false)
            .unwrap();
        let (_tasks_rx, results_tx) = client.join().unwrap();
        results_tx.send(b"ping").unwrap();
        assert_eq!(conn.results.recv().unwrap(), b"ping");
    }

    #[test]
    fn wrong_token_is_rejected() {
        let rv = Rendezvous::new().unwrap();
        let name = rv.name().to_string();
        let client = std::thread::spawn(move || connect(&name, "not-the-token"));
        let err = rv
            .accept(std::process::id(), Duration::from_secs(5), || false)
            .err()
            .expect("an intruder must be rejected");
        assert!(err.to_string().contains("wrong token"), "{err}");
        let _ = client.join();
    }

    #[test]
    fn a_child_that_never_connects_does_not_hang() {
        let rv = Rendezvous::new().unwrap();
        let err = rv
            .accept(1, Duration::from_secs(30), || true)
            .err()
            .expect("must give up");
        assert!(
            err.to_string().contains("exited before connecting"),
            "{err}"
        );
        let rv = Rendezvous::new().unwrap();
        let err = rv
            .accept(1, Duration::from_millis(50), || false)
            .err()
            .expect("must give up");
        assert!(err.to_string().contains("did not connect"), "{err}");
    }
}
