//! A fixed list sent to workers as indices into its image ([`TaskList::image`],
//! [`Job::task_from_image`]): every task built from the image, by workers started at any
//! point of the run (recycled ones, and ones that replace a crashed worker); a list without an
//! image still sent whole.

use std::borrow::Cow;
use std::sync::Arc;
use supervisor_runtime::{Config, Job, Outcome, Supervisor, TaskList};

use crate::limits::assert_workers_gone;

/// What the image holds for task `i`: distinct from the list's own task (`i`), so that an
/// output shows which of the two the worker ran. (A real job's image gives the same task.)
const IMAGE_MARK: u64 = 1 << 40;

/// The task value that aborts its worker the first time it runs (a file marks the first).
const ABORTS_ONCE: u64 = IMAGE_MARK + 777;

/// Runs a task `n` as `n`, building tasks from the image: eight bytes per task, little-endian.
pub struct FromImage {
    /// Where the task that aborts once notes that it did.
    marker: std::path::PathBuf,
}

impl Job for FromImage {
    const NAME: &'static str = "from-image";
    const TASKS_FROM_IMAGE: bool = true;
    type Setup = std::path::PathBuf;
    type Task = u64;
    type Output = u64;

    fn start(marker: std::path::PathBuf) -> Result<Self, String> {
        Ok(FromImage { marker })
    }

    fn run(&mut self, n: u64) -> u64 {
        if n == ABORTS_ONCE && std::fs::File::create_new(&self.marker).is_ok() {
            std::process::abort();
        }
        n
    }

    fn task_from_image(&mut self, image: &'static [u8], index: u64) -> Result<u64, String> {
        let at = usize::try_from(index).map_err(|e| e.to_string())? * 8;
        let bytes = image.get(at..at + 8).ok_or("index past the image")?;
        Ok(u64::from_le_bytes(bytes.try_into().expect("8 bytes")))
    }
}

/// Tasks `0..len`, with an image (of each task plus [`IMAGE_MARK`]) or without.
struct Numbers {
    len: u64,
    with_image: bool,
}

impl TaskList<u64> for Numbers {
    fn len(&self) -> usize {
        self.len as usize
    }

    fn task(&self, index: usize) -> Cow<'_, u64> {
        Cow::Owned(index as u64)
    }

    fn image(&self) -> Option<Vec<Cow<'_, [u8]>>> {
        self.with_image.then(|| {
            // In two pieces, to check they are written back to back.
            let bytes: Vec<u8> = (0..self.len)
                .flat_map(|i| (i + IMAGE_MARK).to_le_bytes())
                .collect();
            let (a, b) = bytes.split_at(bytes.len() / 2 / 8 * 8);
            vec![Cow::Owned(a.to_vec()), Cow::Owned(b.to_vec())]
        })
    }
}

fn run(len: u64, with_image: bool, config: Config) -> (Vec<u64>, supervisor_runtime::Summary) {
    let marker = tempfile::tempdir().unwrap();
    let mut outputs = vec![None; len as usize];
    let mut observer = |index: usize, task: &u64, outcome: &Outcome<u64>| {
        assert_eq!(*task, index as u64, "the observer gets the list's own task");
        outputs[index] = Some(*outcome.result.as_ref().expect("no failures"));
    };
    let list = Arc::new(Numbers { len, with_image });
    let summary = Supervisor::<FromImage>::new(config, marker.path().join("aborted"))
        .run_list(list, &mut observer)
        .unwrap();
    assert_workers_gone(&summary);
    let outputs = outputs
        .into_iter()
        .map(|o| o.expect("an outcome"))
        .collect();
    (outputs, summary)
}

fn every_task_is_built_from_the_image_by_every_worker() {
    let mut config = Config::new(2);
    // New workers all through the run: each gets the image with its bootstrap.
    config.max_tasks_per_child = Some(1000);
    let (outputs, summary) = run(20_000, true, config);
    let want: Vec<u64> = (0..20_000).map(|i| i + IMAGE_MARK).collect();
    assert_eq!(outputs, want);
    assert!(summary.workers_spawned > 10, "{}", summary.workers_spawned);
    assert_eq!(summary.completed, 20_000);
}

fn a_task_whose_worker_died_is_built_from_the_image_again() {
    let (outputs, summary) = run(2000, true, Config::new(2));
    let want: Vec<u64> = (0..2000).map(|i| i + IMAGE_MARK).collect();
    assert_eq!(outputs, want);
    assert_eq!(summary.worker_crashes, 1);
    assert!(summary.retried >= 1);
    assert_eq!(summary.failed, 0);
}

fn a_list_without_an_image_is_sent_whole() {
    let (outputs, summary) = run(5000, false, Config::new(2));
    assert_eq!(outputs, (0..5000).collect::<Vec<u64>>());
    assert_eq!(summary.completed, 5000);
}

pub const TESTS: &[(&str, fn())] = &[
    (
        "every_task_is_built_from_the_image_by_every_worker",
        every_task_is_built_from_the_image_by_every_worker,
    ),
    (
        "a_task_whose_worker_died_is_built_from_the_image_again",
        a_task_whose_worker_died_is_built_from_the_image_again,
    ),
    (
        "a_list_without_an_image_is_sent_whole",
        a_list_without_an_image_is_sent_whole,
    ),
];
