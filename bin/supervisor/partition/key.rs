//! The keys of tasks that are not files (a file's key is its operand and relative path; see
//! `supervisor_jobs::partition`). Each names the task the same way in every partition.

/// A probe target: its text as the results name it (a line that does not parse: the line), so
/// the same target listed twice lands in one partition, each copy keeping its position.
pub fn probe_key(target: &str) -> &[u8] {
    target.as_bytes()
}

/// A cpu task: its position in --tasks and its n (eight little-endian bytes each). Whole tasks
/// are partitioned, never their slices: a task's result is the sum of its slices, and only a
/// whole sum is a result that one run would print.
pub fn cpu_key(index: usize, n: u64) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&(index as u64).to_le_bytes());
    key[8..].copy_from_slice(&n.to_le_bytes());
    key
}

/// A fault-job item (eight little-endian bytes).
pub fn fault_key(item: u64) -> [u8; 8] {
    item.to_le_bytes()
}

/// An `exec` item: its position in the input (from 0, eight little-endian bytes), then its
/// bytes. The position keeps two equal items apart (each is its own task, with its own `{#}`);
/// every partition reads the same items in the same order, so every one computes the same key.
pub fn exec_key(position: u64, item: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(8 + item.len());
    key.extend_from_slice(&position.to_le_bytes());
    key.extend_from_slice(item);
    key
}
