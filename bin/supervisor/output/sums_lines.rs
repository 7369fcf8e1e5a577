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
        render_row(rows, i, out);
    }
}

/// Appends row `i`'s `sums` line, if it has one, to `out`.
fn render_row(rows: &dyn Rows, i: usize, out: &mut Vec<u8>) {
    if rows.push_sums(i, out).is_none()
        && let Some(record) = rows.record(i)
        && let Some(line) = &record.sums
    {
        out.extend_from_slice(line);
    }
}

/// Bytes of rendered lines [`SumsPrefix::advance`] holds before handing them out to be
/// written: a few hundred writes for a million MD5 lines.
const PREFIX_TEXT: usize = 256 << 10;

/// The `sums` lines of a run whose rows are in output order already, rendered while the run
/// goes on: each time a result arrives, the lines of the leading rows that all have results.
///
/// Written at the end, a million lines kept one core busy and the other idle for the last
/// tenth of the run (writing 87 MB into the page cache is most of it); written as the
/// results come, in the walk's order, that work overlaps the hashing. The output is byte for
/// byte the same: the rows left when the run ends (behind one without a result) are written
/// by [`super::Output::finish_rows`], after these.
pub struct SumsPrefix {
    /// The first row not rendered yet.
    next: usize,
    text: Vec<u8>,
}

impl SumsPrefix {
    /// Nothing rendered yet.
    pub fn new() -> Self {
        SumsPrefix {
            next: 0,
            text: Vec::new(),
        }
    }

    /// Renders the rows from the first not rendered up to the first without a result; hands
    /// out the text held once it is [`PREFIX_TEXT`] bytes or more.
    pub fn advance(&mut self, rows: &dyn Rows) -> Option<Vec<u8>> {
        while self.next < rows.len() && rows.failed(self.next).is_some() {
            render_row(rows, self.next, &mut self.text);
            self.next += 1;
        }
        (self.text.len() >= PREFIX_TEXT)
            .then(|| std::mem::replace(&mut self.text, Vec::with_capacity(PREFIX_TEXT + 4096)))
    }

    /// The leading rows rendered, and the text of theirs not handed out yet.
    pub fn finish(self) -> (usize, Vec<u8>) {
        (self.next, self.text)
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

    /// Rows whose results arrive over time: a line naming the index, none for every 7th.
    struct Arriving(Vec<bool>);

    impl Rows for Arriving {
        fn len(&self) -> usize {
            self.0.len()
        }
        fn order_cmp(&self, a: usize, b: usize) -> std::cmp::Ordering {
            a.cmp(&b)
        }
        fn record(&self, _i: usize) -> Option<Cow<'_, Record>> {
            None
        }
        fn failed(&self, i: usize) -> Option<bool> {
            self.0[i].then_some(false)
        }
        fn push_sums(&self, i: usize, line: &mut Vec<u8>) -> Option<bool> {
            if i.is_multiple_of(7) {
                return Some(false);
            }
            line.extend_from_slice(format!("line {i}\n").as_bytes());
            Some(true)
        }
        fn in_order(&self) -> bool {
            true
        }
    }

    #[test]
    fn lines_streamed_as_results_arrive_then_the_rest_are_what_one_write_gives() {
        let n = 3 * PREFIX_TEXT / 10;
        let never = n / 2;
        let mut rows = Arriving(vec![false; n]);
        // Results arrive out of order (each block of 97 backwards), one never does.
        let arrivals: Vec<usize> = (0..n)
            .collect::<Vec<_>>()
            .chunks(97)
            .flat_map(|block| block.iter().rev().copied())
            .filter(|&i| i != never)
            .collect();
        let mut prefix = SumsPrefix::new();
        let mut streamed = String::new();
        let mut handed_out_early = false;
        for (k, &i) in arrivals.iter().enumerate() {
            rows.0[i] = true;
            if let Some(text) = prefix.advance(&rows) {
                assert!(text.len() >= PREFIX_TEXT);
                handed_out_early |= k < arrivals.len() / 2;
                streamed.push_str(std::str::from_utf8(&text).unwrap());
            }
        }
        assert!(handed_out_early, "lines are written during the run");
        let (leading, rest) = prefix.finish();
        assert_eq!(leading, never, "the rows before the one without a result");
        streamed.push_str(std::str::from_utf8(&rest).unwrap());
        let order: Vec<usize> = (0..n).filter(|&i| i != never).collect();
        let dir = tempfile::tempdir().unwrap();
        let mut sink = Sink::scratch(dir.path()).unwrap();
        write(&mut sink, &rows, &order[leading..]);
        sink.into_scratch()
            .unwrap()
            .read_to_string(&mut streamed)
            .unwrap();
        let wanted: String = order
            .iter()
            .filter(|&&i| !i.is_multiple_of(7))
            .map(|i| format!("line {i}\n"))
            .collect();
        assert!(streamed == wanted, "streamed output differs from one write");
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
