//! `--format sums` against reference tools that a machine may lack (coreutils' own tools are
//! compared in the integration target).

use crate::harness::Test;
use crate::support::{Tree, awkward_tree, reference_sums, run, supervisor_run, tempdir};
use std::process::{Command, Stdio};

fn our_sums(tree: &Tree, algo: &str) -> Vec<u8> {
    let done = run(supervisor_run()
        .args(["-w", "2", "--format", "sums", "hash", "--algo", algo])
        .arg(tree.root()));
    done.assert_code(0);
    done.stdout
}

pub fn tests() -> Vec<Test> {
    vec![Test::when(
        "hash_tools::blake3_sums_equal_b3sum",
        || needs_tool("b3sum", "b3sum"),
        blake3_sums_equal_b3sum,
    )]
}

/// `None` when `tool` is on PATH; otherwise why the test cannot run (and the Debian package).
pub fn needs_tool(tool: &str, package: &str) -> Option<String> {
    (!installed(tool)).then(|| format!("{tool} is not installed (apt-get install {package})"))
}

fn blake3_sums_equal_b3sum() {
    // b3sum may refuse names that are not UTF-8: compare only the UTF-8 ones.
    let mut tree = Tree::empty();
    let full = awkward_tree(20, 1 << 20);
    for file in &full.files {
        let relative = &file[full.root().as_os_str().len() + 1..];
        if std::str::from_utf8(relative).is_ok() {
            tree.add(
                relative,
                &std::fs::read(crate::support::path_of(file)).unwrap(),
            );
        }
    }
    let ours = our_sums(&tree, "blake3");
    let list_dir = tempdir();
    let list = list_dir.path().join("list.b3");
    std::fs::write(&list, &ours).unwrap();
    let check = std::process::Command::new("b3sum")
        .arg("--check")
        .arg(&list)
        .output()
        .expect("run b3sum --check");
    assert!(
        check.status.success(),
        "b3sum --check rejected our output: {}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let expected = reference_sums("b3sum", &tree.files);
    assert_eq!(
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(&expected)
    );
    assert_eq!(ours, expected);
}

/// True if `tool` can be run.
fn installed(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}
