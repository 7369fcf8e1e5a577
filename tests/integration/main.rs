//! Integration tests: the real `supervisor` binary, real worker processes, real kills.

mod chaos;
mod discovery;
mod fault;
mod formats;
mod hash_sums;
mod orphans;
mod support;
