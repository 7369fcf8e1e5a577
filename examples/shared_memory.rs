//! Shared memory between processes (Python 3.8+ `multiprocessing.shared_memory`, mentioned at
//! the end of the seed).
//!
//! ```text
//! cargo run --example shared_memory
//! ```
//!
//! The parent creates a segment and owns its name; a child opens it by name and writes a
//! message and some numbers; the parent reads them back after `join`. Dropping the owner
//! removes `/dev/shm/<name>`. Only the parent prints.

use std::path::Path;
use supervisor_mp::{Process, SharedMemory, task};

/// Layout: bytes 0..4 the message length (LE u32), 4..68 the message, 64 bytes at most;
/// 68..108 ten LE u32 numbers.
const MSG_LEN: usize = 0;
const MSG: usize = 4;
const MSG_MAX: usize = 64;
const NUMBERS: usize = MSG + MSG_MAX;
const COUNT: usize = 10;
const SIZE: usize = NUMBERS + COUNT * 4;

task!(
    /// Opens the segment `name`, writes a message and the squares of 0..10; returns the
    /// segment size it saw.
    fn child(name: String) -> usize {
        let mut shm = SharedMemory::open(&name).expect("open the segment");
        let message = format!("hello from child pid {}", std::process::id());
        let bytes = &message.as_bytes()[..message.len().min(MSG_MAX)];
        shm.write_at(MSG, bytes).expect("write the message");
        shm.write_at(MSG_LEN, &(bytes.len() as u32).to_le_bytes())
            .expect("write the length");
        for i in 0..COUNT {
            let square = (i * i) as u32;
            shm.write_at(NUMBERS + i * 4, &square.to_le_bytes())
                .expect("write a number");
        }
        shm.len()
    }
);

fn u32_at(shm: &SharedMemory, offset: usize) -> std::io::Result<u32> {
    let mut b = [0u8; 4];
    shm.read_at(offset, &mut b)?;
    Ok(u32::from_le_bytes(b))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    supervisor_mp::init();

    // shm = SharedMemory(create=True, size=SIZE)
    let shm = SharedMemory::create(SIZE)?;
    let name = shm.name().to_string();
    let dev_path = format!("/dev/shm/{name}");
    println!("segment size: {} bytes", shm.len());
    println!("owner: {}", shm.is_owner());
    println!(
        "/dev/shm/NAME exists while owned: {}",
        Path::new(&dev_path).exists()
    );

    let p = Process::spawn(child, name.clone())?;
    let child_pid = p.pid().unwrap_or(0);
    let seen = p.join()?;
    println!("child saw size: {seen}");

    let len = (u32_at(&shm, MSG_LEN)? as usize).min(MSG_MAX);
    let mut msg = vec![0u8; len];
    shm.read_at(MSG, &mut msg)?;
    let msg = String::from_utf8(msg)?;
    println!(
        "message from child: {}",
        msg.replace(&child_pid.to_string(), "PID")
    );
    println!(
        "message names the child's pid: {}",
        msg == format!("hello from child pid {child_pid}")
    );
    let numbers = (0..COUNT)
        .map(|i| u32_at(&shm, NUMBERS + i * 4))
        .collect::<std::io::Result<Vec<_>>>()?;
    let shown: Vec<String> = numbers.iter().map(u32::to_string).collect();
    println!("numbers from child: {}", shown.join(" "));
    println!("sum: {}", numbers.iter().sum::<u32>());

    // shm.close(); shm.unlink(): here the owner's Drop does both.
    drop(shm);
    println!(
        "/dev/shm/NAME exists after drop: {}",
        Path::new(&dev_path).exists()
    );
    println!(
        "open after drop fails: {}",
        SharedMemory::open(&name).is_err()
    );
    Ok(())
}
