//! Times the md5 group digester alone, without the engine: two processes each walk the tree,
//! then hash every other group of [`GROUP_FILES`] files in the walk's order (as a run's two
//! workers get them) and print how long the hashing took; no scoreboard, no protocol, no
//! output. `cargo run --release -p supervisor-jobs --example group_time -- DIR`, with
//! `SUPERVISOR_IO_URING=off` for the one-by-one system calls.
use std::path::PathBuf;
use std::time::Instant;
use supervisor_jobs::hash::{DiscoverOptions, GROUP_FILES, GroupDigester, discover};

fn main() {
    let root = PathBuf::from(std::env::args().nth(1).expect("usage: group_time DIR"));
    let mut children = Vec::new();
    for half in 0..2 {
        // SAFETY: no thread has been started yet (the walk's start theirs in each child), so
        // the child is a copy of a single-threaded process.
        match unsafe { nix::unistd::fork() }.expect("fork") {
            nix::unistd::ForkResult::Child => {
                hash_half(&root, half);
                std::process::exit(0);
            }
            nix::unistd::ForkResult::Parent { child } => children.push(child),
        }
    }
    for child in children {
        nix::sys::wait::waitpid(child, None).expect("wait for a child");
    }
}

/// Walks `root`, then hashes groups `half`, `half + 2`, ... and prints the time that took.
fn hash_half(root: &PathBuf, half: usize) {
    let files = discover(std::slice::from_ref(root), &DiscoverOptions::default())
        .sizes_where_paying()
        .into_discovered()
        .files;
    let paths: Vec<Vec<u8>> = (0..files.len()).map(|i| files.path(i).to_vec()).collect();
    let mut digester = GroupDigester::new();
    let start = Instant::now();
    let mut hashed = 0;
    for group in paths.chunks(GROUP_FILES).skip(half).step_by(2) {
        let group: Vec<&[u8]> = group.iter().map(Vec::as_slice).collect();
        hashed += digester.md5(&group, &mut |_| {}).len();
    }
    println!(
        "half {half}: {hashed} files hashed in {:?} ({})",
        start.elapsed(),
        digester.io()
    );
}
