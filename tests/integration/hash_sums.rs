//! `--format sums` is byte-for-byte what the coreutils tools print, and they accept it.

use crate::support::{Tree, awkward_tree, reference_sums, run, supervisor_run, tempdir};

pub(crate) fn our_sums(tree: &Tree, algo: &str) -> Vec<u8> {
    let done = run(supervisor_run()
        .args(["-w", "2", "--format", "sums", "hash", "--algo", algo])
        .arg(tree.root()));
    done.assert_code(0);
    done.stdout
}

#[test]
fn md5_sums_equal_md5sum_and_pass_its_check() {
    let tree = awkward_tree(40, 3 << 20);
    assert!(tree.root().is_absolute());
    let ours = our_sums(&tree, "md5");
    let expected = reference_sums("md5sum", &tree.files);
    assert_eq!(
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(&expected)
    );
    assert_eq!(ours, expected, "sums differ from md5sum in raw bytes");
    assert_eq!(
        ours.iter().filter(|&&b| b == b'\n').count(),
        tree.files.len()
    );

    let list_dir = tempdir();
    let list = list_dir.path().join("list.md5");
    std::fs::write(&list, &ours).unwrap();
    let check = std::process::Command::new("md5sum")
        .arg("-c")
        .arg("--quiet")
        .arg(&list)
        .output()
        .expect("run md5sum -c");
    assert!(
        check.status.success(),
        "md5sum -c rejected our output: {}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn sha256_sums_equal_sha256sum() {
    let tree = awkward_tree(20, 3 << 20);
    let ours = our_sums(&tree, "sha256");
    let expected = reference_sums("sha256sum", &tree.files);
    assert_eq!(
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(&expected)
    );
    assert_eq!(ours, expected);
}
