//! Every output format, checked against the files and against each other.

use crate::support::{
    Tree, md5_of, path_of, reference_sums, result_path, run, supervisor_run, tempdir,
};
use serde_json::Value;

fn small_tree() -> Tree {
    let mut tree = Tree::empty();
    tree.add(b"a.txt", b"alpha\n");
    tree.add(b"empty", b"");
    tree.add(b"sub/b c.bin", &crate::support::content(7, 70_000));
    tree.add(b"bad\xff\xfename", b"not utf-8\n");
    tree.add(b"comma,quote\"name", b"csv needs quoting\n");
    tree
}

fn hash(tree: &Tree, format: &str) -> crate::support::Finished {
    let done = run(supervisor_run()
        .args(["-w", "2", "--format", format, "hash"])
        .arg(tree.root()));
    done.assert_code(0);
    done
}

/// Checks one hash result object against the file it names.
fn check_result(result: &Value) -> Vec<u8> {
    let path = result_path(result);
    let data = std::fs::read(path_of(&path)).unwrap();
    assert_eq!(result["size"], data.len() as u64, "{result}");
    assert_eq!(result["digest"], md5_of(&path), "{result}");
    assert_eq!(result["algo"], "md5", "{result}");
    assert!(result.get("error").is_none(), "{result}");
    path
}

#[test]
fn json_has_one_result_per_file_and_a_summary() {
    let tree = small_tree();
    let doc = hash(&tree, "json").json();
    let results = doc["results"].as_array().unwrap();
    let paths: Vec<Vec<u8>> = results.iter().map(check_result).collect();
    assert_eq!(paths, tree.files, "results are not one per file, by path");
    let summary = &doc["summary"];
    for key in [
        "tasks",
        "ok",
        "failed",
        "skipped",
        "not_run",
        "retried",
        "worker_crashes",
        "chaos_kills",
        "workers_spawned",
        "elapsed_ms",
        "gave_up",
        "workers",
    ] {
        assert!(summary.get(key).is_some(), "summary lacks {key}: {summary}");
    }
    assert_eq!(summary["tasks"], tree.files.len() as u64);
    assert_eq!(summary["ok"], tree.files.len() as u64);
    assert_eq!(summary["failed"], 0);
    assert_eq!(summary["worker_crashes"], 0);
    assert!(summary["gave_up"].is_null());
    let slots = summary["workers"].as_array().unwrap();
    assert_eq!(slots.len(), 2, "{summary}");
    let done: u64 = slots.iter().map(|s| s["tasks"].as_u64().unwrap()).sum();
    assert_eq!(done, tree.files.len() as u64);
}

#[test]
fn json_keeps_the_exact_bytes_of_a_non_utf8_name() {
    let tree = small_tree();
    let doc = hash(&tree, "json").json();
    let wanted = tree.root().join(path_of(b"bad\xff\xfename"));
    let wanted = crate::support::bytes(&wanted);
    let row = doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r.get("path_bytes").is_some())
        .unwrap_or_else(|| panic!("no path_bytes in {doc}"));
    let listed: Vec<u8> = row["path_bytes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_u64().unwrap() as u8)
        .collect();
    assert_eq!(listed, wanted);
    assert_eq!(row["path"], String::from_utf8_lossy(&wanted).as_ref());
    // UTF-8 names have no path_bytes.
    let plain = doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r.get("path_bytes").is_none())
        .count();
    assert_eq!(plain, tree.files.len() - 1);
}

#[test]
fn jsonl_has_one_line_per_result_then_the_summary() {
    let tree = small_tree();
    let done = hash(&tree, "jsonl");
    let text = String::from_utf8(done.stdout).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    assert_eq!(lines.len(), tree.files.len() + 1, "{text}");
    let (last, results) = lines.split_last().unwrap();
    assert_eq!(last.as_object().unwrap().len(), 1, "{last}");
    assert_eq!(last["summary"]["tasks"], tree.files.len() as u64);
    let mut paths: Vec<Vec<u8>> = results.iter().map(check_result).collect();
    paths.sort();
    assert_eq!(paths, tree.files);
}

#[test]
fn csv_has_a_header_and_one_row_per_file() {
    let tree = small_tree();
    let done = hash(&tree, "csv");
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(done.stdout.as_slice());
    let header = reader.byte_headers().unwrap().clone();
    assert_eq!(
        header.iter().collect::<Vec<_>>(),
        [
            &b"path"[..],
            b"size",
            b"digest",
            b"algo",
            b"error",
            b"attempts"
        ]
    );
    assert!(
        done.stdout
            .starts_with(b"path,size,digest,algo,error,attempts\n")
    );
    let mut paths = Vec::new();
    for row in reader.byte_records() {
        let row = row.unwrap();
        let path = row[0].to_vec();
        let data = std::fs::read(path_of(&path)).unwrap();
        assert_eq!(row[1], *data.len().to_string().as_bytes());
        assert_eq!(row[2], *md5_of(&path).as_bytes());
        assert_eq!(&row[3], b"md5");
        assert_eq!(&row[4], b"");
        assert_eq!(&row[5], b"1");
        paths.push(path);
    }
    assert_eq!(paths, tree.files);
}

#[test]
fn output_file_gets_the_results_and_stdout_stays_empty() {
    let tree = small_tree();
    let expected = reference_sums("md5sum", &tree.files);
    let out_dir = tempdir();
    let dest = out_dir.path().join("sums.md5");
    std::fs::write(&dest, b"old content that must be replaced\n").unwrap();
    let done = run(supervisor_run()
        .args(["--format", "sums", "-o"])
        .arg(&dest)
        .arg("hash")
        .arg(tree.root()));
    done.assert_code(0);
    assert!(done.stdout.is_empty(), "stdout: {:?}", done.stdout);
    assert_eq!(std::fs::read(&dest).unwrap(), expected);
    let names: Vec<_> = std::fs::read_dir(out_dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["sums.md5"], "temp files left beside the output");

    let dest = out_dir.path().join("out.json");
    let done = run(supervisor_run()
        .args(["--format", "json", "--output"])
        .arg(&dest)
        .arg("hash")
        .arg(tree.root()));
    done.assert_code(0);
    assert!(done.stdout.is_empty());
    let doc: Value = serde_json::from_slice(&std::fs::read(&dest).unwrap()).unwrap();
    assert_eq!(doc["results"].as_array().unwrap().len(), tree.files.len());
}

#[test]
fn the_table_lists_every_file_largest_first() {
    let tree = small_tree();
    let done = hash(&tree, "table");
    let text = String::from_utf8_lossy(&done.stdout);
    let sizes: Vec<u64> = text
        .lines()
        .skip(1)
        .take(tree.files.len())
        .map(|l| {
            l.split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("not a table row: {l:?}\n{text}"))
        })
        .collect();
    let mut sorted = sizes.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(sizes, sorted, "{text}");
    assert_eq!(sizes[0], 70_000, "{text}");
    assert!(
        text.contains(&format!("total: {} files", tree.files.len())),
        "{text}"
    );
}
