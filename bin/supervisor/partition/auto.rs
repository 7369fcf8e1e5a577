//! `--partition auto`: the partition from the scheduler that started this copy of the command.
//!
//! - Slurm job arrays: `SLURM_ARRAY_TASK_ID`, `_MIN`, `_STEP`, `_COUNT`; the partition index is
//!   (ID − MIN) / STEP, so arrays may start anywhere (`--array=0-8:4` is 1/3, 2/3, 3/3). Job ids
//!   are not in task order and are never used.
//! - Kubernetes Indexed Jobs: `JOB_COMPLETION_INDEX` (0-based) and `--partitions N`, since
//!   Kubernetes exports no total.
//! - AWS Batch array jobs: `AWS_BATCH_JOB_ARRAY_INDEX` (0-based) and
//!   `AWS_BATCH_JOB_ARRAY_SIZE` (or `--partitions N`).
//!
//! The first scheduler whose index variable is set wins, in that order.

use supervisor_jobs::partition::Partition;

/// The partition and a description of where it came from, from the variables `env` gives;
/// `total` is `--partitions` (or the plan's count), checked against the scheduler's total.
pub fn detect(
    env: &dyn Fn(&str) -> Option<String>,
    total: Option<u32>,
) -> Result<(Partition, String), String> {
    if let Some(id) = env("SLURM_ARRAY_TASK_ID") {
        return slurm(env, &id, total);
    }
    if let Some(index) = env("JOB_COMPLETION_INDEX") {
        let index = number("JOB_COMPLETION_INDEX", &index)?;
        let count = total.ok_or(
            "--partition auto in a Kubernetes Indexed Job needs --partitions N (the Job's \
             completions): JOB_COMPLETION_INDEX comes without a total",
        )?;
        let source = format!("Kubernetes: JOB_COMPLETION_INDEX={index}, --partitions {count}");
        return Ok((partition(index, count, &source)?, source));
    }
    if let Some(index) = env("AWS_BATCH_JOB_ARRAY_INDEX") {
        let index = number("AWS_BATCH_JOB_ARRAY_INDEX", &index)?;
        let size = env("AWS_BATCH_JOB_ARRAY_SIZE")
            .map(|s| number("AWS_BATCH_JOB_ARRAY_SIZE", &s))
            .transpose()?;
        let (count, source) = match (size, total) {
            (Some(size), Some(total)) if size != u64::from(total) => {
                return Err(format!(
                    "AWS_BATCH_JOB_ARRAY_SIZE={size} but --partitions says {total}"
                ));
            }
            (Some(size), _) => (
                size,
                format!(
                    "AWS Batch: AWS_BATCH_JOB_ARRAY_INDEX={index}, AWS_BATCH_JOB_ARRAY_SIZE={size}"
                ),
            ),
            (None, Some(total)) => (
                u64::from(total),
                format!("AWS Batch: AWS_BATCH_JOB_ARRAY_INDEX={index}, --partitions {total}"),
            ),
            (None, None) => {
                return Err(
                    "AWS_BATCH_JOB_ARRAY_INDEX is set but not AWS_BATCH_JOB_ARRAY_SIZE: \
                            give --partitions N"
                        .into(),
                );
            }
        };
        let count = u32::try_from(count).map_err(|_| format!("{source}: too many partitions"))?;
        return Ok((partition(index, count, &source)?, source));
    }
    Err(
        "--partition auto found no array index: none of SLURM_ARRAY_TASK_ID (Slurm), \
         JOB_COMPLETION_INDEX (Kubernetes) or AWS_BATCH_JOB_ARRAY_INDEX (AWS Batch) is set; \
         give --partition hash:M/N"
            .into(),
    )
}

fn slurm(
    env: &dyn Fn(&str) -> Option<String>,
    id: &str,
    total: Option<u32>,
) -> Result<(Partition, String), String> {
    let id = number("SLURM_ARRAY_TASK_ID", id)?;
    let required = |name: &str| {
        env(name)
            .ok_or_else(|| format!("SLURM_ARRAY_TASK_ID is set but not {name}"))
            .and_then(|value| number(name, &value))
    };
    let min = required("SLURM_ARRAY_TASK_MIN")?;
    let count = required("SLURM_ARRAY_TASK_COUNT")?;
    // Slurm sets the step for every range array; an old or hand-made environment may not.
    let step = match env("SLURM_ARRAY_TASK_STEP") {
        Some(step) => number("SLURM_ARRAY_TASK_STEP", &step)?,
        None => 1,
    };
    let source = format!(
        "Slurm: SLURM_ARRAY_TASK_ID={id}, SLURM_ARRAY_TASK_MIN={min}, \
         SLURM_ARRAY_TASK_STEP={step}, SLURM_ARRAY_TASK_COUNT={count}"
    );
    if step == 0 || id < min || (id - min) % step != 0 {
        return Err(format!(
            "{source}: the task id is not MIN + k × STEP; use a range array (--array=A-B or A-B:S)"
        ));
    }
    let count = u32::try_from(count).map_err(|_| format!("{source}: too many partitions"))?;
    if let Some(total) = total
        && total != count
    {
        return Err(format!(
            "{source}: the array has {count} tasks but {total} partitions were asked for"
        ));
    }
    Ok((partition((id - min) / step, count, &source)?, source))
}

fn number(name: &str, value: &str) -> Result<u64, String> {
    value
        .trim()
        .parse()
        .map_err(|_| format!("{name}={value:?} is not a whole number"))
}

/// The partition with this 0-based index.
fn partition(index: u64, count: u32, source: &str) -> Result<Partition, String> {
    Partition::new(index.saturating_add(1), count)
        .map_err(|e| format!("{source}: index {index} (0-based) is no partition of {count}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn detect_in(vars: &[(&str, &str)], total: Option<u32>) -> Result<(u32, u32), String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        detect(&|name| map.get(name).cloned(), total).map(|(p, _)| (p.number(), p.count()))
    }

    fn slurm_vars(id: &str, min: &str, step: &str, count: &str) -> Vec<(&'static str, String)> {
        vec![
            ("SLURM_ARRAY_TASK_ID", id.into()),
            ("SLURM_ARRAY_TASK_MIN", min.into()),
            ("SLURM_ARRAY_TASK_STEP", step.into()),
            ("SLURM_ARRAY_TASK_COUNT", count.into()),
            // Job ids are not in task order: never used.
            ("SLURM_ARRAY_JOB_ID", "900".into()),
            ("SLURM_JOB_ID", "907".into()),
        ]
    }

    fn as_refs<'a>(vars: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
        vars.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }

    #[test]
    fn slurm_arrays_from_one_and_stepped_from_zero() {
        // --array=1-3
        for (id, number) in [("1", 1), ("2", 2), ("3", 3)] {
            let vars = slurm_vars(id, "1", "1", "3");
            assert_eq!(detect_in(&as_refs(&vars), None), Ok((number, 3)));
        }
        // --array=0-8:4 is tasks 0, 4, 8.
        for (id, number) in [("0", 1), ("4", 2), ("8", 3)] {
            let vars = slurm_vars(id, "0", "4", "3");
            assert_eq!(detect_in(&as_refs(&vars), None), Ok((number, 3)));
        }
        // --array=5-7 with --partitions 3 agreeing.
        let vars = slurm_vars("6", "5", "1", "3");
        assert_eq!(detect_in(&as_refs(&vars), Some(3)), Ok((2, 3)));
    }

    #[test]
    fn slurm_misfits_are_refused() {
        let vars = slurm_vars("5", "0", "4", "3");
        let err = detect_in(&as_refs(&vars), None).unwrap_err();
        assert!(err.contains("not MIN + k × STEP"), "{err}");
        let vars = slurm_vars("2", "1", "1", "3");
        let err = detect_in(&as_refs(&vars), Some(4)).unwrap_err();
        assert!(err.contains("3 tasks but 4 partitions"), "{err}");
        let err = detect_in(&[("SLURM_ARRAY_TASK_ID", "1")], None).unwrap_err();
        assert!(err.contains("SLURM_ARRAY_TASK_MIN"), "{err}");
        // A list array (--array=1,5,9) has no step that maps ids to indexes.
        let vars = slurm_vars("9", "1", "1", "3");
        let err = detect_in(&as_refs(&vars), None).unwrap_err();
        assert!(err.contains("index 8"), "{err}");
    }

    #[test]
    fn kubernetes_needs_the_count_given() {
        let vars = [("JOB_COMPLETION_INDEX", "0")];
        assert_eq!(detect_in(&vars, Some(3)), Ok((1, 3)));
        assert_eq!(
            detect_in(&[("JOB_COMPLETION_INDEX", "2")], Some(3)),
            Ok((3, 3))
        );
        let err = detect_in(&vars, None).unwrap_err();
        assert!(err.contains("--partitions N"), "{err}");
        let err = detect_in(&[("JOB_COMPLETION_INDEX", "3")], Some(3)).unwrap_err();
        assert!(err.contains("index 3"), "{err}");
    }

    #[test]
    fn aws_batch_arrays() {
        let vars = [
            ("AWS_BATCH_JOB_ARRAY_INDEX", "4"),
            ("AWS_BATCH_JOB_ARRAY_SIZE", "7"),
        ];
        assert_eq!(detect_in(&vars, None), Ok((5, 7)));
        assert_eq!(
            detect_in(&[("AWS_BATCH_JOB_ARRAY_INDEX", "0")], Some(2)),
            Ok((1, 2))
        );
        assert!(detect_in(&vars, Some(6)).is_err());
        assert!(detect_in(&[("AWS_BATCH_JOB_ARRAY_INDEX", "x")], Some(2)).is_err());
    }

    #[test]
    fn slurm_wins_and_nothing_set_is_an_error() {
        let mut vars = slurm_vars("2", "1", "1", "3");
        vars.push(("JOB_COMPLETION_INDEX", "0".into()));
        assert_eq!(detect_in(&as_refs(&vars), None), Ok((2, 3)));
        let err = detect_in(&[], Some(3)).unwrap_err();
        assert!(err.contains("no array index"), "{err}");
    }
}
