//! `Manager`: shared `dict` and `list` objects served to every process (Python's
//! `multiprocessing.Manager`).
//!
//! The server is a **manager process**, like Python's: a worker process (a re-execution of this
//! binary, so [`crate::init`] must have run) running a private registered function that
//! listens on a Unix socket in a private directory (mode 0700) under the temporary directory,
//! and checks that every request carries the manager's random 128-bit token. Proxies ([`DictProxy`],
//! [`ListProxy`]) are plain serde data (socket path, token, object id), so they can be passed as
//! arguments to registered functions running in child processes.
//!
//! Each operation is one request frame and one response frame on a fresh connection, applied
//! by the server under one lock: a client killed in the middle of an update loses only that
//! update (a half-sent frame is discarded at EOF), and every other client's updates stay.
//! An update whose frame arrived whole is applied even if its client dies before the answer.
//! Clients time out after `TIMEOUT` (10 s) instead of hanging. Dropping the [`Manager`] kills
//! the manager process, reaps it and removes the directory; proxies used after that fail with
//! an I/O error. The shared objects live in the manager process: they are gone with it.

use crate::function::{decode, encode};
use crate::process::Process;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read, Write};
use std::marker::PhantomData;
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long a client waits for the server (connect, send, answer) before failing.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// How long [`Manager::start`] waits for the manager process to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest frame accepted, in bytes.
const MAX_FRAME: u32 = 64 << 20;

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
}

#[derive(Serialize, Deserialize)]
struct Request {
    token: String,
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
        let object = match (self.objects.get_mut(&id), &op) {
            (Some(_), _) => self.objects.get_mut(&id).expect("present"),
            (None, Op::DictInsert(..)) => self
                .objects
                .entry(id)
                .or_insert(Object::Dict(BTreeMap::new())),
            (None, Op::ListPush(_)) => self.objects.entry(id).or_insert(Object::List(Vec::new())),
            (None, Op::DictGet(_) | Op::DictRemove(_) | Op::ListGet(_)) => {
                return Response::Value(None);
            }
            (None, Op::Len) => return Response::Len(0),
            (None, Op::DictSnapshot) => return Response::Pairs(Vec::new()),
            (None, Op::ListSnapshot) => return Response::Items(Vec::new()),
        };
        match (object, op) {
            (Object::Dict(d), Op::DictInsert(k, v)) => Response::Value(d.insert(k, v)),
            (Object::Dict(d), Op::DictGet(k)) => Response::Value(d.get(&k).cloned()),
            (Object::Dict(d), Op::DictRemove(k)) => Response::Value(d.remove(&k)),
            (Object::Dict(d), Op::Len) => Response::Len(d.len() as u64),
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
            (Object::List(l), Op::Len) => Response::Len(l.len() as u64),
            (Object::List(l), Op::ListSnapshot) => Response::Items(l.clone()),
            _ => Response::Error("operation does not match the object's kind".into()),
        }
    }
}

/// A server of shared objects (Python's `multiprocessing.Manager()`), running in its own
/// manager process (a child of this one), listening on a Unix socket in a private 0700
/// directory and checking a random token. Each proxy operation is one request frame applied
/// atomically under one lock: a client killed mid-update loses only that update. Clients time
/// out after 10 seconds. Dropping the manager kills and reaps the manager process and removes
/// the directory.
pub struct Manager {
    dir: PathBuf,
    socket: PathBuf,
    token: String,
    next: AtomicU64,
    process: Option<Process<()>>,
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
        let socket = dir.join("manager.sock");
        let mut manager = Manager {
            dir,
            socket,
            token: random_hex(16)?,
            next: AtomicU64::new(0),
            process: None,
        };
        // From here on, dropping `manager` on an error kills the process and removes the dir.
        let process = Process::spawn(
            manager_process,
            (manager.socket.clone(), manager.token.clone()),
        )
        .map_err(|e| io::Error::other(format!("cannot start the manager process: {e}")))?;
        let process = manager.process.insert(process);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if UnixStream::connect(&manager.socket).is_ok() {
                return Ok(manager);
            }
            if !process.is_alive() {
                let why = match process.join() {
                    Ok(()) => "it returned".to_string(),
                    Err(e) => e.to_string(),
                };
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
        &self.socket
    }

    /// The manager process's pid (Python's `manager._process.pid`).
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().and_then(Process::pid)
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

    fn conn(&self) -> Conn {
        Conn {
            socket: self.socket.clone(),
            token: self.token.clone(),
            object: self.next.fetch_add(1, Ordering::Relaxed) + 1,
        }
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        if let Some(process) = self.process.take() {
            process.kill();
            // Reaps it.
            let _ = process.join();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
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

/// Serves one connection: frames until EOF. A frame cut short is discarded unapplied.
fn handle(mut stream: UnixStream, objects: &Mutex<Objects>, token: &str) -> io::Result<()> {
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    loop {
        let Some(frame) = read_frame(&mut stream)? else {
            return Ok(());
        };
        let response = match decode::<Request>(&frame) {
            Err(e) => Response::Error(format!("bad request: {e}")),
            Ok(request) if request.token != token => {
                let _ = write_frame(&mut stream, &Response::Error("bad token".into()));
                return Ok(());
            }
            Ok(request) => lock(objects).apply(request.object, request.op),
        };
        write_frame(&mut stream, &response)?;
    }
}

/// Reads one length-prefixed frame; `None` at a clean EOF before a frame starts.
fn read_frame(stream: &mut UnixStream) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < len.len() {
        match stream.read(&mut len[got..])? {
            0 if got == 0 => return Ok(None),
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => got += n,
        }
    }
    let len = u32::from_le_bytes(len);
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "frame too large",
        ));
    }
    let mut frame = vec![0u8; len as usize];
    stream.read_exact(&mut frame)?;
    Ok(Some(frame))
}

fn write_frame<T: Serialize>(stream: &mut UnixStream, value: &T) -> io::Result<()> {
    let bytes = encode(value).map_err(io::Error::other)?;
    let len = u32::try_from(bytes.len())
        .ok()
        .filter(|&n| n <= MAX_FRAME)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "frame too large"))?;
    let mut frame = Vec::with_capacity(4 + bytes.len());
    frame.extend_from_slice(&len.to_le_bytes());
    frame.extend_from_slice(&bytes);
    stream.write_all(&frame)
}

/// Where a proxy's object lives.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Conn {
    socket: PathBuf,
    token: String,
    object: u64,
}

impl Conn {
    fn call(&self, op: Op) -> io::Result<Response> {
        let mut stream = UnixStream::connect(&self.socket)?;
        stream.set_read_timeout(Some(TIMEOUT))?;
        stream.set_write_timeout(Some(TIMEOUT))?;
        write_frame(
            &mut stream,
            &Request {
                token: self.token.clone(),
                object: self.object,
                op,
            },
        )?;
        let frame = read_frame(&mut stream)?
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "the manager closed"))?;
        match decode::<Response>(&frame).map_err(invalid)? {
            Response::Error(e) => Err(io::Error::other(format!("manager: {e}"))),
            response => Ok(response),
        }
    }

    fn value<T: DeserializeOwned>(&self, op: Op) -> io::Result<Option<T>> {
        match self.call(op)? {
            Response::Value(v) => v.map(|b| decode(&b).map_err(invalid)).transpose(),
            _ => Err(unexpected()),
        }
    }

    fn len(&self) -> io::Result<usize> {
        match self.call(Op::Len)? {
            Response::Len(n) => Ok(n as usize),
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
/// encoding.
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
            .field("object", &self.conn.object)
            .finish()
    }
}

impl<K: Serialize + DeserializeOwned, V: Serialize + DeserializeOwned> DictProxy<K, V> {
    /// `d[key] = value`; returns the previous value.
    pub fn insert(&self, key: &K, value: &V) -> io::Result<Option<V>> {
        self.conn.value(Op::DictInsert(enc(key)?, enc(value)?))
    }

    /// `d.get(key)`.
    pub fn get(&self, key: &K) -> io::Result<Option<V>> {
        self.conn.value(Op::DictGet(enc(key)?))
    }

    /// `d.pop(key, None)`: removes the key, returning its value.
    pub fn remove(&self, key: &K) -> io::Result<Option<V>> {
        self.conn.value(Op::DictRemove(enc(key)?))
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
/// a registered function and use it in the child process.
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
            .field("object", &self.conn.object)
            .finish()
    }
}

impl<T: Serialize + DeserializeOwned> ListProxy<T> {
    /// `l.append(value)`; returns the new length.
    pub fn push(&self, value: &T) -> io::Result<usize> {
        match self.conn.call(Op::ListPush(enc(value)?))? {
            Response::Len(n) => Ok(n as usize),
            _ => Err(unexpected()),
        }
    }

    /// `l[index]`, or `None` past the end.
    pub fn get(&self, index: usize) -> io::Result<Option<T>> {
        self.conn.value(Op::ListGet(index as u64))
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
