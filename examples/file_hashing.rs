//! The seed's file-processing script: the MD5 of every file under a directory, one file per
//! task, with `Pool.map`, printed largest first.
//!
//! ```text
//! cargo run --example file_hashing [DIR]
//! ```
//!
//! Each task calls `supervisor_jobs::hash::hash_file`, the per-file work of the `supervisor
//! hash` command. Without DIR, a small tree with known contents is generated in a temporary
//! directory. Symbolic links are not followed.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Instant;
use supervisor_jobs::hash::{Algo, hash_file};
use supervisor_mp::{Pool, task};

task!(
    /// (size, md5 hex) of one file, or why it could not be read.
    fn calculate_file_hash(path: PathBuf) -> Result<(u64, String), String> {
        let mut buf = Vec::new();
        hash_file(path.as_os_str().as_bytes(), Algo::Md5, &mut buf)
            .map(|d| (d.size, d.digest.hex()))
            .map_err(|e| e.message())
    }
);

/// Every regular file under `dir`, recursively, without following links.
fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(&entry.path(), files)?;
        } else if kind.is_file() {
            files.push(entry.path());
        }
    }
    Ok(())
}

fn generate(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir.join("sub/deep"))?;
    std::fs::write(dir.join("a.txt"), "hello\n")?;
    std::fs::write(dir.join("sub/b.log"), "")?;
    std::fs::write(dir.join("sub/deep/c.py"), "print('hi')\n")?;
    std::fs::write(dir.join("big.bin"), vec![0u8; 3 << 20])?;
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
            println!("no directory given: using a generated tree");
            temp.path().to_path_buf()
        }
    };
    if !dir.is_dir() {
        eprintln!("directory {} does not exist", dir.display());
        std::process::exit(1);
    }
    let mut files = Vec::new();
    walk(&dir, &mut files)?;
    files.sort();
    if files.is_empty() {
        println!("no files found in {}", dir.display());
        return Ok(());
    }
    println!("files found: {}", files.len());

    let processes = files
        .len()
        .min(supervisor_runtime::Config::available_cores());
    let start = Instant::now();
    let pool = Pool::new(processes)?;
    let results = pool.map(calculate_file_hash, files.iter().cloned())?;
    let elapsed = start.elapsed();

    // Largest first (the seed's `results.sort(key=size, reverse=True)`), then by path.
    let mut rows: Vec<(u64, String, String)> = files
        .iter()
        .zip(results)
        .map(|(path, result)| {
            let name = path
                .strip_prefix(&dir)
                .unwrap_or(path)
                .display()
                .to_string();
            match result {
                Ok(Ok((size, digest))) => (size, name, digest),
                Ok(Err(e)) => (0, name, format!("ERROR: {e}")),
                Err(e) => (0, name, format!("ERROR: task failed: {e}")),
            }
        })
        .collect();
    rows.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));

    let mut total: u64 = 0;
    for (size, name, digest) in &rows {
        if digest.starts_with("ERROR") {
            println!("{name}: {digest}");
        } else {
            println!("{name}: {digest} ({size} bytes)");
            total += size;
        }
    }
    println!(
        "total size: {total} bytes ({:.2} MB)",
        total as f64 / 1024.0 / 1024.0
    );
    println!("time: {:.3} s", elapsed.as_secs_f64());
    Ok(())
}
