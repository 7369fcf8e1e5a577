//! `run cpu`: the seed's sum-of-squares benchmark, exact in u128, and `--compare`.

use crate::support::{assert_all_gone, run, stdout_text, summary_pids, supervisor_run};
use serde_json::Value;

/// What the seed's Python prints: `sum(i * i for i in range(n * 1_000_000))` per task.
const SEED: [(u64, &str); 5] = [
    (100, "333333328333333350000000"),
    (200, "2666666646666666700000000"),
    (300, "8999999955000000050000000"),
    (400, "21333333253333333400000000"),
    (500, "41666666541666666750000000"),
];

/// Σ i² for i in 0..n, by the closed form (n-1)n(2n-1)/6.
fn sum_of_squares(n: u128) -> u128 {
    if n == 0 {
        return 0;
    }
    (n - 1) * n * (2 * n - 1) / 6
}

/// (n, result) of every row of a json document, in order.
fn rows(doc: &Value) -> Vec<(u64, String)> {
    doc["results"]
        .as_array()
        .expect("results is an array")
        .iter()
        .map(|r| {
            assert!(r.get("error").is_none(), "{r}");
            (
                r["n"].as_u64().expect("n is a number"),
                r["result"]
                    .as_str()
                    .expect("result is a decimal string")
                    .to_owned(),
            )
        })
        .collect()
}

fn cpu_json(args: &[&str]) -> Value {
    let done = run(supervisor_run()
        .args(["-w", "2", "--format", "json", "cpu"])
        .args(args));
    done.assert_code(0);
    done.json()
}

#[test]
fn the_seed_table_is_the_closed_form() {
    for (n, printed) in SEED {
        let closed = sum_of_squares(u128::from(n) * 1_000_000);
        assert_eq!(closed.to_string(), printed, "n = {n}");
        // Beyond u64: only an exact wide integer gets these right.
        assert!(closed > u128::from(u64::MAX));
    }
}

#[test]
fn cpu_results_are_exact_past_u64() {
    // The seed's five tasks at 1/100 of its scale: 15 million iterations, quick in a debug
    // build, and the largest sum still exceeds u64.
    let doc = cpu_json(&["--tasks", "100,200,300,400,500", "--scale", "10000"]);
    let expected: Vec<(u64, String)> = SEED
        .iter()
        .map(|&(n, _)| (n, sum_of_squares(u128::from(n) * 10_000).to_string()))
        .collect();
    assert!(sum_of_squares(500 * 10_000) > u128::from(u64::MAX));
    assert_eq!(rows(&doc), expected);
    assert_eq!(doc["summary"]["failed"], 0);
    assert_eq!(doc["summary"]["tasks"], 5);
}

#[test]
fn cpu_seed_task_100_matches_python() {
    // The seed's smallest task at its real scale (10^8 iterations, ~2 s in a debug build).
    let doc = cpu_json(&["--tasks", "100"]);
    assert_eq!(rows(&doc), [(SEED[0].0, SEED[0].1.to_owned())]);
}

/// The whole classic benchmark at its real scale (Σ i² for i below n × 10⁶, n = 100..500),
/// equal to what the original Python prints (the jobs crate is optimized in test builds, so
/// this takes a second or two).
#[test]
fn cpu_seed_defaults_match_python() {
    let doc = cpu_json(&["--tasks", "100,200,300,400,500"]);
    let expected: Vec<(u64, String)> = SEED.iter().map(|&(n, r)| (n, r.to_owned())).collect();
    assert_eq!(rows(&doc), expected);
    // The default task list is the seed's.
    let doc = cpu_json(&[]);
    assert_eq!(rows(&doc), expected);
}

/// One long task is cut into slices that both workers run; the slices add up to the exact
/// result even when workers are killed in the middle of theirs (a killed slice is rerun).
#[test]
fn one_task_is_spread_over_the_workers_and_survives_kills() {
    let done = run(supervisor_run().args([
        "-w",
        "2",
        "--retries",
        "50",
        "--chaos-kill-every",
        "50ms",
        "--chaos-seed",
        "3",
        "--format",
        "json",
        "cpu",
        "--tasks",
        "1000",
        "--scale",
        "1000000",
    ]));
    done.assert_code(0);
    let doc = done.json();
    let exact = sum_of_squares(1_000_000_000).to_string();
    assert_eq!(rows(&doc), [(1000, exact)]);
    let summary = &doc["summary"];
    assert_eq!(summary["tasks"], 1, "{summary}");
    assert_eq!(summary["failed"], 0, "{summary}");
    assert!(summary["chaos_kills"].as_u64().unwrap() > 0, "{summary}");
    let slices: Vec<u64> = summary["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["tasks"].as_u64().unwrap())
        .collect();
    assert!(
        slices.iter().all(|&n| n > 0) && slices.iter().sum::<u64>() >= 10,
        "both workers ran slices of the one task: {summary}"
    );
    assert_all_gone(&summary_pids(&doc));
}

#[test]
fn compare_prints_a_speedup() {
    let args = ["--tasks", "1,2,3,4", "--scale", "200000", "--compare"];
    let expected: Vec<(u64, String)> = [1u64, 2, 3, 4]
        .iter()
        .map(|&n| (n, sum_of_squares(u128::from(n) * 200_000).to_string()))
        .collect();

    let doc = cpu_json(&args);
    assert_eq!(rows(&doc), expected);
    let compare = &doc["summary"]["compare"];
    let speedup = compare["speedup"]
        .as_f64()
        .unwrap_or_else(|| panic!("no summary.compare.speedup: {}", doc["summary"]));
    assert!(speedup > 0.0 && speedup.is_finite(), "{compare}");
    assert_eq!(compare["results_agree"], true, "{compare}");
    assert_eq!(compare["workers"], 2, "{compare}");
    for key in ["parallel_ms", "sequential_ms"] {
        let ms = compare[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key}: {compare}"));
        assert!(ms > 0.0, "{compare}");
    }

    let done = run(supervisor_run().args(["-w", "2", "cpu"]).args(args));
    done.assert_code(0);
    let text = stdout_text(&done);
    let line = text
        .lines()
        .find(|l| l.contains("speedup "))
        .unwrap_or_else(|| panic!("no speedup line:\n{text}"));
    let number = line
        .split("speedup ")
        .nth(1)
        .and_then(|rest| rest.split('x').next())
        .unwrap_or_else(|| panic!("no 'speedup N.NNx' in {line:?}"));
    let (whole, fraction) = number
        .split_once('.')
        .unwrap_or_else(|| panic!("speedup {number:?} has no decimals in {line:?}"));
    assert!(
        !whole.is_empty()
            && whole.bytes().all(|b| b.is_ascii_digit())
            && fraction.len() == 2
            && fraction.bytes().all(|b| b.is_ascii_digit()),
        "speedup is not N.NN in {line:?}"
    );
    assert!(number.parse::<f64>().unwrap() > 0.0, "{line:?}");
    assert!(!line.contains("DIFFER"), "{line:?}");
    for (n, result) in &expected {
        assert!(
            text.lines().any(
                |l| l.split_whitespace().collect::<Vec<_>>() == [n.to_string(), result.clone()]
            ),
            "no row for n={n} with {result}:\n{text}"
        );
    }
}

#[test]
fn bad_tasks_are_usage_errors() {
    for args in [
        &["--tasks", "abc"][..],
        &["--tasks", "1,x,3"],
        &["--tasks", "-5"],
        // 2 × 10^13 iterations: the sum would not fit in u128, refused before any work.
        &["--tasks", "20000000"],
    ] {
        let done = run(supervisor_run().arg("cpu").args(args));
        done.assert_code(2);
        assert!(done.stdout.is_empty(), "{args:?}: stdout {:?}", done.stdout);
        assert!(!done.stderr.is_empty(), "{args:?}: no message");
    }
}
