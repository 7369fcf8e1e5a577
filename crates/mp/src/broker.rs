//! The broker behind [`crate::Lock`]: a thread in the process that created the lock, owning its
//! state and serving requests on a Unix socket. (Queues and pipes no longer use it: they live
//! in shared memory, see `ring`.)
//!
//! Handles are plain serde values (socket path + token + type marker), so they can be passed as
//! arguments to registered functions. Every operation is one request/response frame
//! (little-endian `u32` length + bincode) on a connection of the handle. The broker owns the
//! state, so a client killed mid-operation loses only its own operation: a half-written frame
//! closes its connection, a blocked `acquire` notices the closed peer within [`SLICE`], and a
//! lock whose holder's connection closes without a release is freed and marked abandoned.
//! Frames are the crate's one wire codec (`wire`), shared with the `Manager`.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::{self, Read};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often a blocked operation checks that its client is still connected.
const SLICE: Duration = Duration::from_millis(50);

/// Why an operation on a [`crate::Queue`] (or [`crate::SimpleQueue`],
/// [`crate::JoinableQueue`]), a pipe or a [`crate::Lock`] failed. (The name is from when a
/// broker thread served all of them; queues and pipes now live in shared memory.)
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrokerError {
    /// The operation did not complete in time (or, for `try_*` and `*_nowait`, not at once:
    /// Python's `Full` and `Empty`).
    #[error("timed out")]
    Timeout,
    /// The primitive cannot be reached: the creating process dropped it or died, this handle
    /// was closed ([`crate::Queue::close`]), or a queue found no memory left in `/dev/shm`.
    #[error("unreachable: {0}")]
    Disconnected(String),
    /// A value could not be encoded or decoded.
    #[error("cannot encode or decode a value: {0}")]
    Codec(String),
    /// The handle was refused (wrong token or wrong item type), or the call was not allowed
    /// ([`crate::JoinableQueue::task_done`] more times than items: Python's `ValueError`).
    #[error("refused: {0}")]
    Refused(String),
}

impl From<io::Error> for BrokerError {
    fn from(e: io::Error) -> Self {
        BrokerError::Disconnected(e.to_string())
    }
}

#[derive(Serialize, Deserialize)]
pub(crate) enum Request {
    Hello { token: String, kind: String },
    Acquire { timeout: Option<Duration> },
    Release,
}

#[derive(Serialize, Deserialize)]
pub(crate) enum Response {
    Ok,
    Timeout,
    Acquired { abandoned: bool },
    Refused(String),
}

pub(crate) use crate::wire::{read_frame, write_frame};

struct State {
    holder: Option<u64>,
    abandoned: bool,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    stop: AtomicBool,
    conns: Mutex<HashMap<u64, UnixStream>>,
    token: String,
    kind: String,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The running broker; owned (through an `Arc`) by the creator's handles. Dropping it stops
/// the threads and removes the socket and its private directory.
pub(crate) struct Broker {
    dir: PathBuf,
    socket: PathBuf,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
    workers: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

fn random_hex() -> io::Result<String> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl Broker {
    /// Starts a broker for a primitive of type `kind` (checked at each connection).
    pub(crate) fn start(kind: String) -> io::Result<Arc<Broker>> {
        let dir = std::env::temp_dir().join(format!(
            "supervisor-mp-{}-{}",
            std::process::id(),
            &random_hex()?[..12]
        ));
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        let socket = dir.join("broker.sock");
        let listener = match UnixListener::bind(&socket) {
            Ok(l) => l,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e);
            }
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                holder: None,
                abandoned: false,
            }),
            changed: Condvar::new(),
            stop: AtomicBool::new(false),
            conns: Mutex::new(HashMap::new()),
            token: random_hex()?,
            kind,
        });
        let workers = Arc::new(Mutex::new(Vec::new()));
        let accept = {
            let shared = Arc::clone(&shared);
            let workers = Arc::clone(&workers);
            std::thread::Builder::new()
                .name("mp-broker".into())
                .spawn(move || accept_loop(listener, shared, workers))?
        };
        Ok(Arc::new(Broker {
            dir,
            socket,
            shared,
            accept: Some(accept),
            workers,
        }))
    }

    pub(crate) fn addr(&self) -> Addr {
        Addr {
            path: self.socket.clone(),
            token: self.shared.token.clone(),
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.changed.notify_all();
        for conn in self
            .shared
            .conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
        {
            let _ = conn.shutdown(std::net::Shutdown::Both);
        }
        // Wake the accept loop; if even that fails, leave the thread rather than hang.
        if UnixStream::connect(&self.socket).is_ok()
            && let Some(accept) = self.accept.take()
        {
            let _ = accept.join();
        }
        let workers = std::mem::take(&mut *self.workers.lock().unwrap_or_else(|e| e.into_inner()));
        for worker in workers {
            let _ = worker.join();
        }
        let _ = std::fs::remove_file(&self.socket);
        let _ = std::fs::remove_dir(&self.dir);
    }
}

fn accept_loop(
    listener: UnixListener,
    shared: Arc<Shared>,
    workers: Arc<Mutex<Vec<JoinHandle<()>>>>,
) {
    let next = AtomicU64::new(0);
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let id = next.fetch_add(1, Ordering::Relaxed);
        let Ok(clone) = stream.try_clone() else {
            continue;
        };
        shared
            .conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, clone);
        if shared.stop.load(Ordering::SeqCst) {
            // Drop may have shut the registered connections down just before this one.
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
        let conn_shared = Arc::clone(&shared);
        let spawned = std::thread::Builder::new()
            .name("mp-broker-conn".into())
            .spawn(move || serve(id, stream, conn_shared));
        let mut workers = workers.lock().unwrap_or_else(|e| e.into_inner());
        let (done, running): (Vec<_>, Vec<_>) = std::mem::take(&mut *workers)
            .into_iter()
            .partition(|w| w.is_finished());
        *workers = running;
        for worker in done {
            let _ = worker.join();
        }
        match spawned {
            Ok(worker) => workers.push(worker),
            Err(_) => {
                shared
                    .conns
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&id);
            }
        }
    }
}

fn serve(id: u64, stream: UnixStream, shared: Arc<Shared>) {
    let _ = serve_requests(id, &stream, &shared);
    shared
        .conns
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&id);
    let mut state = shared.lock();
    if state.holder == Some(id) {
        // The holder went away without releasing: its process died (or dropped the socket).
        state.holder = None;
        state.abandoned = true;
        shared.changed.notify_all();
    }
}

/// Whether the client closed its end (read EOF) while it should be waiting for a response.
fn peer_gone(stream: &UnixStream) -> bool {
    if stream.set_nonblocking(true).is_err() {
        return true;
    }
    let mut byte = [0u8; 1];
    let gone = match (&*stream).read(&mut byte) {
        // EOF, or a byte where none may come: either way this connection is finished.
        Ok(_) => true,
        Err(e) => !matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
        ),
    };
    gone || stream.set_nonblocking(false).is_err()
}

enum Waited<'a> {
    Ready(MutexGuard<'a, State>),
    Timeout,
    Gone,
}

fn wait_for<'a>(
    shared: &'a Shared,
    stream: &UnixStream,
    timeout: Option<Duration>,
    ready: impl Fn(&State) -> bool,
) -> Waited<'a> {
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut state = shared.lock();
    let mut waited = false;
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return Waited::Gone;
        }
        if ready(&state) {
            // After a wait, the client may have died meanwhile: don't complete its operation
            // (a put landing, a lock granted) on its behalf.
            if waited && peer_gone(stream) {
                return Waited::Gone;
            }
            return Waited::Ready(state);
        }
        waited = true;
        let mut slice = SLICE;
        if let Some(deadline) = deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Waited::Timeout;
            }
            slice = slice.min(left);
        }
        state = shared
            .changed
            .wait_timeout(state, slice)
            .unwrap_or_else(|e| e.into_inner())
            .0;
        if !ready(&state) && peer_gone(stream) {
            return Waited::Gone;
        }
    }
}

fn serve_requests(id: u64, stream: &UnixStream, shared: &Shared) -> io::Result<()> {
    match read_frame::<Request>(stream)? {
        Request::Hello { token, kind } if token == shared.token && kind == shared.kind => {
            write_frame(stream, &Response::Ok)?
        }
        Request::Hello { kind, .. } if kind != shared.kind => {
            let why = format!("this broker serves {}, not {kind}", shared.kind);
            return write_frame(stream, &Response::Refused(why));
        }
        _ => return write_frame(stream, &Response::Refused("bad token".into())),
    }
    loop {
        let request = read_frame::<Request>(stream)?;
        if shared.stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        match request {
            Request::Hello { .. } => write_frame(stream, &Response::Refused("hello twice".into()))?,
            Request::Acquire { timeout } => {
                match wait_for(shared, stream, timeout, |s| s.holder.is_none()) {
                    Waited::Ready(mut state) => {
                        let abandoned = state.abandoned;
                        state.holder = Some(id);
                        state.abandoned = false;
                        drop(state);
                        if let Err(e) = write_frame(stream, &Response::Acquired { abandoned }) {
                            // Never handed over: undo, keeping the abandoned mark for the next.
                            let mut state = shared.lock();
                            state.holder = None;
                            state.abandoned = abandoned;
                            shared.changed.notify_all();
                            return Err(e);
                        }
                    }
                    Waited::Timeout => write_frame(stream, &Response::Timeout)?,
                    Waited::Gone => return Ok(()),
                }
            }
            Request::Release => {
                let mut state = shared.lock();
                if state.holder == Some(id) {
                    state.holder = None;
                    shared.changed.notify_all();
                }
                drop(state);
                write_frame(stream, &Response::Ok)?
            }
        }
    }
}

/// Where a broker listens, and the token it wants: the serialized form of every handle.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Addr {
    pub(crate) path: PathBuf,
    pub(crate) token: String,
}

/// The client side of a handle (and, in the creator, the broker).
pub(crate) struct Client {
    addr: Addr,
    kind: String,
    owner: Option<Arc<Broker>>,
}

impl Client {
    /// A new primitive of type `kind` with its broker in this process (`_capacity` is unused
    /// since queues left the broker; kept for the callers).
    pub(crate) fn create(kind: String, _capacity: Option<usize>) -> Result<Client, BrokerError> {
        let broker = Broker::start(kind.clone())?;
        Ok(Client {
            addr: broker.addr(),
            kind,
            owner: Some(broker),
        })
    }

    pub(crate) fn remote(addr: Addr, kind: String) -> Client {
        Client {
            addr,
            kind,
            owner: None,
        }
    }

    pub(crate) fn addr(&self) -> &Addr {
        &self.addr
    }

    pub(crate) fn path(&self) -> &Path {
        &self.addr.path
    }

    #[allow(dead_code)] // its user, the broker-served Lock, is now a robust mutex (lock.rs)
    pub(crate) fn owner(&self) -> Option<Arc<Broker>> {
        self.owner.clone()
    }

    /// A new connection that passed the handshake.
    pub(crate) fn connect(&self) -> Result<UnixStream, BrokerError> {
        let stream = UnixStream::connect(&self.addr.path)?;
        let hello = Request::Hello {
            token: self.addr.token.clone(),
            kind: self.kind.clone(),
        };
        write_frame(&stream, &hello)?;
        match read_frame::<Response>(&stream)? {
            Response::Ok => Ok(stream),
            Response::Refused(why) => Err(BrokerError::Refused(why)),
            _ => Err(BrokerError::Refused("unexpected handshake answer".into())),
        }
    }
}

impl Clone for Client {
    fn clone(&self) -> Self {
        Client {
            addr: self.addr.clone(),
            kind: self.kind.clone(),
            owner: self.owner.clone(),
        }
    }
}

pub(crate) fn unexpected(response: Response) -> BrokerError {
    let what = match response {
        Response::Refused(why) => return BrokerError::Refused(why),
        Response::Ok => "ok",
        Response::Timeout => "a timeout",
        Response::Acquired { .. } => "a lock",
    };
    BrokerError::Disconnected(format!("unexpected answer from the broker: {what}"))
}
