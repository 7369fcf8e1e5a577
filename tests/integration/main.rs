//! Integration tests: the real `supervisor` binary, real worker processes, real kills.

mod bad_input;
mod chaos;
mod check;
mod completions;
mod coreutils;
mod cpu;
mod discovery;
mod doc_commands;
mod doc_examples;
mod exec;
mod exec_crash;
mod exec_partition;
mod fault;
mod formats;
mod hash_io;
mod hash_sums;
mod journal;
mod leaks;
mod limits;
mod logs;
mod operand_errors;
mod orphans;
mod partition;
mod ps;
mod signals;
mod support;
