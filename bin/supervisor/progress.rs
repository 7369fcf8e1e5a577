//! Live progress on stderr: a bar on a terminal, periodic plain lines when asked for on a pipe.

use crate::cli::Progress as Mode;
use crate::output::summary::human_bytes;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// What the progress display knows about the run so far.
pub struct Progress {
    display: Display,
    total_tasks: u64,
    total_bytes: Option<u64>,
    done: u64,
    bytes: u64,
    alive: u64,
    crashes: u64,
    retried: u64,
    started: Instant,
    last_refresh: Option<Instant>,
}

enum Display {
    Off,
    Bar(ProgressBar),
    /// Not a terminal but asked for: one plain line per interval.
    Lines {
        last: Instant,
    },
}

const LINE_INTERVAL: Duration = Duration::from_secs(1);

impl Progress {
    /// A display for `total_tasks` tasks (and `total_bytes`, for jobs whose work is bytes).
    pub fn new(mode: Mode, total_tasks: u64, total_bytes: Option<u64>) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let display = match (mode, terminal) {
            (Mode::Never, _) | (Mode::Auto, false) => Display::Off,
            (Mode::Auto | Mode::Always, true) => {
                let bar = ProgressBar::with_draw_target(
                    Some(total_tasks),
                    ProgressDrawTarget::stderr_with_hz(8),
                );
                bar.set_style(
                    ProgressStyle::with_template(
                        "{elapsed:>4} [{wide_bar}] {pos}/{len} ETA {eta} {msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                bar.enable_steady_tick(Duration::from_millis(250));
                Display::Bar(bar)
            }
            (Mode::Always, false) => Display::Lines {
                last: Instant::now(),
            },
        };
        Progress {
            display,
            total_tasks,
            total_bytes,
            done: 0,
            bytes: 0,
            alive: 0,
            crashes: 0,
            retried: 0,
            started: Instant::now(),
            last_refresh: None,
        }
    }

    /// A task reached its final outcome after `attempts`, having processed `bytes`.
    pub fn task_done(&mut self, bytes: u64, attempts: u32) {
        self.done += 1;
        self.bytes += bytes;
        self.retried += u64::from(attempts.saturating_sub(1));
        self.refresh();
    }

    /// A worker started.
    pub fn worker_started(&mut self) {
        self.alive += 1;
        self.refresh();
    }

    /// A worker died.
    pub fn worker_died(&mut self) {
        self.alive = self.alive.saturating_sub(1);
        self.crashes += 1;
        self.refresh();
    }

    fn message(&self) -> String {
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        let per_sec = format!("{:.0}/s ", self.done as f64 / secs);
        let rate = match self.total_bytes {
            Some(total) => format!(
                "{}/{} {}/s ",
                human_bytes(self.bytes),
                human_bytes(total),
                human_bytes((self.bytes as f64 / secs) as u64)
            ),
            None => String::new(),
        };
        format!(
            "{per_sec}{rate}| {} workers, {} crashes, {} retries",
            self.alive, self.crashes, self.retried
        )
    }

    fn refresh(&mut self) {
        // Formatting per task would cost more than the task itself for trivial jobs.
        if matches!(self.display, Display::Off)
            || (self.done < self.total_tasks
                && self
                    .last_refresh
                    .is_some_and(|t| t.elapsed() < Duration::from_millis(50)))
        {
            return;
        }
        self.last_refresh = Some(Instant::now());
        let message = self.message();
        match &mut self.display {
            Display::Off => {}
            Display::Bar(bar) => {
                bar.set_position(self.done);
                bar.set_message(message);
            }
            Display::Lines { last } => {
                if last.elapsed() >= LINE_INTERVAL || self.done == self.total_tasks {
                    *last = Instant::now();
                    eprintln!("progress: {}/{} {message}", self.done, self.total_tasks);
                }
            }
        }
    }

    /// Prints a line on stderr without tearing the bar.
    pub fn note(&self, line: &str) {
        match &self.display {
            Display::Bar(bar) => bar.println(line),
            _ => eprintln!("{line}"),
        }
    }

    /// Removes the bar so the summary is not mixed with it.
    pub fn finish(&mut self) {
        if let Display::Bar(bar) = &self.display {
            bar.finish_and_clear();
        }
        self.display = Display::Off;
    }
}
