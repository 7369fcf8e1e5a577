//! Tells the integration tests whether GNU parallel, the reference the `exec` job is compared
//! against, can be run here: `cfg(gnu_parallel)`. Without it those tests are compiled as
//! `#[ignore = "..."]`, so `cargo test` lists them as ignored with the reason instead of
//! passing them silently. (CI installs it; see `.ci/run`.)

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn main() {
    println!("cargo::rustc-check-cfg=cfg(gnu_parallel)");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=PATH");
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path)
        .filter(|d| d.is_dir())
        .collect();
    match dirs
        .iter()
        .map(|d| d.join("parallel"))
        .find(|p| p.is_file())
    {
        Some(exe) => {
            // Removing or replacing it is noticed (moreutils ships another `parallel`).
            println!("cargo::rerun-if-changed={}", exe.display());
            if is_gnu_parallel(&exe) {
                println!("cargo::rustc-cfg=gnu_parallel");
            }
        }
        None => {
            // Installing it changes one of these directories.
            for dir in &dirs {
                println!("cargo::rerun-if-changed={}", dir.display());
            }
        }
    }
}

fn is_gnu_parallel(exe: &Path) -> bool {
    Command::new(exe)
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("GNU parallel"))
}
