//! Bad input of every kind a user can give: each is named in the message, ends with the
//! documented exit code, and does not stop the other inputs from being processed.

use crate::support::{
    Finished, Tree, assert_all_gone, bytes, closed_port, content, deadline, md5_of, ps_view,
    reference_sums, result_path, run, spawn, step_until, summary_pids, supervisor_run, tempdir,
    wait_until, workers_of,
};
use nix::sys::stat::Mode;
use serde_json::Value;
use std::os::unix::fs::{OpenOptionsExt, symlink};
use std::path::Path;

const EMPTY_MD5: &str = "d41d8cd98f00b204e9800998ecf8427e";

/// `run -w 2 --format json hash ARGS... PATHS...`, with every worker pid gone afterwards.
fn hash_json(args: &[&str], paths: &[&Path]) -> (Finished, Value) {
    let done = run(supervisor_run()
        .args(["-w", "2", "--format", "json", "hash"])
        .args(args)
        .args(paths));
    let doc = done.json();
    assert_all_gone(&summary_pids(&doc));
    (done, doc)
}

/// The result row for `path`, which must appear exactly once.
fn row<'a>(doc: &'a Value, path: &Path) -> &'a Value {
    let rows: Vec<&Value> = doc["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|r| result_path(r) == bytes(path))
        .collect();
    assert_eq!(rows.len(), 1, "rows for {}: {doc}", path.display());
    rows[0]
}

fn assert_digest(doc: &Value, path: &Path) {
    let r = row(doc, path);
    assert_eq!(r["digest"], md5_of(&bytes(path)), "{r}");
    assert!(r.get("error").is_none(), "{r}");
}

fn assert_error(doc: &Value, path: &Path, text: &str) {
    let r = row(doc, path);
    let error = r["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error for {}: {r}", path.display()));
    assert!(error.contains(text), "{error:?} does not contain {text:?}");
}

fn results_len(doc: &Value) -> usize {
    doc["results"].as_array().expect("results").len()
}

#[test]
fn a_missing_path_a_file_and_a_directory_as_roots() {
    let mut tree = Tree::empty();
    let single = tree.add(b"single.bin", &content(1, 3000));
    let inner = tree.add(b"dir/inner.txt", b"inner\n");
    let deeper = tree.add(b"dir/sub/deeper.txt", b"deeper\n");
    let missing = tree.root().join("no-such-path");
    let dir = tree.root().join("dir");

    let (done, doc) = hash_json(&[], &[&missing, &single, &dir]);
    done.assert_code(1);
    assert_eq!(results_len(&doc), 4, "{doc}");
    assert_error(&doc, &missing, "No such file or directory");
    for path in [&single, &inner, &deeper] {
        assert_digest(&doc, path);
    }
    assert_eq!(doc["summary"]["failed"], 1, "{}", doc["summary"]);
}

#[test]
fn logs_takes_directories_files_and_a_missing_path() {
    let dir = tempdir();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(logs.join("nested")).unwrap();
    std::fs::write(logs.join("nested/app.log"), "ERROR a\nWARNING b\nfine\n").unwrap();
    std::fs::write(logs.join("other.log"), "ERROR c\nERROR d\n").unwrap();
    std::fs::write(logs.join("ignored.txt"), "ERROR not a log\n").unwrap();
    // A FIFO named like a log is skipped, not opened (the run would block forever).
    let fifo = logs.join("pipe.log");
    nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o644)).unwrap();
    let direct = dir.path().join("direct.txt");
    std::fs::write(&direct, "WARNING named explicitly\n").unwrap();
    let missing = dir.path().join("missing.log");

    let done = run(supervisor_run()
        .args(["-w", "2", "--format", "json", "logs"])
        .arg(&logs)
        .arg(&direct)
        .arg(&missing));
    done.assert_code(1);
    let doc = done.json();
    assert_all_gone(&summary_pids(&doc));
    let counts = |path: &Path| {
        let r = row(&doc, path);
        (r["counts"]["ERROR"].clone(), r["counts"]["WARNING"].clone())
    };
    assert_eq!(counts(&logs.join("nested/app.log")), (1.into(), 1.into()));
    assert_eq!(counts(&logs.join("other.log")), (2.into(), 0.into()));
    assert_eq!(counts(&direct), (0.into(), 1.into()));
    assert_error(&doc, &missing, "No such file or directory");
    assert_eq!(results_len(&doc), 4, "{doc}");
    let note = format!("skipping {}: is a FIFO", fifo.display());
    assert!(
        done.stderr.contains(&note),
        "no {note:?} in:\n{}",
        done.stderr
    );
}

/// A thread blocked opening `fifo` for writing: it only gets through once someone opens the
/// FIFO for reading.
fn fifo_writer(fifo: &Path) -> std::thread::JoinHandle<()> {
    let path = fifo.to_path_buf();
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        tx.send(nix::unistd::gettid().as_raw()).unwrap();
        let _ = std::fs::OpenOptions::new().write(true).open(&path);
    });
    let tid = rx.recv().unwrap();
    let me = std::process::id();
    // Wait until it sleeps in open(2).
    let blocked = wait_until(deadline(10), || {
        std::fs::read_to_string(format!("/proc/{me}/task/{tid}/stat"))
            .ok()
            .and_then(|s| {
                s[s.rfind(')')? + 1..]
                    .split_whitespace()
                    .next()
                    .map(String::from)
            })
            .is_some_and(|state| state == "S")
    });
    assert!(blocked, "the FIFO writer never blocked");
    handle
}

#[test]
fn a_fifo_a_socket_and_a_device_are_skipped_with_a_note_and_never_opened() {
    let mut tree = Tree::empty();
    let regular = tree.add(b"regular.txt", b"plain\n");
    let fifo = tree.root().join("a-fifo");
    nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o644)).unwrap();
    let socket = tree.root().join("a-socket");
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    listener.set_nonblocking(true).unwrap();
    let writer = fifo_writer(&fifo);
    let null = Path::new("/dev/null");

    // The FIFO and socket both met in the walk and named as roots.
    let (done, doc) = hash_json(&[], &[tree.root(), &fifo, &socket, null]);
    done.assert_code(0);
    assert_eq!(results_len(&doc), 1, "{doc}");
    assert_digest(&doc, &regular);
    for (path, what) in [
        (&fifo, "is a FIFO"),
        (&socket, "is a socket"),
        (&null.to_path_buf(), "is a device"),
    ] {
        let note = format!("supervisor: skipping {}: {what}", path.display());
        assert!(
            done.stderr.contains(&note),
            "no {note:?} in:\n{}",
            done.stderr
        );
    }
    assert_eq!(doc["summary"]["skipped"], 5, "{}", doc["summary"]);
    assert!(
        !writer.is_finished(),
        "the FIFO was opened for reading by the run"
    );
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the run connected to the socket"
    );
    // Release the writer.
    let _reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .unwrap();
    writer.join().unwrap();
}

#[test]
fn a_dangling_symlink_is_skipped_unless_followed() {
    let mut tree = Tree::empty();
    let real = tree.add(b"real.txt", b"real\n");
    let link = tree.root().join("dangling");
    symlink(tree.root().join("nowhere"), &link).unwrap();

    let (done, doc) = hash_json(&[], &[tree.root()]);
    done.assert_code(0);
    assert_eq!(results_len(&doc), 1, "{doc}");
    assert_digest(&doc, &real);
    assert!(
        done.stderr.contains("skipped 1 symbolic links"),
        "stderr:\n{}",
        done.stderr
    );

    let (done, doc) = hash_json(&["--follow-symlinks"], &[tree.root()]);
    done.assert_code(1);
    assert_eq!(results_len(&doc), 2, "{doc}");
    assert_digest(&doc, &real);
    assert_error(&doc, &link, "dangling symlink");
}

#[test]
fn a_symlink_loop_is_an_error_row_when_following() {
    let mut tree = Tree::empty();
    let a = tree.add(b"d/a.txt", b"a\n");
    let b = tree.add(b"d/e/b.txt", b"b\n");
    let back = tree.root().join("d/e/up");
    symlink("../..", &back).unwrap();
    // Two links pointing at each other.
    let x = tree.root().join("x");
    let y = tree.root().join("y");
    symlink(&y, &x).unwrap();
    symlink(&x, &y).unwrap();

    let (done, doc) = hash_json(&["--follow-symlinks"], &[tree.root()]);
    done.assert_code(1);
    assert_error(&doc, &back, "loop");
    assert_digest(&doc, &a);
    assert_digest(&doc, &b);
    // The mutual links cannot be resolved: each is an error row, and nothing else appears.
    for link in [&x, &y] {
        let r = row(&doc, link);
        assert!(r["error"].is_string(), "{r}");
    }
    assert_eq!(results_len(&doc), 5, "{doc}");
}

/// Files that change between discovery and hashing: one deleted, one truncated. With one
/// worker and a 64 MiB file hashed first (largest first), the worker is run in short slices
/// until `supervisor ps` shows it on the big file; while it is stopped there, the two small
/// files are changed. So the changes land after listing and before hashing, every time.
#[test]
fn a_file_that_vanishes_or_shrinks_after_listing() {
    let mut tree = Tree::empty();
    let big = tree.root().join("big.bin");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(64 << 20)
        .unwrap();
    let gone = tree.add(b"gone.txt", &content(2, 1000));
    let shrink = tree.add(b"shrink.txt", &content(3, 5000));
    let keep = tree.add(b"keep.txt", &content(4, 300));

    let running = spawn(
        supervisor_run()
            .args(["-w", "1", "--format", "json", "hash"])
            .arg(tree.root()),
    );
    let parent = running.pid();
    let mut worker = None;
    assert!(
        wait_until(deadline(20), || {
            worker = workers_of(parent).first().copied();
            worker.is_some()
        }),
        "no worker started"
    );
    let worker = worker.unwrap();
    let mut shown = String::new();
    let on_big = step_until(worker, 20, || {
        let view = ps_view(parent);
        shown = view.as_ref().map(|v| v.text.clone()).unwrap_or_default();
        shown
            .lines()
            .any(|l| l.contains(" running ") && l.ends_with("/big.bin"))
    });
    assert!(on_big, "never saw the worker on big.bin:\n{shown}");
    std::fs::remove_file(&gone).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&shrink)
        .unwrap()
        .set_len(10)
        .unwrap();
    crate::support::sigcont(worker);

    let done = running.finish();
    done.assert_code(1);
    let doc = done.json();
    assert_all_gone(&summary_pids(&doc));
    assert_eq!(results_len(&doc), 4, "{doc}");
    assert_error(&doc, &gone, "No such file or directory");
    assert_digest(&doc, &shrink);
    assert_eq!(row(&doc, &shrink)["size"], 10, "{doc}");
    assert_digest(&doc, &keep);
    assert_digest(&doc, &big);
    assert_eq!(row(&doc, &big)["size"], 64u64 << 20);
}

#[test]
fn an_empty_directory_gives_no_results_and_exit_0() {
    let tree = Tree::empty();
    let (done, doc) = hash_json(&[], &[tree.root()]);
    done.assert_code(0);
    assert_eq!(results_len(&doc), 0, "{doc}");
    assert_eq!(doc["summary"]["tasks"], 0);
    assert_eq!(doc["summary"]["failed"], 0);

    let sums = run(supervisor_run()
        .args(["--format", "sums", "hash"])
        .arg(tree.root()));
    sums.assert_code(0);
    assert!(sums.stdout.is_empty(), "{:?}", sums.stdout);
}

#[test]
fn zero_byte_files_have_the_empty_digest() {
    let mut tree = Tree::empty();
    let empties: Vec<_> = ["e1", "sub/e2", "sub/deeper/e3"]
        .iter()
        .map(|name| tree.add(name.as_bytes(), b""))
        .collect();
    let full = tree.add(b"not-empty", b"x");
    let (done, doc) = hash_json(&[], &[tree.root()]);
    done.assert_code(0);
    for path in &empties {
        let r = row(&doc, path);
        assert_eq!(r["digest"], EMPTY_MD5, "{r}");
        assert_eq!(r["size"], 0, "{r}");
    }
    assert_digest(&doc, &full);
    let sums = run(supervisor_run()
        .args(["-w", "2", "--format", "sums", "hash"])
        .arg(tree.root()));
    sums.assert_code(0);
    assert_eq!(sums.stdout, reference_sums("md5sum", &tree.files));
}

#[test]
fn bad_option_values_exit_2_naming_the_value() {
    let mut tree = Tree::empty();
    tree.add(b"f", b"f");
    for (args, bad) in [
        (&["--workers", "0"][..], "0"),
        (&["--algo", "crc32"][..], "crc32"),
        (&["--task-timeout", "abc"][..], "abc"),
        (&["--memory-limit", "12Q"][..], "12Q"),
        (&["--max-tasks-per-child", "0"][..], "0"),
        (&["--kill-grace", "soon"][..], "soon"),
    ] {
        let done = run(supervisor_run().arg("hash").arg(tree.root()).args(args));
        assert_eq!(done.code, Some(2), "{args:?}: {}", done.stderr);
        assert!(
            done.stderr.contains(&format!("'{bad}'")) && done.stderr.contains(args[0]),
            "{args:?}: stderr does not name {bad:?} and its option: {}",
            done.stderr
        );
        assert!(done.stdout.is_empty(), "{args:?}: output on stdout");
    }
}

/// Markers that `--crash-once-on` leaves for each item a worker started: none means no task
/// ever ran.
fn markers(dir: &Path) -> usize {
    std::fs::read_dir(dir).unwrap().count()
}

#[test]
fn an_unwritable_output_path_is_refused_before_anything_runs() {
    let dest = Path::new("/nonexistent-dir/out.txt");
    assert!(!dest.parent().unwrap().exists());
    let marks = tempdir();
    let done = run(supervisor_run()
        .args(["-w", "2", "--format", "json", "-o"])
        .arg(dest)
        .args(["fault", "--tasks", "5", "--crash-once-on", "0,1,2,3,4"])
        .arg("--marker-dir")
        .arg(marks.path()));
    done.assert_code(2);
    assert!(
        done.stderr.contains("/nonexistent-dir/out.txt"),
        "stderr does not name the path:\n{}",
        done.stderr
    );
    assert!(done.stdout.is_empty(), "output on stdout");
    assert_eq!(markers(marks.path()), 0, "a task ran");
}

#[test]
fn a_full_device_as_output_exits_2_after_the_run() {
    let mut tree = Tree::empty();
    for i in 0..20u64 {
        tree.add(format!("f{i:02}").as_bytes(), &content(i, 100));
    }
    let done = run(supervisor_run()
        .args(["-w", "2", "--format", "csv", "-o", "/dev/full", "hash"])
        .arg(tree.root()));
    done.assert_code(2);
    assert!(
        done.stderr
            .contains("cannot write /dev/full: No space left on device"),
        "stderr:\n{}",
        done.stderr
    );
    // The run itself completed: its summary (on stderr for csv) counts every file.
    assert!(
        done.stderr.contains("20 results: 20 ok, 0 failed"),
        "stderr:\n{}",
        done.stderr
    );
    assert!(done.stdout.is_empty());
}

/// Valid targets on 127.0.0.1 (one up, one refused) among garbage lines: each garbage line is
/// an error row naming FILE:LINE, the valid ones are still probed, in input order.
#[test]
fn a_targets_file_with_garbage_lines_still_probes_the_valid_ones() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let up = listener.local_addr().unwrap().to_string();
    let down = closed_port("127.0.0.1").unwrap().to_string();
    let dir = tempdir();
    let file = dir.path().join("targets");
    let garbage = [
        "garbage",
        "host:",
        ":80",
        "127.0.0.1:99999",
        "[::1",
        "127.0.0.1:2 extra",
    ];
    let mut text = format!("{up}\n");
    for g in &garbage {
        text.push_str(g);
        text.push('\n');
    }
    text.push_str(&format!("{down}\n"));
    std::fs::write(&file, text).unwrap();

    let done = run(supervisor_run()
        .args(["-w", "2", "--format", "json", "probe"])
        .args(["--connect-timeout", "2s", "--targets-file"])
        .arg(&file));
    done.assert_code(1);
    let doc = done.json();
    assert_all_gone(&summary_pids(&doc));
    let rows = doc["results"].as_array().unwrap();
    assert_eq!(rows.len(), 2 + garbage.len(), "{doc}");
    assert_eq!(rows[0]["target"], up.as_str());
    assert_eq!(rows[0]["status"], "up", "{}", rows[0]);
    for (i, g) in garbage.iter().enumerate() {
        let r = &rows[i + 1];
        assert_eq!(r["target"], *g, "{r}");
        assert_eq!(r["status"], "error", "{r}");
        let at = format!("{}:{}", file.display(), i + 2);
        assert!(
            r["error"].as_str().is_some_and(|e| e.contains(&at)),
            "the error does not name {at}: {r}"
        );
    }
    let last = &rows[garbage.len() + 1];
    assert_eq!(last["target"], down.as_str());
    assert_eq!(last["status"], "down", "{last}");
}

/// A line of non-UTF-8 bytes is garbage like any other: an error row naming FILE:LINE, and the
/// other targets are still probed.
#[test]
fn a_targets_file_with_a_non_utf8_line_still_probes_the_valid_ones() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let up = listener.local_addr().unwrap().to_string();
    let dir = tempdir();
    let file = dir.path().join("targets");
    let mut text = format!("{up}\n").into_bytes();
    text.extend_from_slice(b"\xff\xfebinary junk:80\n");
    text.extend_from_slice(format!("{up}\n").as_bytes());
    std::fs::write(&file, text).unwrap();

    let done = run(supervisor_run()
        .args(["-w", "2", "--format", "json", "probe"])
        .args(["--connect-timeout", "2s", "--targets-file"])
        .arg(&file));
    done.assert_code(1);
    let doc = done.json();
    let rows = doc["results"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "{doc}");
    assert_eq!(rows[0]["status"], "up", "{}", rows[0]);
    assert_eq!(rows[1]["status"], "error", "{}", rows[1]);
    let at = format!("{}:2", file.display());
    assert!(
        rows[1]["error"].as_str().is_some_and(|e| e.contains(&at)),
        "the error does not name {at}: {}",
        rows[1]
    );
    assert_eq!(rows[2]["status"], "up", "{}", rows[2]);
}
