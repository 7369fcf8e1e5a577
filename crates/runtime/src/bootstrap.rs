//! Starting a worker's channels with no name anyone else could race for.
//!
//! `ipc-channel` can only bootstrap through a named one-shot server, and it creates the
//! server's socket in a temporary directory with the process umask (under `umask 000` another
//! local user could connect first). So the parent never listens. Instead:
//!
//! 1. The parent spawns the worker with one end of a fresh `AF_UNIX` socket pair as its stdin
//!    (inherited, like Python's spawn passes its descriptors) and sends over it a
//!    [`BootRequest`] (protocol version, a random token, its pid, the slot) with the
//!    scoreboard's sealed `memfd` attached (`SCM_RIGHTS`), and the run's task image if it
//!    has one (`task_image`).
//! 2. The worker, which has run no user code yet, creates the one-shot server under umask 077
//!    (its own process, before any other thread creates files), so the directory is private
//!    from the start, and answers with the server's name ([`BootReply`]). Its stdin becomes
//!    /dev/null.
//! 3. The parent connects to that server and sends the worker's two channel ends with the
//!    token ([`Hello`]), then says so over the pair ([`protocol::CONNECTED`]); the worker,
//!    which waits on the pair (not in `accept`), accepts and checks the token. The parent
//!    removes the socket's directory as soon as it is connected; the worker's end removes it
//!    too.
//!
//! A worker that dies or hangs before answering cannot block the parent: the parent waits on
//! its end of the pair with a deadline, and a dead child's end reads as closed. The parent
//! keeps its end open for the worker's life, so the worker can tell while it waits for the
//! parent to connect that the parent died (its end of the pair hangs up): it then removes its
//! socket's directory and exits, instead of dying of the parent-death signal with the
//! directory left behind (that signal is armed once the handshake is done). Waiting on the
//! pair rather than in `accept` is what lets one thread watch both.

use crate::Error;
use crate::handshake::{Connection, check_private_dir, remove_socket_dir, worker_channels};
use crate::protocol::{self, BootReply, BootRequest, Hello, PROTOCOL_VERSION};
use crate::sys;
use ipc_channel::ipc::{IpcBytesReceiver, IpcBytesSender, IpcOneShotServer, IpcSender};
use nix::sys::socket::{
    AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType, UnixAddr,
    recvmsg, sendmsg, socketpair,
};
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// Largest boot message (they are a few dozen bytes).
const BOOT_MESSAGE_MAX: usize = 4096;

/// Most descriptors attached to a boot message: the scoreboard and the task image.
const ATTACHED_MAX: usize = 2;

/// A fresh socket pair: `(parent's end, worker's stdin)`.
pub(crate) fn pair() -> Result<(OwnedFd, OwnedFd), Error> {
    socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| Error::io("cannot create the bootstrap socket pair", e.into()))
}

/// The parent's side of the bootstrap with worker `pid` in `slot`, over `sock`; `board` is the
/// scoreboard descriptor handed to the worker, and `image` the run's task image if it has one.
/// Gives up after `deadline`. `sock` must stay open as long as the worker lives (see the
/// module docs).
pub(crate) fn parent(
    sock: &OwnedFd,
    pid: u32,
    slot: usize,
    board: BorrowedFd<'_>,
    image: Option<BorrowedFd<'_>>,
    deadline: Duration,
) -> Result<Connection, Error> {
    let started = Instant::now();
    let token = random_token()?;
    let request = BootRequest {
        version: PROTOCOL_VERSION,
        token: token.clone(),
        parent_pid: std::process::id(),
        slot: slot as u32,
        image: image.is_some(),
    };
    let attached: Vec<BorrowedFd<'_>> = std::iter::once(board).chain(image).collect();
    send(sock.as_raw_fd(), &protocol::encode(&request)?, &attached)
        .map_err(|e| Error::io(format!("cannot send worker {pid} its bootstrap"), e))?;
    let reply = wait_readable(sock.as_fd(), started + deadline).and_then(|ready| {
        if !ready {
            return Err(Error::Protocol(format!(
                "worker {pid} did not connect within {deadline:?}"
            )));
        }
        match receive(sock.as_raw_fd()) {
            Ok((bytes, _)) if bytes.is_empty() => Err(Error::Protocol(format!(
                "worker {pid} exited before connecting"
            ))),
            Ok((bytes, _)) => protocol::decode::<BootReply>(&bytes),
            Err(e) => Err(Error::io(
                format!("cannot read worker {pid}'s bootstrap"),
                e,
            )),
        }
    })?;
    let server = match reply {
        BootReply::Refused(reason) => {
            return Err(Error::Protocol(format!(
                "worker {pid} refused to start: {reason}"
            )));
        }
        BootReply::Listening {
            version,
            pid: claimed,
            server,
        } => {
            if version != PROTOCOL_VERSION {
                return Err(Error::Protocol(format!(
                    "handshake rejected: protocol version {version} (expected {PROTOCOL_VERSION})"
                )));
            }
            if claimed != pid {
                return Err(Error::Protocol(format!(
                    "handshake rejected: pid {claimed} (expected {pid})"
                )));
            }
            server
        }
    };
    let connected = connect_and_hand_over(&server, token);
    // Connected (or not): nobody needs the name any more.
    remove_socket_dir(&server);
    let connection = connected?;
    send(sock.as_raw_fd(), protocol::CONNECTED, &[])
        .map_err(|e| Error::io(format!("cannot tell worker {pid} it is connected"), e))?;
    Ok(connection)
}

fn connect_and_hand_over(server: &str, token: String) -> Result<Connection, Error> {
    check_private_dir(server)?;
    let hello_to = IpcSender::<Hello>::connect(server.to_string())
        .map_err(|e| Error::io(format!("cannot connect to {server}"), e))?;
    let ((tasks, tasks_rx), (results_tx, results)) = worker_channels()?;
    hello_to
        .send(Hello {
            version: PROTOCOL_VERSION,
            token,
            tasks: tasks_rx,
            results: results_tx,
        })
        .map_err(|e| Error::Protocol(format!("cannot send the channel ends: {e:?}")))?;
    // `results_tx` went with the message: the worker holds the only sender of its results.
    Ok(Connection { tasks, results })
}

/// What a worker has once bootstrapped.
pub(crate) struct Booted {
    pub(crate) tasks: IpcBytesReceiver,
    pub(crate) results: IpcBytesSender,
    /// The scoreboard's `memfd` (sealed against resizing).
    pub(crate) board: OwnedFd,
    /// The run's task image (a sealed `memfd`), if it has one.
    pub(crate) image: Option<OwnedFd>,
    pub(crate) slot: usize,
    pub(crate) parent_pid: u32,
}

/// The worker's side, reading the bootstrap from stdin. Call before any other thread of the
/// process creates files (it briefly narrows this process's umask). The parent-death signal is
/// not armed yet: arm it once this returns.
pub(crate) fn worker() -> Result<Booted, Error> {
    const STDIN: RawFd = 0;
    let (bytes, attached) = receive(STDIN).map_err(|e| {
        Error::io(
            "no bootstrap on stdin (a worker is started by a supervisor, not by hand)",
            e,
        )
    })?;
    let refuse = |reason: String| {
        if let Ok(frame) = protocol::encode(&BootReply::Refused(reason.clone())) {
            let _ = send(STDIN, &frame, &[]);
        }
        Error::Protocol(reason)
    };
    let request: BootRequest = protocol::decode(&bytes).map_err(|e| refuse(e.to_string()))?;
    if request.version != PROTOCOL_VERSION {
        return Err(refuse(format!(
            "protocol version {} (this worker speaks {PROTOCOL_VERSION})",
            request.version
        )));
    }
    let mut attached = attached.into_iter();
    let board = attached
        .next()
        .ok_or_else(|| refuse("no scoreboard descriptor came with the bootstrap".into()))?;
    let image = match (request.image, attached.next()) {
        (false, _) => None,
        (true, Some(image)) => Some(image),
        (true, None) => return Err(refuse("no task image came with the bootstrap".into())),
    };
    let (server, name) = {
        use nix::sys::stat::{Mode, umask};
        let old = umask(Mode::from_bits_truncate(0o077));
        // A full memory file system (or one out of inodes) falls back to the default.
        let created = handshake_dir()
            .and_then(|dir| sys::with_tmpdir_as(&dir, IpcOneShotServer::<Hello>::new).ok())
            .map_or_else(IpcOneShotServer::<Hello>::new, Ok);
        umask(old);
        created.map_err(|e| refuse(format!("cannot create the handshake socket: {e}")))?
    };
    if let Err(e) = check_private_dir(&name) {
        remove_socket_dir(&name);
        return Err(refuse(e.to_string()));
    }
    let reply = BootReply::Listening {
        version: PROTOCOL_VERSION,
        pid: std::process::id(),
        server: name.clone(),
    };
    let sent = protocol::encode(&reply).and_then(|frame| {
        send(STDIN, &frame, &[]).map_err(|e| Error::io("cannot answer the bootstrap", e))
    });
    if let Err(e) = sent {
        remove_socket_dir(&name);
        return Err(e);
    }
    // The socket pair stays open (as the watch below), but a worker's stdin is /dev/null.
    let pair = nix::unistd::dup(std::io::stdin()).map_err(|e| {
        remove_socket_dir(&name);
        Error::io("cannot keep the bootstrap socket", e.into())
    })?;
    let null =
        std::fs::File::open("/dev/null").map_err(|e| Error::io("cannot open /dev/null", e))?;
    nix::unistd::dup2_stdin(&null).map_err(|e| Error::io("cannot redirect stdin", e.into()))?;
    if let Err(e) = wait_until_connected(&pair) {
        // The parent is gone (or its word garbled): nobody will connect.
        remove_socket_dir(&name);
        if e.kind() == std::io::ErrorKind::ConnectionAborted {
            std::process::exit(i32::from(crate::worker::ORPHAN_EXIT));
        }
        return Err(Error::io("cannot wait for the parent to connect", e));
    }
    // The parent has connected and sent its hello: this returns at once.
    let accepted = server.accept();
    remove_socket_dir(&name);
    let (_receiver, hello) =
        accepted.map_err(|e| Error::Protocol(format!("no channel ends from the parent: {e:?}")))?;
    if hello.version != PROTOCOL_VERSION || hello.token != request.token {
        return Err(Error::Protocol(
            "handshake rejected: wrong token".to_string(),
        ));
    }
    Ok(Booted {
        tasks: hello.tasks,
        results: hello.results,
        board,
        image,
        slot: request.slot as usize,
        parent_pid: request.parent_pid,
    })
}

/// Where the worker's one-shot server goes, when not in the default temporary directory.
///
/// `TMPDIR` when it is set and can hold the server (`None`: the default). Else, when it is unset,
/// a memory-backed directory: `$XDG_RUNTIME_DIR` (the per-user directory meant for sockets) or
/// `/dev/shm`. The server lives for microseconds, and creating and removing its directory and
/// socket on a disk file system (the default `/tmp` is often one) is a journalled metadata update
/// each: on ext4 it was an eighth of a `Process` spawn + join. A directory that cannot hold it
/// is passed over: `ipc-channel` cuts a socket path longer than a Unix socket address holds
/// short, and the socket would be made elsewhere and left there (with a long `TMPDIR`, every
/// worker's at the same path, so that only the first could start); then `/tmp` is the last
/// candidate. `None` when none can (the default, as before).
fn handshake_dir() -> Option<std::path::PathBuf> {
    use std::path::PathBuf;
    let var = |name| {
        std::env::var_os(name)
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
    };
    let tmpdir = var("TMPDIR");
    if tmpdir.as_deref().is_some_and(can_hold_server) {
        return None;
    }
    let memory = [var("XDG_RUNTIME_DIR"), Some(PathBuf::from("/dev/shm"))];
    let candidates = match tmpdir {
        None => memory.into_iter().flatten().collect(),
        Some(_) => Vec::new(),
    };
    candidates
        .into_iter()
        .chain([PathBuf::from("/tmp")])
        .find(|dir| can_hold_server(dir))
}

/// Whether `dir` can hold a one-shot server's directory and socket: a writable directory whose
/// socket path fits a Unix socket address.
fn can_hold_server(dir: &std::path::Path) -> bool {
    use nix::unistd::{AccessFlags, access};
    // What `sun_path` holds, less its NUL; and what the server adds to the directory.
    const SOCKET_ADDRESS_MAX: usize = 107;
    const SERVER_SUFFIX: &str = "/.tmpXXXXXX/socket";
    dir.is_absolute()
        && dir.as_os_str().len() + SERVER_SUFFIX.len() <= SOCKET_ADDRESS_MAX
        && dir.is_dir()
        && access(dir, AccessFlags::W_OK | AccessFlags::X_OK).is_ok()
}

/// Waits on the worker's end of the pair for the parent's [`protocol::CONNECTED`]. An error
/// of kind `ConnectionAborted`: the parent hung up first (it died, or aborted the start).
fn wait_until_connected(pair: &OwnedFd) -> std::io::Result<()> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    loop {
        let mut fds = [PollFd::new(pair.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
        let (bytes, _) = receive(pair.as_raw_fd())?;
        return match bytes.as_slice() {
            [] => Err(std::io::ErrorKind::ConnectionAborted.into()),
            word if word == protocol::CONNECTED => Ok(()),
            _ => Err(std::io::Error::other("unexpected bootstrap message")),
        };
    }
}

fn random_token() -> Result<String, Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| {
        Error::io(
            "cannot read random bytes",
            std::io::Error::other(e.to_string()),
        )
    })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn send(fd: RawFd, bytes: &[u8], attach: &[BorrowedFd<'_>]) -> std::io::Result<()> {
    let fds: Vec<RawFd> = attach.iter().map(|fd| fd.as_raw_fd()).collect();
    let rights = [ControlMessage::ScmRights(&fds)];
    let cmsgs: &[ControlMessage<'_>] = if fds.is_empty() { &[] } else { &rights };
    sendmsg::<UnixAddr>(fd, &[IoSlice::new(bytes)], cmsgs, MsgFlags::empty(), None)
        .map(drop)
        .map_err(std::io::Error::from)
}

/// One message and the descriptors attached to it (at most [`ATTACHED_MAX`]); an empty
/// message means the peer closed its end.
fn receive(fd: RawFd) -> std::io::Result<(Vec<u8>, Vec<OwnedFd>)> {
    let mut buf = vec![0u8; BOOT_MESSAGE_MAX];
    let mut space = nix::cmsg_space!([RawFd; ATTACHED_MAX]);
    let (len, fds) = loop {
        let mut iov = [IoSliceMut::new(&mut buf)];
        match recvmsg::<UnixAddr>(fd, &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC) {
            Ok(msg) => {
                let mut fds = Vec::new();
                for cmsg in msg.cmsgs().map_err(std::io::Error::from)? {
                    if let ControlMessageOwned::ScmRights(received) = cmsg {
                        fds.extend(received);
                    }
                }
                break (msg.bytes, fds);
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    };
    // Each is owned at once, so any the caller does not keep is closed as it drops.
    let owned = fds.into_iter().map(sys::own_received_fd).collect();
    buf.truncate(len);
    Ok((buf, owned))
}

/// Waits until `fd` is readable (or closed); false when `until` passed first.
fn wait_readable(fd: BorrowedFd<'_>, until: Instant) -> Result<bool, Error> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(false);
        }
        let ms = u16::try_from(left.as_millis().min(1000))
            .unwrap_or(1000)
            .max(1);
        let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(0) => {}
            Ok(_) => return Ok(true),
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(Error::io("cannot wait for a worker's bootstrap", e.into())),
        }
    }
}
