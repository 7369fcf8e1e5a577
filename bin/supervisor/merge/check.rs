//! Which files may be merged: partitions of one run (same job, same arguments, same split),
//! each partition exactly once. Decided from the files' headers, before any is read through.

use crate::error::CliError;
use crate::partition::Header;
use std::path::Path;

/// A file given to `merge`, and the partition its header says it is.
pub struct Claim<'a> {
    pub path: &'a Path,
    pub header: &'a Header,
}

/// Refuses files that are not partitions of one run, naming two that differ.
pub fn one_run(parts: &[Claim<'_>]) -> Result<(), CliError> {
    let first = &parts[0];
    for other in &parts[1..] {
        let (a, b) = (first.header, other.header);
        if a.job != b.job || a.fingerprint != b.fingerprint {
            return Err(CliError::Usage(format!(
                "{} and {} are not partitions of one run: {} ran {} {}, {} ran {} {}",
                first.path.display(),
                other.path.display(),
                first.path.display(),
                a.job,
                a.args,
                other.path.display(),
                b.job,
                b.args
            )));
        }
        if a.partitions != b.partitions || a.scheme != b.scheme || a.plan != b.plan {
            return Err(CliError::Usage(format!(
                "{} and {} are not partitions of one split: {} is {}, {} is {}",
                first.path.display(),
                other.path.display(),
                first.path.display(),
                a.describe(),
                other.path.display(),
                b.describe()
            )));
        }
    }
    Ok(())
}

/// Refuses a set that lacks a partition or holds one twice, naming them by number.
pub fn complete(parts: &[Claim<'_>]) -> Result<(), CliError> {
    let count = parts[0].header.partitions;
    let mut holder: Vec<Option<&Claim<'_>>> = vec![None; count as usize];
    for part in parts {
        let number = part.header.partition;
        let Some(slot) = number
            .checked_sub(1)
            .and_then(|i| holder.get_mut(i as usize))
        else {
            return Err(CliError::Usage(format!(
                "{} claims partition {number} of {count}, which does not exist",
                part.path.display()
            )));
        };
        if let Some(earlier) = slot {
            return Err(CliError::Usage(format!(
                "partition {number}/{count} is given twice: {} and {}",
                earlier.path.display(),
                part.path.display()
            )));
        }
        *slot = Some(part);
    }
    let missing: Vec<String> = holder
        .iter()
        .enumerate()
        .filter(|(_, h)| h.is_none())
        .map(|(i, _)| (i + 1).to_string())
        .collect();
    if !missing.is_empty() {
        let (noun, them) = if missing.len() == 1 {
            ("partition", "no file holds it")
        } else {
            ("partitions", "no file holds them")
        };
        return Err(CliError::Usage(format!(
            "missing {noun} {} of {count}: {them}",
            missing.join(", ")
        )));
    }
    Ok(())
}
