//! The command line, as clap definitions (also the source of `--help`).

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;
use supervisor_jobs::hash::Algo;

/// Run work across all cores in separate OS processes, and survive whatever happens to them.
#[derive(Parser, Debug)]
#[command(name = "supervisor", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a job in supervised worker processes.
    Run(Box<RunArgs>),
    /// Show the workers of running supervisors (from their live scoreboards).
    Ps(PsArgs),
    /// Print a shell completion script.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    Man,
}

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Only the supervisor with this pid.
    pub pid: Option<u32>,
    /// Refresh until the supervisors end.
    #[arg(long)]
    pub watch: bool,
    /// Time between refreshes with --watch.
    #[arg(long, default_value = "1s", value_parser = parse_positive_duration)]
    pub interval: Duration,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub options: RunOptions,
    #[command(subcommand)]
    pub job: JobCommand,
}

/// Options of every run; accepted before or after the job's name.
#[derive(Args, Debug, Clone)]
pub struct RunOptions {
    /// Worker processes [default: the number of available cores].
    #[arg(short = 'w', long, value_name = "N", global = true,
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub workers: Option<u32>,

    /// Times a task whose worker died is run again before it fails.
    #[arg(long, value_name = "N", default_value_t = 2, global = true)]
    pub retries: u32,

    /// Restart intensity: stop (exit 3) after more than N unexpected worker deaths within
    /// --restart-window [default: max(10, 2 × workers)].
    #[arg(long, value_name = "N", global = true)]
    pub max_restarts: Option<u32>,

    /// The window of --max-restarts.
    #[arg(long, value_name = "DUR", default_value = "10s", value_parser = parse_duration, global = true)]
    pub restart_window: Duration,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table, global = true)]
    pub format: Format,

    /// Write the output to FILE (a regular file is replaced atomically).
    #[arg(short = 'o', long, value_name = "FILE", global = true)]
    pub output: Option<PathBuf>,

    /// SIGKILL a random busy worker at this interval (e.g. 50ms), to watch crash isolation.
    #[arg(long, value_name = "DUR", value_parser = parse_positive_duration, global = true)]
    pub chaos_kill_every: Option<Duration>,

    /// Seed for the choice of --chaos-kill-every victims.
    #[arg(long, value_name = "N", default_value_t = 1, global = true)]
    pub chaos_seed: u64,

    /// Live progress on stderr: auto = only when stderr is a terminal.
    #[arg(long, value_enum, default_value_t = Progress::Auto, global = true)]
    pub progress: Progress,

    /// Print only results and errors: no summary, no notes.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Print per-worker details and every worker death.
    #[arg(short, long, global = true)]
    pub verbose: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// When stderr is a terminal.
    Auto,
    /// Always, even on a pipe.
    Always,
    /// Never.
    Never,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Human-readable table with a summary footer.
    Table,
    /// `md5sum`/`sha256sum`/`b3sum` lines (hash only); the summary goes to stderr.
    Sums,
    /// One JSON document: {"results": [...], "summary": {...}}.
    Json,
    /// One JSON object per result as it completes, then a {"summary": ...} line.
    Jsonl,
    /// CSV with a header row.
    Csv,
}

#[derive(Subcommand, Debug)]
pub enum JobCommand {
    /// Hash every regular file under PATH... (recursive).
    Hash(HashArgs),
    /// Count lines with ERROR / WARNING (or --pattern) per log file.
    Logs(LogsArgs),
    /// Check TCP reachability of HOST:PORT targets, with connect latency.
    Probe(ProbeArgs),
    /// The seed's CPU benchmark: the sum of i² for i below n × scale, per task.
    Cpu(CpuArgs),
    /// Fault injection for tests: tasks that crash their worker in chosen ways.
    #[command(hide = true)]
    Fault(FaultArgs),
}

#[derive(Args, Debug)]
pub struct HashArgs {
    /// Files or directories to hash.
    #[arg(required_unless_present = "check", value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Verify the files listed in a md5sum/sha256sum/b3sum-style file instead (`-` for stdin):
    /// prints `NAME: OK` or `NAME: FAILED` per line, as coreutils does.
    #[arg(short = 'c', long, value_name = "SUMSFILE", conflicts_with_all = ["paths", "extensions", "follow_symlinks"])]
    pub check: Option<PathBuf>,

    /// Only files whose name ends with EXT (e.g. `.log`; repeatable). Default: all files.
    #[arg(long = "ext", value_name = "EXT")]
    pub extensions: Vec<String>,

    /// Digest algorithm: md5, sha1, sha256 or blake3 [default: md5; with --check, guessed
    /// from the digest length (64 hex digits: sha256)].
    #[arg(long, value_parser = parse_algo)]
    pub algo: Option<Algo>,

    /// Follow symbolic links (loops are detected and reported).
    #[arg(long)]
    pub follow_symlinks: bool,
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Log files or directories (searched recursively).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// File names to read, as shell globs (repeatable) [default: *.log]. Names ending in .gz
    /// are decompressed, e.g. --glob '*.log' --glob '*.log.*.gz'.
    #[arg(long = "glob", value_name = "GLOB")]
    pub globs: Vec<String>,

    /// Count lines containing P (repeatable, in priority order: a line counts for the first
    /// one it contains) [default: ERROR, WARNING].
    #[arg(long = "pattern", value_name = "P")]
    pub patterns: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ProbeArgs {
    /// Targets as HOST:PORT, IP:PORT or [IPV6]:PORT.
    #[arg(value_name = "HOST:PORT")]
    pub targets: Vec<String>,

    /// Read more targets from FILE: one per line, `#` starts a comment.
    #[arg(long, value_name = "FILE")]
    pub targets_file: Option<PathBuf>,

    /// Time allowed per target for name resolution and connecting together.
    #[arg(long, value_name = "DUR", default_value = "5s", value_parser = parse_positive_duration)]
    pub connect_timeout: Duration,

    /// Exit 1 when a target is not up.
    #[arg(long)]
    pub fail_on_down: bool,
}

#[derive(Args, Debug)]
pub struct CpuArgs {
    /// The tasks' n, comma-separated: task n loops n × scale times.
    #[arg(long, value_delimiter = ',', default_value = "100,200,300,400,500")]
    pub tasks: Vec<u64>,

    /// Iterations per unit of n.
    #[arg(long, default_value_t = 1_000_000)]
    pub scale: u64,

    /// Also run the tasks sequentially in this process and print both times and the speedup.
    #[arg(long)]
    pub compare: bool,
}

#[derive(Args, Debug)]
pub struct FaultArgs {
    /// Number of tasks (items 0..N).
    #[arg(long, default_value_t = 20)]
    pub tasks: u64,
    /// Items that segfault on every attempt.
    #[arg(long, value_delimiter = ',')]
    pub segfault_on: Vec<u64>,
    /// Items that abort.
    #[arg(long, value_delimiter = ',')]
    pub abort_on: Vec<u64>,
    /// Items that call exit(--exit-code).
    #[arg(long, value_delimiter = ',')]
    pub exit_on: Vec<u64>,
    /// The status used by --exit-on.
    #[arg(long, default_value_t = 3)]
    pub exit_code: i32,
    /// Items that panic.
    #[arg(long, value_delimiter = ',')]
    pub panic_on: Vec<u64>,
    /// Items that sleep forever.
    #[arg(long, value_delimiter = ',')]
    pub hang_on: Vec<u64>,
    /// Items that ignore SIGTERM and sleep forever.
    #[arg(long, value_delimiter = ',')]
    pub ignore_term_on: Vec<u64>,
    /// Items that allocate memory without bound.
    #[arg(long, value_delimiter = ',')]
    pub alloc_on: Vec<u64>,
    /// Items that crash only on their first attempt (needs --marker-dir).
    #[arg(long, value_delimiter = ',', requires = "marker_dir")]
    pub crash_once_on: Vec<u64>,
    /// Directory for the --crash-once-on markers.
    #[arg(long)]
    pub marker_dir: Option<PathBuf>,
    /// Milliseconds every task sleeps before its action.
    #[arg(long, default_value_t = 0)]
    pub sleep_ms: u64,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("{e} (expected e.g. 30s, 500ms, 2m)"))
}

fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text)?;
    if d.is_zero() {
        return Err("must be greater than zero".to_string());
    }
    Ok(d)
}

fn parse_algo(text: &str) -> Result<Algo, String> {
    text.parse::<Algo>().map_err(|e| e.to_string())
}
