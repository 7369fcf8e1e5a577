//! Integration tests: the real `supervisor` binary, real worker processes, real kills.

mod bad_input;
mod chaos;
mod check;
mod completions;
mod cpu;
mod discovery;
mod fault;
mod formats;
mod hash_sums;
mod journal;
mod leaks;
mod limits;
mod logs;
mod orphans;
mod ps;
mod signals;
mod support;
