//! `Manager`: shared `dict` and `list` objects served to every process (Python's
//! `multiprocessing.Manager`).
//!
//! The server is a **thread in the creating process** (Python uses a separate process): it
//! listens on a Unix socket in a private directory (mode 0700) under the temporary directory,
//! and every request must carry the manager's random 128-bit token. Proxies ([`DictProxy`],
//! [`ListProxy`]) are plain serde data (socket path, token, object id), so they can be passed as
//! arguments to registered functions running in child processes.
//!
//! Each operation is one request frame and one response frame on a fresh connection, applied
//! by the server under one lock: a client killed in the middle of an update loses only that
//! update (a half-sent frame is discarded at EOF), and every other client's updates stay.
//! An update whose frame arrived whole is applied even if its client dies before the answer.
//! Clients time out after `TIMEOUT` (10 s) instead of hanging. Dropping the [`Manager`] stops the
//! server and removes the directory; proxies used after that fail with an I/O error.

use crate::function::{decode, encode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read, Write};
use std::marker::PhantomData;
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long a client waits for the server (connect, send, answer) before failing.
pub const TIMEOUT: Duration = Duration::from_secs(10);

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

#[derive(Default)]
struct Objects {
    next: u64,
    objects: HashMap<u64, Object>,
}

impl Objects {
    fn add(&mut self, object: Object) -> u64 {
        self.next += 1;
        self.objects.insert(self.next, object);
        self.next
    }

    fn apply(&mut self, object: u64, op: Op) -> Response {
        let Some(object) = self.objects.get_mut(&object) else {
            return Response::Error(format!("no shared object {object}"));
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

/// A server of shared objects (Python's `multiprocessing.Manager()`), running as a thread of
/// this process, listening on a Unix socket in a private 0700 directory and checking a random
/// token. Each proxy operation is one request frame applied atomically under one lock: a
/// client killed mid-update loses only that update. Clients time out after 10 seconds.
/// Dropping the manager stops the server and removes the directory.
pub struct Manager {
    dir: PathBuf,
    socket: PathBuf,
    token: String,
    objects: Arc<Mutex<Objects>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

fn random_hex(bytes: usize) -> io::Result<String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

fn lock(objects: &Mutex<Objects>) -> std::sync::MutexGuard<'_, Objects> {
    objects.lock().unwrap_or_else(|e| e.into_inner())
}

impl Manager {
    /// Starts the server: creates the private directory and socket, then serves on a thread.
    pub fn start() -> io::Result<Self> {
        let dir = std::env::temp_dir().join(format!("supervisor-mp-manager-{}", random_hex(8)?));
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        let socket = dir.join("manager.sock");
        let listener = match UnixListener::bind(&socket) {
            Ok(l) => l,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e);
            }
        };
        let token = random_hex(16)?;
        let objects = Arc::new(Mutex::new(Objects::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (objects, stop, token) = (Arc::clone(&objects), Arc::clone(&stop), token.clone());
            std::thread::Builder::new()
                .name("mp-manager".into())
                .spawn(move || serve(listener, objects, stop, token))
        };
        let thread = match thread {
            Ok(t) => t,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e);
            }
        };
        Ok(Manager {
            dir,
            socket,
            token,
            objects,
            stop,
            thread: Some(thread),
        })
    }

    /// The socket the server listens on (inside the private directory).
    pub fn socket_path(&self) -> &Path {
        &self.socket
    }

    /// A new, empty shared dict (Python's `manager.dict()`).
    pub fn dict<K, V>(&self) -> DictProxy<K, V> {
        let id = lock(&self.objects).add(Object::Dict(BTreeMap::new()));
        DictProxy {
            conn: self.conn(id),
            types: PhantomData,
        }
    }

    /// A new, empty shared list (Python's `manager.list()`).
    pub fn list<T>(&self) -> ListProxy<T> {
        let id = lock(&self.objects).add(Object::List(Vec::new()));
        ListProxy {
            conn: self.conn(id),
            types: PhantomData,
        }
    }

    fn conn(&self, object: u64) -> Conn {
        Conn {
            socket: self.socket.clone(),
            token: self.token.clone(),
            object,
        }
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = UnixStream::connect(&self.socket);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn serve(
    listener: UnixListener,
    objects: Arc<Mutex<Objects>>,
    stop: Arc<AtomicBool>,
    token: String,
) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else {
            // E.g. out of file descriptors: back off instead of spinning.
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        let (objects, token) = (Arc::clone(&objects), token.clone());
        let _ = std::thread::Builder::new()
            .name("mp-manager-conn".into())
            .spawn(move || {
                let _ = handle(stream, &objects, &token);
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
