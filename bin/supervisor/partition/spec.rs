//! `--partition hash:M/N|M/N|auto`, as given.

use supervisor_jobs::partition::Partition;

/// What `--partition` asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartitionSpec {
    /// `hash:M/N`.
    Hash(Partition),
    /// `M/N`: share M of a plan.
    Planned(Partition),
    /// `auto`: from the scheduler's environment.
    Auto,
}

pub(super) fn parse_spec(text: &str) -> Result<PartitionSpec, String> {
    if text == "auto" {
        return Ok(PartitionSpec::Auto);
    }
    let (planned, fraction) = match text.strip_prefix("hash:") {
        Some(rest) => (false, rest),
        None => (true, text),
    };
    let bad = || format!("invalid partition {text:?} (expected hash:M/N, M/N or auto)");
    let (m, n) = fraction.split_once('/').ok_or_else(bad)?;
    let m: u64 = m.trim().parse().map_err(|_| bad())?;
    let n: u32 = n.trim().parse().map_err(|_| bad())?;
    let partition = Partition::new(m, n).map_err(|e| format!("invalid partition {text:?}: {e}"))?;
    Ok(if planned {
        PartitionSpec::Planned(partition)
    } else {
        PartitionSpec::Hash(partition)
    })
}

pub(super) fn spec_text(spec: PartitionSpec) -> String {
    match spec {
        PartitionSpec::Hash(p) => format!("hash:{p}"),
        PartitionSpec::Planned(p) => p.to_string(),
        PartitionSpec::Auto => "auto".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        let p = |m, n| Partition::new(m, n).unwrap();
        assert_eq!(parse_spec("hash:2/3"), Ok(PartitionSpec::Hash(p(2, 3))));
        assert_eq!(parse_spec("2/3"), Ok(PartitionSpec::Planned(p(2, 3))));
        assert_eq!(parse_spec("auto"), Ok(PartitionSpec::Auto));
        for bad in [
            "hash:0/3", "hash:4/3", "hash:1/0", "hash:2", "x:1/2", "", "hash:a/b",
        ] {
            let err = parse_spec(bad).unwrap_err();
            assert!(err.contains(&format!("{bad:?}")), "{bad}: {err}");
        }
    }
}
