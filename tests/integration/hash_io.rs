//! The hash job's two ways of reading small files, batched on io_uring and one system call at
//! a time (where io_uring is missing or refused), give the same output on the same trees.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;

use crate::support::{
    Finished, Tree, awkward_tree, content, md5_of, reference_sums, result_path, run, supervisor_run,
};

/// The environment switch that forces the one-by-one system calls.
const OFF: (&str, &str) = ("SUPERVISOR_IO_URING", "off");

/// `supervisor run -w 2 -v ARGS... hash ROOT`, with `SUPERVISOR_IO_URING=off` if `off`.
fn hash(root: &Path, args: &[&str], off: bool, tweak: impl FnOnce(&mut Command)) -> Finished {
    let mut cmd = supervisor_run();
    cmd.args(["-w", "2", "-v"]).args(args).arg("hash").arg(root);
    cmd.env_remove(OFF.0);
    if off {
        cmd.env(OFF.0, OFF.1);
    }
    tweak(&mut cmd);
    run(&mut cmd)
}

/// The line `-v` prints about the hash job's file I/O.
fn io_line(done: &Finished) -> &str {
    done.stderr
        .lines()
        .find(|l| l.starts_with("supervisor: hash reads small files by"))
        .unwrap_or_else(|| panic!("no I/O line in:\n{}", done.stderr))
}

/// Whether the batched path is expected to run here (this kernel lets us set up a ring).
fn io_uring_here(done: &Finished) -> bool {
    let line = io_line(done);
    if !line.contains("io_uring (batched") {
        eprintln!("note: io_uring is not available here, both runs used system calls: {line}");
        return false;
    }
    true
}

#[test]
fn both_paths_give_md5sums_output_on_awkward_names() {
    // Many small files (batched side by side), a file past the side-by-side limit (streamed),
    // empty files and names that need escaping or are not UTF-8.
    let tree = awkward_tree(300, 5 << 20);
    let batched = hash(tree.root(), &["--format", "sums"], false, |_| {});
    let one_by_one = hash(tree.root(), &["--format", "sums"], true, |_| {});
    batched.assert_code(0);
    one_by_one.assert_code(0);
    io_uring_here(&batched);
    assert!(
        io_line(&one_by_one)
            .contains("one system call per open, read and close (SUPERVISOR_IO_URING=off)"),
        "{}",
        one_by_one.stderr
    );
    assert_eq!(batched.stdout, one_by_one.stdout);
    assert_eq!(batched.stdout, reference_sums("md5sum", &tree.files));
}

/// Installs a seccomp filter in the child (before exec) that refuses `io_uring_setup` with
/// EPERM, as container runtimes' default profiles do; the supervisor and its workers inherit
/// it.
fn refuse_io_uring(cmd: &mut Command) {
    // SAFETY: the closure runs in the forked child before exec and only makes two prctl
    // system calls on data it owns (no allocation, no locks), which is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            let filter = [
                // Load the system call number...
                libc::sock_filter {
                    code: (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16,
                    jt: 0,
                    jf: 0,
                    k: 0,
                },
                // ...io_uring_setup: fail with EPERM; anything else: allow.
                libc::sock_filter {
                    code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
                    jt: 0,
                    jf: 1,
                    k: libc::SYS_io_uring_setup as u32,
                },
                libc::sock_filter {
                    code: (libc::BPF_RET | libc::BPF_K) as u16,
                    jt: 0,
                    jf: 0,
                    k: libc::SECCOMP_RET_ERRNO | libc::EPERM as u32,
                },
                libc::sock_filter {
                    code: (libc::BPF_RET | libc::BPF_K) as u16,
                    jt: 0,
                    jf: 0,
                    k: libc::SECCOMP_RET_ALLOW,
                },
            ];
            let program = libc::sock_fprog {
                len: filter.len() as u16,
                filter: filter.as_ptr() as *mut libc::sock_filter,
            };
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                || libc::prctl(
                    libc::PR_SET_SECCOMP,
                    libc::SECCOMP_MODE_FILTER,
                    &program as *const libc::sock_fprog,
                ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[test]
fn a_refused_io_uring_takes_the_system_calls_without_a_word_on_stdout() {
    let tree = awkward_tree(100, 5 << 20);
    let refused = hash(tree.root(), &["--format", "sums"], false, refuse_io_uring);
    refused.assert_code(0);
    assert!(
        io_line(&refused).contains(
            "one system call per open, read and close (io_uring_setup: Operation not permitted)"
        ),
        "{}",
        refused.stderr
    );
    assert_eq!(refused.stdout, reference_sums("md5sum", &tree.files));
    let quiet = run(supervisor_run()
        .args(["-w", "2", "--format", "sums", "hash"])
        .arg(tree.root())
        .tap(refuse_io_uring));
    quiet.assert_code(0);
    assert_eq!(quiet.stdout, refused.stdout);
    assert!(
        !quiet.stderr.contains("io_uring"),
        "only -v mentions the I/O path: {}",
        quiet.stderr
    );
}

/// `Command` builder helper: apply `f` and keep chaining.
trait Tap {
    fn tap(&mut self, f: impl FnOnce(&mut Self)) -> &mut Self;
}

impl Tap for Command {
    fn tap(&mut self, f: impl FnOnce(&mut Self)) -> &mut Self {
        f(self);
        self
    }
}

/// The results of a JSON run as (path, digest or error), in output order.
fn results(done: &Finished) -> Vec<(Vec<u8>, String)> {
    done.json()["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            let what = r
                .get("digest")
                .or_else(|| r.get("error"))
                .and_then(Value::as_str)
                .expect("digest or error")
                .to_owned();
            (result_path(r), what)
        })
        .collect()
}

#[test]
fn fifos_sockets_devices_and_unreadable_files_are_treated_alike_on_both_paths() {
    let mut tree = Tree::empty();
    for i in 0..150 {
        tree.add(
            format!("ok/f{i:03}").as_bytes(),
            &content(i, (i as usize * 53) % 3000),
        );
    }
    let locked = tree.add(b"ok/locked", b"secret");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let root = tree.root().to_path_buf();
    let status = Command::new("mkfifo")
        .arg(root.join("ok/pipe"))
        .status()
        .unwrap();
    assert!(status.success());
    let _socket = std::os::unix::net::UnixListener::bind(root.join("ok/sock")).unwrap();
    std::os::unix::fs::symlink("/dev/null", root.join("ok/null-link")).unwrap();
    // A device node needs root (CAP_MKNOD); elsewhere the tree simply has none.
    let device = Command::new("mknod")
        .arg(root.join("ok/dev"))
        .args(["c", "1", "3"])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    // Root reads a mode-000 file anyway: then the supervisor runs as `nobody`, for whom it is
    // unreadable (the tree is opened up for it; the files stay root's).
    let as_root = nix::unistd::geteuid().is_root();
    if as_root {
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let as_nobody = |cmd: &mut Command| {
        if as_root {
            cmd.uid(65534).gid(65534);
        }
    };
    let batched = hash(&root, &["--format", "json"], false, as_nobody);
    let one_by_one = hash(&root, &["--format", "json"], true, as_nobody);
    batched.assert_code(1);
    one_by_one.assert_code(1);
    io_uring_here(&batched);
    assert_eq!(results(&batched), results(&one_by_one));
    let got = results(&batched);
    assert_eq!(got.len(), 151, "{got:?}");
    let locked_result = got
        .iter()
        .find(|(p, _)| p.ends_with(b"ok/locked"))
        .expect("the unreadable file has a result");
    assert_eq!(locked_result.1, "Permission denied");
    for (path, digest) in got.iter().filter(|(p, _)| !p.ends_with(b"ok/locked")) {
        assert_eq!(digest, &md5_of(path), "{}", String::from_utf8_lossy(path));
    }
    let skips = |done: &Finished| -> Vec<String> {
        let mut lines: Vec<String> = done
            .stderr
            .lines()
            .filter(|l| l.contains("skipping"))
            .map(str::to_owned)
            .collect();
        lines.sort();
        lines
    };
    let skipped = skips(&batched);
    assert_eq!(skipped, skips(&one_by_one));
    let expected_skips = 3 + usize::from(device);
    assert_eq!(skipped.len(), expected_skips, "{skipped:?}");
}

/// Writes `path` atomically (a temp file in `scratch`, renamed over it), so a reader sees one
/// version whole.
fn replace(scratch: &Path, path: &Path, data: &[u8]) {
    let tmp = scratch.join(path.file_name().unwrap());
    std::fs::write(&tmp, data).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// The MD5 of each of `datas`, by `md5sum` (one run for all).
fn md5_all(datas: &[Vec<u8>]) -> Vec<String> {
    let dir = crate::support::tempdir();
    let files: Vec<Vec<u8>> = datas
        .iter()
        .enumerate()
        .map(|(k, data)| {
            let path = dir.path().join(format!("{k:05}"));
            std::fs::write(&path, data).unwrap();
            crate::support::bytes(&path)
        })
        .collect();
    let sums = reference_sums("md5sum", &files);
    String::from_utf8(sums)
        .unwrap()
        .lines()
        .map(|l| l[..32].to_owned())
        .collect()
}

#[test]
fn files_that_change_size_mid_run_hash_to_a_version_they_had_on_both_paths() {
    // Half the files grow while the run goes on (appended to: each result must be the MD5 of
    // a prefix of the final content, as long as the size it reports); the other half are
    // swapped between a short and a long version (each result must be one of the two, with
    // its size).
    const FILES: u64 = 200;
    let mut tree = Tree::empty();
    let short = |i: u64| content(i, 100 + i as usize);
    let long = |i: u64| content(i + 1000, 5000 + 7 * i as usize);
    for i in 0..FILES {
        let data = if i % 2 == 0 {
            content(i, 2000)
        } else {
            short(i)
        };
        tree.add(format!("d/f{i:03}").as_bytes(), &data);
    }
    let dir = tree.root().join("d");
    let scratch = tree.root().join("scratch");
    std::fs::create_dir(&scratch).unwrap();
    for off in [false, true] {
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (stop, dir, scratch) = (Arc::clone(&stop), dir.clone(), scratch.clone());
            std::thread::spawn(move || {
                let mut round = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    for i in 0..FILES {
                        let path = dir.join(format!("f{i:03}"));
                        if i.is_multiple_of(2) {
                            use std::io::Write;
                            let mut f = std::fs::OpenOptions::new()
                                .append(true)
                                .open(&path)
                                .unwrap();
                            f.write_all(&content(i * 7919 + round, 333)).unwrap();
                        } else {
                            let data = if round.is_multiple_of(2) {
                                long(i)
                            } else {
                                short(i)
                            };
                            replace(&scratch, &path, &data);
                        }
                    }
                    round += 1;
                }
            })
        };
        let done = hash(&dir, &["--format", "json"], off, |_| {});
        stop.store(true, Ordering::Relaxed);
        writer.join().unwrap();
        done.assert_code(0);
        let mut expected = Vec::new();
        let mut got = Vec::new();
        for r in done.json()["results"].as_array().unwrap() {
            let path = result_path(r);
            let name = String::from_utf8_lossy(&path).into_owned();
            let i: u64 = name[name.len() - 3..].parse().unwrap();
            let size = r["size"].as_u64().expect("size") as usize;
            got.push((
                name.clone(),
                r["digest"].as_str().expect("digest").to_owned(),
            ));
            if i.is_multiple_of(2) {
                let now = std::fs::read(crate::support::path_of(&path)).unwrap();
                assert!((2000..=now.len()).contains(&size), "{name}: {size}");
                expected.push(now[..size].to_vec());
            } else {
                let version = if size == short(i).len() {
                    short(i)
                } else {
                    long(i)
                };
                assert_eq!(size, version.len(), "{name} (off: {off})");
                expected.push(version);
            }
        }
        assert_eq!(got.len() as u64, FILES);
        for ((name, digest), want) in got.iter().zip(md5_all(&expected)) {
            assert_eq!(digest, &want, "{name} (SUPERVISOR_IO_URING=off: {off})");
        }
        // The next run starts from the files as they are now.
        for i in (0..FILES).filter(|i| i % 2 == 1) {
            replace(&scratch, &dir.join(format!("f{i:03}")), &short(i));
        }
    }
}
