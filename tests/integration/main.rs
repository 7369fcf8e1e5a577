//! Integration tests: the real `supervisor` binary, real worker processes, real kills.

mod chaos;
mod check;
mod completions;
mod cpu;
mod discovery;
mod fault;
mod formats;
mod hash_sums;
mod logs;
mod orphans;
mod probe;
mod ps;
mod support;
