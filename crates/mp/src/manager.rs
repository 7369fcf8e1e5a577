//! `Manager`: shared `dict`, `list`, `Namespace` and `Value` objects served to every process
//! (Python's `multiprocessing.Manager`).
//!
//! The server is a **manager process**, like Python's: a worker process (a re-execution of this
//! binary, so [`crate::init`] must have run) running a private registered function that
//! listens on a Unix socket in a private directory (mode 0700) under the temporary directory.
//! Proxies ([`DictProxy`], [`ListProxy`], [`NamespaceProxy`], [`ValueProxy`]) are plain serde
//! data (socket path, token, object id), so they can be passed as arguments to registered
//! functions running in child processes.
//!
//! Each proxy opens **one persistent connection** on its first operation (a connection per
//! thread that uses it at the same moment) and proves the manager's random 128-bit token once;
//! the manager serves each connection with one thread for the connection's life. Every
//! operation is one request frame and one response frame in the crate's wire codec (`wire`),
//! applied by the server under one lock: a client killed in
//! the middle of an update loses only that update (a half-sent frame is discarded at EOF),
//! and every other client's updates stay. An update whose frame arrived whole is applied even
//! if its client dies before the answer. Clients time out after `TIMEOUT` (10 s) instead of
//! hanging.
//!
//! # Lifetime
//!
//! The manager process lives as long as the [`Manager`] **or any proxy made from it in this
//! process**: proxies keep it alive, so `Manager::start()?.dict()` on a temporary works (as in
//! Python, whose proxies hold a reference to their manager). It stops when the last of them is
//! dropped, or at once on [`Manager::shutdown`]; it is then killed and reaped and its
//! directory removed. Proxies in other processes do not keep it alive: once it is gone, every
//! operation fails with an [`io::Error`] of kind `NotConnected` whose inner error is
//! [`ManagerGone`] (test with [`ManagerGone::is`]).

use crate::as_value::AsValue;
use crate::function::{decode, encode};
use crate::process::Process;
use crate::wire::{ANSWER_WATCH, read_frame, read_frame_or_eof, watch_readable, write_frame};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::io::{self, BufReader};
use std::marker::PhantomData;
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a client waits for the server (connect, send, answer) before failing.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// How long [`Manager::start`] waits for the manager process to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The inner error of a proxy operation whose manager is gone: its process ended (killed,
/// crashed) or it was shut down ([`Manager::shutdown`], or the creating process dropped the
/// manager and its last proxy). The `io::Error` around it has kind `NotConnected`.
#[derive(Debug, thiserror::Error)]
#[error("the manager is gone (its process ended or it was shut down): {0}")]
pub struct ManagerGone(String);

impl ManagerGone {
    /// Whether `error` (from a proxy operation) says the manager is gone.
    pub fn is(error: &io::Error) -> bool {
        error.get_ref().is_some_and(|e| e.is::<ManagerGone>())
    }

    fn error(why: impl std::fmt::Display) -> io::Error {
        io::Error::new(io::ErrorKind::NotConnected, ManagerGone(why.to_string()))
    }
}

/// A transport error on a manager connection: the manager is gone unless it is a timeout.
fn gone_unless_timeout(e: io::Error) -> io::Error {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => e,
        _ if ManagerGone::is(&e) => e,
        _ => ManagerGone::error(e),
    }
}

#[derive(Serialize, Deserialize)]
enum Op {
    DictInsert(Vec<u8>, Vec<u8>),
    DictGet(Vec<u8>),
    DictRemove(Vec<u8>),
    Len,
    DictSnapshot,
    ListPush(Vec<u8>),
    ListGet(u64),
    ListSnapshot,
    DictContains(Vec<u8>),
    ListSet(u64, Vec<u8>),
    Clear,
}

/// The first frame of a connection: the manager's token.
#[derive(Serialize, Deserialize)]
struct Hello {
    token: String,
}

#[derive(Serialize, Deserialize)]
struct Request {
    object: u64,
    op: Op,
}

#[derive(Serialize, Deserialize)]
enum Response {
    Value(Option<Vec<u8>>),
    Len(u64),
    Pairs(Vec<(Vec<u8>, Vec<u8>)>),
    Items(Vec<Vec<u8>>),
    Error(String),
    Ok,
    Bool(bool),
}

enum Object {
    Dict(BTreeMap<Vec<u8>, Vec<u8>>),
    List(Vec<Vec<u8>>),
}

/// The objects of a manager process. Ids are handed out by the [`Manager`]; an object is
/// created by its first update (a new object is empty, so reads before that need none).
#[derive(Default)]
struct Objects {
    objects: HashMap<u64, Object>,
}

impl Objects {
    fn apply(&mut self, id: u64, op: Op) -> Response {
        let object = match (self.objects.contains_key(&id), &op) {
            (true, _) => self.objects.get_mut(&id).expect("present"),
            (false, Op::DictInsert(..)) => self
                .objects
                .entry(id)
                .or_insert(Object::Dict(BTreeMap::new())),
            (false, Op::ListPush(_)) => self.objects.entry(id).or_insert(Object::List(Vec::new())),
            (false, Op::DictGet(_) | Op::DictRemove(_) | Op::ListGet(_)) => {
                return Response::Value(None);
            }
            (false, Op::DictContains(_)) => return Response::Bool(false),
            (false, Op::Len) => return Response::Len(0),
            (false, Op::DictSnapshot) => return Response::Pairs(Vec::new()),
            (false, Op::ListSnapshot) => return Response::Items(Vec::new()),
            (false, Op::Clear) => return Response::Ok,
            (false, Op::ListSet(..)) => return Response::Error("list index out of range".into()),
        };
        match (object, op) {
            (Object::Dict(d), Op::DictInsert(k, v)) => Response::Value(d.insert(k, v)),
            (Object::Dict(d), Op::DictGet(k)) => Response::Value(d.get(&k).cloned()),
            (Object::Dict(d), Op::DictRemove(k)) => Response::Value(d.remove(&k)),
            (Object::Dict(d), Op::DictContains(k)) => Response::Bool(d.contains_key(&k)),
            (Object::Dict(d), Op::Len) => Response::Len(d.len() as u64),
            (Object::Dict(d), Op::Clear) => {
                d.clear();
                Response::Ok
            }
            (Object::Dict(d), Op::DictSnapshot) => {
                Response::Pairs(d.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            }
            (Object::List(l), Op::ListPush(v)) => {
                l.push(v);
                Response::Len(l.len() as u64)
            }
            (Object::List(l), Op::ListGet(i)) => {
                Response::Value(usize::try_from(i).ok().and_then(|i| l.get(i)).cloned())
            }
            (Object::List(l), Op::ListSet(i, v)) => {
                match usize::try_from(i).ok().and_then(|i| l.get_mut(i)) {
                    Some(slot) => Response::Value(Some(std::mem::replace(slot, v))),
                    None => Response::Error("list index out of range".into()),
                }
            }
            (Object::List(l), Op::Len) => Response::Len(l.len() as u64),
            (Object::List(l), Op::Clear) => {
                l.clear();
                Response::Ok
            }
            (Object::List(l), Op::ListSnapshot) => Response::Items(l.clone()),
            _ => Response::Error("operation does not match the object's kind".into()),
        }
    }
}

/// What stops the manager process: owned by the [`Manager`] and every proxy it made (in this
/// process); the last one dropped (or [`Manager::shutdown`]) kills and reaps the process and
/// removes the directory.
struct Server {
    dir: PathBuf,
    socket: PathBuf,
    token: String,
    next: AtomicU64,
    process: Mutex<Option<Process<()>>>,
}

impl Server {
    fn stop(&self) {
        let process = self
            .process
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(process) = process {
            process.kill();
            // Reaps it.
            let _ = process.join();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A server of shared objects (Python's `multiprocessing.Manager()`), running in its own
/// manager process (a child of this one), listening on a Unix socket in a private 0700
/// directory and checking a random token on each connection. Each proxy keeps one connection;
/// each operation is one request frame applied atomically under one lock: a client killed
/// mid-update loses only that update. Clients time out after 10 seconds.
///
/// The manager process lives while this `Manager` or any proxy it made in this process lives
/// (see the module docs); [`Manager::shutdown`] stops it at once. Then it is killed and
/// reaped, its directory removed, and every proxy's operations fail with [`ManagerGone`].
pub struct Manager {
    server: Arc<Server>,
}

fn random_hex(bytes: usize) -> io::Result<String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

fn lock(objects: &Mutex<Objects>) -> std::sync::MutexGuard<'_, Objects> {
    objects.lock().unwrap_or_else(|e| e.into_inner())
}

crate::task!(
    /// The manager process: binds the socket and serves until it is killed.
    fn manager_process(args: (PathBuf, String)) -> () {
        let (socket, token) = args;
        let listener = UnixListener::bind(&socket)
            .unwrap_or_else(|e| panic!("cannot bind {}: {e}", socket.display()));
        serve(listener, &token);
    }
);

impl Manager {
    /// Starts the server: creates the private directory, starts the manager process (which
    /// binds the socket in it) and waits until it accepts connections. Needs [`crate::init`]
    /// to have run (the manager process is a worker).
    pub fn start() -> io::Result<Self> {
        let dir = std::env::temp_dir().join(format!("supervisor-mp-manager-{}", random_hex(8)?));
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        let server = Arc::new(Server {
            socket: dir.join("manager.sock"),
            dir,
            token: random_hex(16)?,
            next: AtomicU64::new(0),
            process: Mutex::new(None),
        });
        // From here on, dropping `server` on an error kills the process and removes the dir.
        let process = Process::spawn(
            manager_process,
            (server.socket.clone(), server.token.clone()),
        )
        .map_err(|e| io::Error::other(format!("cannot start the manager process: {e}")))?;
        *server.process.lock().unwrap_or_else(|e| e.into_inner()) = Some(process);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if UnixStream::connect(&server.socket).is_ok() {
                return Ok(Manager { server });
            }
            let ended = {
                let process = server.process.lock().unwrap_or_else(|e| e.into_inner());
                let process = process.as_ref().expect("started");
                if process.is_alive() {
                    None
                } else {
                    Some(match process.join() {
                        Ok(()) => "it returned".to_string(),
                        Err(e) => e.to_string(),
                    })
                }
            };
            if let Some(why) = ended {
                return Err(io::Error::other(format!(
                    "the manager process ended: {why}"
                )));
            }
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the manager process did not accept connections in time",
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The socket the server listens on (inside the private directory).
    pub fn socket_path(&self) -> &Path {
        &self.server.socket
    }

    /// The manager process's pid (Python's `manager._process.pid`); `None` after
    /// [`Manager::shutdown`].
    pub fn pid(&self) -> Option<u32> {
        self.server
            .process
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .and_then(Process::pid)
    }

    /// Stops the manager process now (Python's `manager.shutdown()`), even while proxies
    /// remain: their operations then fail with [`ManagerGone`]. Kills and reaps the process
    /// and removes its directory.
    pub fn shutdown(&self) {
        self.server.stop();
    }

    /// A new, empty shared dict (Python's `manager.dict()`).
    pub fn dict<K, V>(&self) -> DictProxy<K, V> {
        DictProxy {
            conn: self.conn(),
            types: PhantomData,
        }
    }

    /// A new, empty shared list (Python's `manager.list()`).
    pub fn list<T>(&self) -> ListProxy<T> {
        ListProxy {
            conn: self.conn(),
            types: PhantomData,
        }
    }

    /// A new, empty shared namespace (Python's `manager.Namespace()`): named attributes, each
    /// of its own type.
    pub fn namespace(&self) -> NamespaceProxy {
        NamespaceProxy { conn: self.conn() }
    }

    /// A new shared value holding `initial` (Python's `manager.Value(typecode, initial)`).
    pub fn value<T: Serialize + DeserializeOwned>(
        &self,
        initial: impl AsValue<T>,
    ) -> io::Result<ValueProxy<T>> {
        let value = ValueProxy {
            conn: self.conn(),
            types: PhantomData,
        };
        value.set(initial)?;
        Ok(value)
    }

    fn conn(&self) -> Conn {
        Conn {
            addr: Addr {
                socket: self.server.socket.clone(),
                token: self.server.token.clone(),
                object: self.server.next.fetch_add(1, Ordering::Relaxed) + 1,
            },
            idle: Mutex::new(Vec::new()),
            server: Some(Arc::clone(&self.server)),
        }
    }
}

fn serve(listener: UnixListener, token: &str) {
    let objects: &'static Mutex<Objects> = Box::leak(Box::default());
    for stream in listener.incoming() {
        let Ok(stream) = stream else {
            // E.g. out of file descriptors: back off instead of spinning.
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        let token = token.to_string();
        let _ = std::thread::Builder::new()
            .name("mp-manager-conn".into())
            .spawn(move || {
                let _ = handle(stream, objects, &token);
            });
    }
}

/// Serves one connection for its life: the token, then frames until EOF. A frame cut short
/// is discarded unapplied.
fn handle(stream: UnixStream, objects: &Mutex<Objects>, token: &str) -> io::Result<()> {
    // Buffered: a frame's length and body usually arrive in one read.
    let mut reader = BufReader::new(&stream);
    match read_frame::<Hello>(&mut reader)? {
        hello if hello.token == token => write_frame(&stream, &Response::Ok)?,
        _ => return write_frame(&stream, &Response::Error("bad token".into())),
    }
    while let Some(request) = read_frame_or_eof::<Request>(&mut reader)? {
        let response = lock(objects).apply(request.object, request.op);
        write_frame(&stream, &response)?;
    }
    Ok(())
}

/// Where a proxy's object lives: what crosses to other processes.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Addr {
    socket: PathBuf,
    token: String,
    object: u64,
}

/// A proxy's link to its object: its address, its idle connections, and (in the creating
/// process) a share of the server's life.
struct Conn {
    addr: Addr,
    /// Connections not in use, buffered for reading (one read per answer, usually).
    idle: Mutex<Vec<BufReader<UnixStream>>>,
    server: Option<Arc<Server>>,
}

impl Clone for Conn {
    fn clone(&self) -> Self {
        Conn {
            addr: self.addr.clone(),
            idle: Mutex::new(Vec::new()),
            server: self.server.clone(),
        }
    }
}

impl Serialize for Conn {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.addr.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Conn {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Conn {
            addr: Addr::deserialize(deserializer)?,
            idle: Mutex::new(Vec::new()),
            server: None,
        })
    }
}

impl Conn {
    fn connect(&self) -> io::Result<BufReader<UnixStream>> {
        let stream = UnixStream::connect(&self.addr.socket).map_err(ManagerGone::error)?;
        stream.set_read_timeout(Some(TIMEOUT))?;
        stream.set_write_timeout(Some(TIMEOUT))?;
        let hello = Hello {
            token: self.addr.token.clone(),
        };
        write_frame(&stream, &hello).map_err(gone_unless_timeout)?;
        let mut stream = BufReader::new(stream);
        match read_frame::<Response>(&mut stream).map_err(gone_unless_timeout)? {
            Response::Ok => Ok(stream),
            Response::Error(e) => Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("manager: {e}"),
            )),
            _ => Err(unexpected()),
        }
    }

    fn call(&self, op: Op) -> io::Result<Response> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut stream = match idle {
            Some(stream) => stream,
            None => self.connect()?,
        };
        let request = Request {
            object: self.addr.object,
            op,
        };
        write_frame(stream.get_ref(), &request).map_err(gone_unless_timeout)?;
        if stream.buffer().is_empty() {
            watch_readable(stream.get_ref(), ANSWER_WATCH);
        }
        let response = read_frame::<Response>(&mut stream).map_err(gone_unless_timeout)?;
        // Only a connection whose exchange completed goes back for reuse.
        self.idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(stream);
        match response {
            Response::Error(e) => Err(io::Error::other(format!("manager: {e}"))),
            response => Ok(response),
        }
    }

    fn value<T: DeserializeOwned>(&self, op: Op) -> io::Result<Option<T>> {
        self.raw(op)?
            .map(|b| decode(&b).map_err(invalid))
            .transpose()
    }

    /// The encoded value an operation answers with (not decoded: its type may be unknown).
    fn raw(&self, op: Op) -> io::Result<Option<Vec<u8>>> {
        match self.call(op)? {
            Response::Value(v) => Ok(v),
            _ => Err(unexpected()),
        }
    }

    fn len(&self) -> io::Result<usize> {
        match self.call(Op::Len)? {
            Response::Len(n) => Ok(n as usize),
            _ => Err(unexpected()),
        }
    }

    fn ok(&self, op: Op) -> io::Result<()> {
        match self.call(op)? {
            Response::Ok => Ok(()),
            _ => Err(unexpected()),
        }
    }
}

fn invalid(e: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

fn unexpected() -> io::Error {
    invalid("unexpected answer from the manager".into())
}

fn enc<T: Serialize>(value: &T) -> io::Result<Vec<u8>> {
    encode(value).map_err(invalid)
}

/// A handle to a dict served by a [`Manager`] (Python's `DictProxy`). Serializable: pass it to
/// a registered function and use it in the child process. Keys are compared by their bincode
/// encoding. In the process that made it, it keeps the manager alive.
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct DictProxy<K, V> {
    conn: Conn,
    types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> Clone for DictProxy<K, V> {
    fn clone(&self) -> Self {
        DictProxy {
            conn: self.conn.clone(),
            types: PhantomData,
        }
    }
}

impl<K, V> std::fmt::Debug for DictProxy<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DictProxy")
            .field("object", &self.conn.addr.object)
            .finish()
    }
}

impl<K: Serialize + DeserializeOwned, V: Serialize + DeserializeOwned> DictProxy<K, V> {
    /// `d[key] = value` (key and value owned or borrowed); returns the previous value.
    pub fn insert(&self, key: impl AsValue<K>, value: impl AsValue<V>) -> io::Result<Option<V>> {
        self.conn
            .value(Op::DictInsert(enc(key.as_value())?, enc(value.as_value())?))
    }

    /// `d.get(key)`.
    pub fn get(&self, key: &K) -> io::Result<Option<V>> {
        self.conn.value(Op::DictGet(enc(key)?))
    }

    /// `key in d`.
    pub fn contains_key(&self, key: &K) -> io::Result<bool> {
        match self.conn.call(Op::DictContains(enc(key)?))? {
            Response::Bool(b) => Ok(b),
            _ => Err(unexpected()),
        }
    }

    /// `d.pop(key, None)`: removes the key, returning its value.
    pub fn remove(&self, key: &K) -> io::Result<Option<V>> {
        self.conn.value(Op::DictRemove(enc(key)?))
    }

    /// `d.clear()`.
    pub fn clear(&self) -> io::Result<()> {
        self.conn.ok(Op::Clear)
    }

    /// `len(d)`.
    pub fn len(&self) -> io::Result<usize> {
        self.conn.len()
    }

    /// `len(d) == 0`.
    pub fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }

    /// A copy of the whole dict, taken atomically (Python's `d.copy()`).
    pub fn snapshot(&self) -> io::Result<BTreeMap<K, V>>
    where
        K: Ord,
    {
        match self.conn.call(Op::DictSnapshot)? {
            Response::Pairs(pairs) => pairs
                .iter()
                .map(|(k, v)| Ok((decode(k).map_err(invalid)?, decode(v).map_err(invalid)?)))
                .collect(),
            _ => Err(unexpected()),
        }
    }
}

/// A handle to a list served by a [`Manager`] (Python's `ListProxy`). Serializable: pass it to
/// a registered function and use it in the child process. In the process that made it, it
/// keeps the manager alive.
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct ListProxy<T> {
    conn: Conn,
    types: PhantomData<fn() -> T>,
}

impl<T> Clone for ListProxy<T> {
    fn clone(&self) -> Self {
        ListProxy {
            conn: self.conn.clone(),
            types: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for ListProxy<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListProxy")
            .field("object", &self.conn.addr.object)
            .finish()
    }
}

impl<T: Serialize + DeserializeOwned> ListProxy<T> {
    /// `l.append(value)` (owned or borrowed); returns the new length.
    pub fn push(&self, value: impl AsValue<T>) -> io::Result<usize> {
        match self.conn.call(Op::ListPush(enc(value.as_value())?))? {
            Response::Len(n) => Ok(n as usize),
            _ => Err(unexpected()),
        }
    }

    /// `l[index]`, or `None` past the end.
    pub fn get(&self, index: usize) -> io::Result<Option<T>> {
        self.conn.value(Op::ListGet(index as u64))
    }

    /// `l[index] = value`; returns the previous value. Past the end: an error (Python's
    /// `IndexError`).
    pub fn set(&self, index: usize, value: impl AsValue<T>) -> io::Result<T> {
        self.conn
            .value(Op::ListSet(index as u64, enc(value.as_value())?))?
            .ok_or_else(unexpected)
    }

    /// `l.clear()`.
    pub fn clear(&self) -> io::Result<()> {
        self.conn.ok(Op::Clear)
    }

    /// `len(l)`.
    pub fn len(&self) -> io::Result<usize> {
        self.conn.len()
    }

    /// `len(l) == 0`.
    pub fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }

    /// A copy of the whole list, taken atomically (Python's `l[:]`).
    pub fn snapshot(&self) -> io::Result<Vec<T>> {
        match self.conn.call(Op::ListSnapshot)? {
            Response::Items(items) => items.iter().map(|b| decode(b).map_err(invalid)).collect(),
            _ => Err(unexpected()),
        }
    }
}

/// A handle to a namespace served by a [`Manager`] (Python's `manager.Namespace()`): named
/// attributes, each holding a value of its own type (`ns.x = 1` is `ns.set("x", 1)`, `ns.x`
/// is `ns.get::<i32>("x")`). Serializable; in the process that made it, it keeps the manager
/// alive.
#[derive(Clone, Serialize, Deserialize)]
pub struct NamespaceProxy {
    conn: Conn,
}

impl std::fmt::Debug for NamespaceProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NamespaceProxy")
            .field("object", &self.conn.addr.object)
            .finish()
    }
}

impl NamespaceProxy {
    /// `ns.name = value` (owned or borrowed: `&x` is encoded as `x`).
    pub fn set<V: Serialize>(&self, name: &str, value: V) -> io::Result<()> {
        self.conn
            .raw(Op::DictInsert(enc(&name)?, enc(&value)?))
            .map(drop)
    }

    /// `ns.name`, or `None` if it has no such attribute (Python's `AttributeError`). The type
    /// must be the one it was set with.
    pub fn get<V: DeserializeOwned>(&self, name: &str) -> io::Result<Option<V>> {
        self.conn.value(Op::DictGet(enc(&name)?))
    }

    /// `del ns.name`; whether it was there.
    pub fn remove(&self, name: &str) -> io::Result<bool> {
        Ok(self.conn.raw(Op::DictRemove(enc(&name)?))?.is_some())
    }

    /// The attribute names, sorted by their encoding.
    pub fn names(&self) -> io::Result<Vec<String>> {
        match self.conn.call(Op::DictSnapshot)? {
            Response::Pairs(pairs) => pairs
                .iter()
                .map(|(k, _)| decode(k).map_err(invalid))
                .collect(),
            _ => Err(unexpected()),
        }
    }
}

/// A handle to one value served by a [`Manager`] (Python's `manager.Value(typecode, value)`,
/// whose `.value` is [`ValueProxy::get`] / [`ValueProxy::set`]). Serializable; in the process
/// that made it, it keeps the manager alive.
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct ValueProxy<T> {
    conn: Conn,
    types: PhantomData<fn() -> T>,
}

impl<T> Clone for ValueProxy<T> {
    fn clone(&self) -> Self {
        ValueProxy {
            conn: self.conn.clone(),
            types: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for ValueProxy<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValueProxy")
            .field("object", &self.conn.addr.object)
            .finish()
    }
}

/// The one key under which a [`ValueProxy`] keeps its value.
const VALUE_KEY: Vec<u8> = Vec::new();

impl<T: Serialize + DeserializeOwned> ValueProxy<T> {
    /// `v.value`.
    pub fn get(&self) -> io::Result<T> {
        self.conn
            .value(Op::DictGet(VALUE_KEY))?
            .ok_or_else(unexpected)
    }

    /// `v.value = value` (owned or borrowed).
    pub fn set(&self, value: impl AsValue<T>) -> io::Result<()> {
        self.conn
            .raw(Op::DictInsert(VALUE_KEY, enc(value.as_value())?))
            .map(drop)
    }
}
