//! Times the hash job's discovery of a tree (what the parent does before the first task is
//! sent): `cargo run --release -p supervisor-jobs --example walk_time -- DIR [ROUNDS]`.

use std::path::PathBuf;
use std::time::Instant;
use supervisor_jobs::hash::{DiscoverOptions, discover};

fn main() {
    let mut args = std::env::args().skip(1);
    let root = PathBuf::from(args.next().expect("usage: walk_time DIR [ROUNDS]"));
    let rounds: usize = args
        .next()
        .map_or(3, |r| r.parse().expect("ROUNDS is a number"));
    for _ in 0..rounds {
        let start = Instant::now();
        let found = discover(std::slice::from_ref(&root), &DiscoverOptions::default())
            .sizes_where_paying()
            .into_discovered();
        println!(
            "{} files, {} other entries in {:?}",
            found.files.len(),
            found.others.len(),
            start.elapsed()
        );
    }
}
