//! The seed's log-file case: count ERROR and WARNING lines in every `*.log` of a directory,
//! one file per task, with `Pool.map`.
//!
//! ```text
//! cargo run --example log_files [DIR]
//! ```
//!
//! The seed's rule, per line: a line containing `ERROR` is an error, otherwise a line
//! containing `WARNING` is a warning. Lines are compared as bytes, so a file that is not
//! UTF-8 is still counted. Without DIR, a small set of logs with known counts is generated
//! in a temporary directory (totals: 3 files, 4 errors, 7 warnings).

use std::path::{Path, PathBuf};
use std::time::Instant;
use supervisor_mp::{Pool, task};

fn contains(line: &[u8], needle: &[u8]) -> bool {
    line.windows(needle.len()).any(|w| w == needle)
}

task!(
    /// (errors, warnings) of one file, or why it could not be read.
    fn process_log_file(path: PathBuf) -> Result<(u64, u64), String> {
        let bytes = std::fs::read(&path).map_err(|e| e.to_string())?;
        let (mut errors, mut warnings) = (0, 0);
        for line in bytes.split(|&b| b == b'\n') {
            if contains(line, b"ERROR") {
                errors += 1;
            } else if contains(line, b"WARNING") {
                warnings += 1;
            }
        }
        Ok((errors, warnings))
    }
);

/// Writes the sample logs; returns nothing but the files in `dir`.
fn generate(dir: &Path) -> std::io::Result<()> {
    std::fs::write(
        dir.join("app.log"),
        "INFO start\nERROR disk full\nWARNING slow request\nINFO ok\nERROR timeout\n\
         ERROR and WARNING on one line\nWARNING retry\nERROR crash\nINFO stop\n",
    )?;
    std::fs::write(dir.join("db.log"), "WARNING lag\n".repeat(5))?;
    std::fs::write(dir.join("empty.log"), "")?;
    // Not a *.log file: ignored.
    std::fs::write(dir.join("notes.txt"), "ERROR not counted\n")?;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    supervisor_mp::init();
    let temp;
    let dir = match std::env::args_os().nth(1) {
        Some(dir) => PathBuf::from(dir),
        None => {
            temp = tempfile::tempdir()?;
            generate(temp.path())?;
            println!("no directory given: using generated sample logs");
            temp.path().to_path_buf()
        }
    };

    // log_files = list(Path(log_directory).glob('*.log'))
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "log") && p.is_file())
        .collect();
    files.sort();
    if files.is_empty() {
        println!("no log files found in {}", dir.display());
        return Ok(());
    }

    let processes = supervisor_runtime::Config::available_cores()
        .saturating_sub(1)
        .max(1);
    let start = Instant::now();
    let pool = Pool::new(processes)?;
    let results = pool.map(process_log_file, files.iter().cloned())?;
    let elapsed = start.elapsed();

    let (mut total_errors, mut total_warnings) = (0, 0);
    for (path, result) in files.iter().zip(results) {
        let name = path.strip_prefix(&dir).unwrap_or(path).display();
        match result {
            Ok(Ok((errors, warnings))) => {
                total_errors += errors;
                total_warnings += warnings;
                println!("{name}: {errors} errors, {warnings} warnings");
            }
            Ok(Err(e)) => println!("{name}: cannot read: {e}"),
            Err(e) => println!("{name}: task failed: {e}"),
        }
    }
    println!("files: {}", files.len());
    println!("total errors: {total_errors}");
    println!("total warnings: {total_warnings}");
    println!("time: {:.3} s", elapsed.as_secs_f64());
    Ok(())
}
