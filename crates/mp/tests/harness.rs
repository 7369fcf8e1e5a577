//! supervisor-mp from ordinary `#[test]` functions under the default libtest harness: the
//! workers re-enter this binary through the test that `enable_test_support!` defines.

use supervisor_mp::{Pool, Process, task};

supervisor_mp::enable_test_support!();

task!(
    fn square(x: u64) -> u64 {
        x * x
    }
);

task!(
    fn pid_and_double(x: u64) -> (u32, u64) {
        (std::process::id(), x * 2)
    }
);

#[test]
fn pool_map_squares() {
    supervisor_mp::init_for_tests();
    let pool = Pool::new(4).expect("pool");
    let squares = pool.map(square, 0..20u64).expect("map");
    let expected: Vec<_> = (0..20u64).map(|x| Ok(x * x)).collect();
    assert_eq!(squares, expected);
}

#[test]
fn process_spawn_and_join() {
    supervisor_mp::init_for_tests();
    let process = Process::spawn(pid_and_double, 21).expect("spawn");
    let (pid, doubled) = process.join().expect("join");
    assert_eq!(doubled, 42);
    assert_ne!(
        pid,
        std::process::id(),
        "the function ran in another process"
    );
}
