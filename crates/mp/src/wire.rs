//! The crate's wire codec between processes that talk over a socket (the `Manager` and its
//! proxies; locks and queues need none, they live in shared memory): a frame is a little-endian `u32` length and that many bytes of
//! bincode 2 (standard configuration, the same encoding as task arguments and results).
//! A frame cut short (a peer killed mid-write) reads as an error and is never applied.

use crate::function::{decode, encode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::io::{self, Read, Write};

/// The largest frame accepted (a garbage length must not allocate gigabytes).
pub(crate) const MAX_FRAME: usize = 1 << 30;

/// Writes `msg` as one frame, in one `write_all` (so one `write` for small frames).
pub(crate) fn write_frame<T: Serialize>(mut w: impl Write, msg: &T) -> io::Result<()> {
    let bytes = encode(msg).map_err(io::Error::other)?;
    if bytes.len() > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "frame too large",
        ));
    }
    let len = u32::try_from(bytes.len()).map_err(io::Error::other)?;
    let mut frame = Vec::with_capacity(4 + bytes.len());
    frame.extend_from_slice(&len.to_le_bytes());
    frame.extend_from_slice(&bytes);
    w.write_all(&frame)
}

/// Reads one frame; `Ok(None)` at a clean end of stream before a frame starts.
pub(crate) fn read_frame_or_eof<T: DeserializeOwned>(mut r: impl Read) -> io::Result<Option<T>> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < len.len() {
        match r.read(&mut len[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "frame too large",
        ));
    }
    let mut bytes = vec![0u8; len];
    r.read_exact(&mut bytes)?;
    decode(&bytes)
        .map(Some)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Reads one frame; the end of the stream is an `UnexpectedEof` error.
pub(crate) fn read_frame<T: DeserializeOwned>(r: impl Read) -> io::Result<T> {
    read_frame_or_eof(r)?.ok_or_else(|| io::ErrorKind::UnexpectedEof.into())
}

/// How long a caller that just sent a request watches for the answer before it sleeps on it:
/// a manager answers in a few microseconds, about what a sleeping thread takes to be woken on
/// this kind of machine, so watching halves a round trip; a slower answer costs at most this
/// much CPU more.
pub(crate) const ANSWER_WATCH: std::time::Duration = std::time::Duration::from_micros(40);

/// Watches `stream` for up to `limit` until something can be read from it (or it closed), so
/// that the read that follows does not sleep. Returns at once on any error: the read reports it.
pub(crate) fn watch_readable(stream: &std::os::unix::net::UnixStream, limit: std::time::Duration) {
    use nix::sys::socket::{MsgFlags, recv};
    use std::os::fd::AsRawFd;
    let started = std::time::Instant::now();
    let mut byte = [0u8; 1];
    loop {
        match recv(
            stream.as_raw_fd(),
            &mut byte,
            MsgFlags::MSG_PEEK | MsgFlags::MSG_DONTWAIT,
        ) {
            Err(nix::errno::Errno::EAGAIN) if started.elapsed() < limit => {
                std::hint::spin_loop();
            }
            _ => return,
        }
    }
}
