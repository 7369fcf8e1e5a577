//! The outcome of every file of a hash run, kept compactly until the output is written: a
//! digest, a size and an attempt count in three flat arrays (25 bytes a file for MD5), and the
//! rare outcome that does not fit them (an error, a failure, a task tried more than 254 times)
//! as it is. A million `Option<Outcome<HashOutput>>` took 56 MB.

use crate::jobs::HashOutput;
use std::borrow::Cow;
use std::collections::HashMap;
use supervisor_jobs::hash::DigestBytes;
use supervisor_runtime::Outcome;

/// `attempts` of a file without an outcome (yet).
const NONE: u8 = 0;
/// `attempts` of a file whose outcome is in `rest`.
const ELSEWHERE: u8 = u8::MAX;

pub(crate) struct HashResults {
    /// Digest length: the first digest's (every digest of a run has its algorithm's length;
    /// one that does not goes to `rest`).
    width: usize,
    files: usize,
    /// `width` bytes per file, allocated zeroed at the first digest (pages are touched only
    /// as digests arrive).
    digests: Vec<u8>,
    sizes: Vec<u64>,
    /// Attempts of a digest stored above, or [`NONE`] or [`ELSEWHERE`].
    attempts: Vec<u8>,
    rest: HashMap<u32, Outcome<HashOutput>>,
}

impl HashResults {
    /// Room for `files` outcomes, none known yet.
    pub(crate) fn new(files: usize) -> Self {
        HashResults {
            width: 0,
            files,
            digests: Vec::new(),
            sizes: vec![0; files],
            attempts: vec![NONE; files],
            rest: HashMap::new(),
        }
    }

    /// Keeps file `index`'s outcome.
    pub(crate) fn put(&mut self, index: usize, outcome: &Outcome<HashOutput>) {
        if let (Ok(HashOutput::Digest { size, digest }), Ok(attempts)) =
            (&outcome.result, u8::try_from(outcome.attempts))
            && attempts != NONE
            && attempts != ELSEWHERE
        {
            let bytes = digest.as_bytes();
            if self.width == 0 && !bytes.is_empty() {
                self.width = bytes.len();
                self.digests = vec![0; self.files * self.width];
            }
            if self.width != 0 && bytes.len() == self.width {
                if self.attempts[index] == ELSEWHERE {
                    self.rest.remove(&(index as u32));
                }
                self.digests[index * self.width..(index + 1) * self.width].copy_from_slice(bytes);
                self.sizes[index] = *size;
                self.attempts[index] = attempts;
                return;
            }
        }
        self.attempts[index] = ELSEWHERE;
        self.rest.insert(index as u32, outcome.clone());
    }

    /// File `index`'s outcome, if it has one.
    pub(crate) fn get(&self, index: usize) -> Option<Cow<'_, Outcome<HashOutput>>> {
        match self.attempts[index] {
            NONE => None,
            ELSEWHERE => self.rest.get(&(index as u32)).map(Cow::Borrowed),
            attempts => {
                let bytes = &self.digests[index * self.width..(index + 1) * self.width];
                Some(Cow::Owned(Outcome {
                    result: Ok(HashOutput::Digest {
                        size: self.sizes[index],
                        digest: DigestBytes::new(bytes).expect("a digest's length was stored"),
                    }),
                    attempts: u32::from(attempts),
                }))
            }
        }
    }

    /// File `index`'s digest, if it has one kept compactly (see [`HashResults::get`] for any
    /// other outcome).
    pub(crate) fn digest(&self, index: usize) -> Option<&[u8]> {
        match self.attempts[index] {
            NONE | ELSEWHERE => None,
            _ => Some(&self.digests[index * self.width..(index + 1) * self.width]),
        }
    }

    /// Whether file `index` failed (`None`: no outcome), without rebuilding its outcome.
    pub(crate) fn failed(&self, index: usize) -> Option<bool> {
        match self.attempts[index] {
            NONE => None,
            ELSEWHERE => self
                .rest
                .get(&(index as u32))
                .map(|o| !matches!(o.result, Ok(HashOutput::Digest { .. }))),
            _ => Some(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use supervisor_runtime::Failure;

    fn digest(size: u64, byte: u8, len: usize, attempts: u32) -> Outcome<HashOutput> {
        Outcome {
            result: Ok(HashOutput::Digest {
                size,
                digest: DigestBytes::new(&vec![byte; len]).unwrap(),
            }),
            attempts,
        }
    }

    fn same(a: &Outcome<HashOutput>, b: &Outcome<HashOutput>) -> bool {
        format!("{a:?}") == format!("{b:?}")
    }

    #[test]
    fn gives_back_every_kind_of_outcome() {
        let outcomes = [
            digest(10, 0xab, 16, 1),
            digest(u64::MAX, 0x01, 16, 3),
            Outcome {
                result: Ok(HashOutput::Error("Permission denied".into())),
                attempts: 1,
            },
            Outcome {
                result: Err(Failure::Panicked("boom".into())),
                attempts: 2,
            },
            digest(7, 0x02, 16, 255),
            digest(7, 0x03, 16, 1000),
            digest(0, 0x04, 20, 1),
            digest(0, 0x05, 16, 0),
        ];
        let mut results = HashResults::new(outcomes.len() + 1);
        for (i, outcome) in outcomes.iter().enumerate() {
            results.put(i, outcome);
        }
        for (i, outcome) in outcomes.iter().enumerate() {
            assert!(same(&results.get(i).unwrap(), outcome), "outcome {i}");
            let failed = !matches!(outcome.result, Ok(HashOutput::Digest { .. }));
            assert_eq!(results.failed(i), Some(failed), "outcome {i}");
        }
        assert!(results.get(outcomes.len()).is_none());
        assert_eq!(results.failed(outcomes.len()), None);
        assert_eq!(results.rest.len(), 6, "only the odd ones are kept whole");
    }

    #[test]
    fn a_later_outcome_replaces_an_earlier_one() {
        let mut results = HashResults::new(1);
        results.put(0, &digest(1, 1, 16, 1));
        results.put(0, &digest(2, 2, 16, 300));
        assert!(same(&results.get(0).unwrap(), &digest(2, 2, 16, 300)));
        results.put(0, &digest(3, 3, 16, 1));
        assert!(same(&results.get(0).unwrap(), &digest(3, 3, 16, 1)));
    }
}
