//! Writing `--format sums` at the end of a run: a million lines rendered on every core.
//!
//! The lines are written once the run is over, in the output order, and rendering them (hex
//! digits, escaping checks, the two parts of each path) was the whole of the parent's last
//! 60 ms on the million small files, one core busy and the other idle. Rows are rendered a
//! window at a time, the window split into chunks rendered side by side, each into a buffer
//! kept from window to window, and the buffers written in order: the output is byte for byte
//! what one thread writes, and the memory held is a window's lines, not the whole output.

use super::Rows;
use super::sink::Sink;

/// Rows per chunk one thread renders at a time (about two megabytes of MD5 lines).
const CHUNK: usize = 32 << 10;

/// The most threads rendering at once.
const MAX_THREADS: usize = 8;

/// Writes the `sums` line of each row of `order` to `sink`, in that order.
pub(super) fn write(sink: &mut Sink, rows: &dyn Rows, order: &[usize]) {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, MAX_THREADS)
        .min(order.len().div_ceil(CHUNK))
        .max(1);
    let mut buffers: Vec<Vec<u8>> = vec![Vec::new(); threads];
    // With one thread, each window is one chunk, rendered here: no thread is started.
    for window in order.chunks(CHUNK * threads) {
        std::thread::scope(|scope| {
            // Each thread owns its buffer while it renders: buffers side by side in one `Vec`
            // share a cache line, and every line appended would move it between cores.
            let mut chunks = window.chunks(CHUNK).zip(buffers.iter_mut());
            let (first, first_buffer) = chunks.next().expect("a window has a chunk");
            let mut others = Vec::new();
            for (chunk, slot) in chunks {
                let mut buffer = std::mem::take(slot);
                let spawned = std::thread::Builder::new().spawn_scoped(scope, move || {
                    render(rows, chunk, &mut buffer);
                    buffer
                });
                match spawned {
                    Ok(thread) => others.push((slot, thread)),
                    // No thread to be had (a process or memory limit): this one renders it,
                    // the output is the same.
                    Err(_) => render(rows, chunk, slot),
                }
            }
            let mut buffer = std::mem::take(first_buffer);
            render(rows, first, &mut buffer);
            *first_buffer = buffer;
            for (slot, other) in others {
                match other.join() {
                    Ok(buffer) => *slot = buffer,
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
        });
        let used = window.len().div_ceil(CHUNK);
        for buffer in &buffers[..used] {
            sink.write(buffer);
        }
    }
}

/// Renders the `sums` lines of `chunk`'s rows into `out` (emptied first).
fn render(rows: &dyn Rows, chunk: &[usize], out: &mut Vec<u8>) {
    out.clear();
    for &i in chunk {
        match rows.push_sums(i, out) {
            Some(_) => {}
            None => {
                if let Some(record) = rows.record(i)
                    && let Some(line) = &record.sums
                {
                    out.extend_from_slice(line);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::Record;
    use std::borrow::Cow;
    use std::io::Read;

    /// Rows whose lines name their index; every 7th has no line, every 11th asks for its
    /// record (which it does not have).
    struct Numbered(usize);

    impl Rows for Numbered {
        fn len(&self) -> usize {
            self.0
        }
        fn order_cmp(&self, a: usize, b: usize) -> std::cmp::Ordering {
            a.cmp(&b)
        }
        fn record(&self, _i: usize) -> Option<Cow<'_, Record>> {
            None
        }
        fn push_sums(&self, i: usize, line: &mut Vec<u8>) -> Option<bool> {
            if i.is_multiple_of(11) {
                return None;
            }
            if i.is_multiple_of(7) {
                return Some(false);
            }
            line.extend_from_slice(format!("line {i}\n").as_bytes());
            Some(true)
        }
    }

    fn written(rows: &Numbered, order: &[usize]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = Sink::scratch(dir.path()).unwrap();
        write(&mut sink, rows, order);
        let mut text = String::new();
        sink.into_scratch()
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        text
    }

    #[test]
    fn every_line_in_order_across_windows_and_threads() {
        // Several windows of several chunks each, a last one partly filled, in an order that
        // is not the rows' own.
        let rows = Numbered(5 * CHUNK + 123);
        let order: Vec<usize> = (0..rows.0).rev().collect();
        assert_eq!(written(&rows, &order), wanted(&order));
        assert_eq!(written(&rows, &order[..5]), wanted(&order[..5]));
        assert_eq!(written(&rows, &[]), "");
    }

    /// What rendering `order` one row at a time gives.
    fn wanted(order: &[usize]) -> String {
        order
            .iter()
            .filter(|&&i| !i.is_multiple_of(11) && !i.is_multiple_of(7))
            .map(|i| format!("line {i}\n"))
            .collect()
    }
}
