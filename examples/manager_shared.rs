//! The seed's `Manager` example: processes fill a shared dict and a shared list.
//!
//! ```text
//! cargo run --example manager_shared
//! ```
//!
//! `Manager::start` runs the server as a thread of this process (Python starts a server
//! process); the proxies are serde values passed to each worker. Only the parent prints.

use supervisor_mp::{DictProxy, ListProxy, Manager, Process, task};

task!(
    /// `shared_dict[name] = "Result from {name}"`; `shared_list.append("Entry from {name}")`.
    fn worker(args: (DictProxy<String, String>, ListProxy<String>, String)) -> String {
        let (shared_dict, shared_list, name) = args;
        shared_dict
            .insert(&name, format!("Result from {name}"))
            .expect("dict insert");
        shared_list
            .push(format!("Entry from {name}"))
            .expect("list push");
        name
    }
);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    supervisor_mp::init();
    let manager = Manager::start()?;
    let shared_dict: DictProxy<String, String> = manager.dict();
    let shared_list: ListProxy<String> = manager.list();

    let mut processes = Vec::new();
    for i in 0..4 {
        let args = (
            shared_dict.clone(),
            shared_list.clone(),
            format!("Worker-{i}"),
        );
        processes.push(Process::spawn(worker, args)?);
    }
    for p in &processes {
        let name = p.join()?;
        println!("process {name} finished");
    }

    // A BTreeMap snapshot: already sorted by key.
    for (key, value) in shared_dict.snapshot()? {
        println!("dict: {key} => {value}");
    }
    let mut list = shared_list.snapshot()?;
    list.sort();
    for entry in &list {
        println!("list: {entry}");
    }
    println!("dict entries: {}", shared_dict.len()?);
    println!("list entries: {}", shared_list.len()?);
    Ok(())
}
