//! Filling slots: spawn requests, new workers, and the I/O thread that listens to each.

use super::*;

impl<J: Job> Run<'_, J> {
    pub(super) fn request_spawn(&mut self, slot: usize) {
        let s = &mut self.slots[slot];
        s.generation += 1;
        s.phase = Phase::Spawning;
        self.board.set_slot_process(slot, 0, SlotState::Starting);
        let _ = self.spawn_tx.send(SpawnRequest {
            slot,
            generation: s.generation,
        });
    }

    pub(super) fn on_spawned(
        &mut self,
        slot: usize,
        generation: u64,
        spawned: Spawned,
        obs: &mut impl Observer<J::Task, J::Output>,
    ) {
        debug_assert_eq!(self.slots[slot].generation, generation);
        match spawned {
            Spawned::Ready { child, connection } => {
                self.summary.workers_spawned += 1;
                let Connection { tasks, results } = connection;
                let pid = child.pid();
                self.slots[slot].stats.pids.push(pid);
                self.board.set_slot_process(slot, pid, SlotState::Running);
                obs.notice(&Notice::WorkerStarted { slot, pid });
                self.start_io_thread(slot, generation, Arc::clone(&child), results);
                let live = Live {
                    child,
                    tasks: Some(tasks),
                    inflight: VecDeque::new(),
                    batches: VecDeque::new(),
                    front_done: 0,
                    chaos_killed: false,
                    garbled: false,
                    setup_failed: false,
                    sent: 0,
                    killing: None,
                };
                self.slots[slot].phase = Phase::Live(live);
                if self.finishing {
                    self.stop_slot(slot);
                } else {
                    self.dispatch();
                }
            }
            Spawned::Failed { error, pid, exit } => {
                if let Some(pid) = pid {
                    self.slots[slot].stats.pids.push(pid);
                    self.summary.workers_spawned += 1;
                }
                if let Some(exit) = &exit {
                    self.account_exit(slot, exit);
                }
                self.slots[slot].phase = Phase::Idle;
                self.board.set_slot_state(slot, SlotState::Dead);
                let detail = match &exit {
                    Some(info) if !info.stderr_tail.is_empty() => {
                        format!("{error} ({})", last_line(&info.stderr_tail))
                    }
                    _ => error.to_string(),
                };
                obs.notice(&Notice::SpawnFailed {
                    slot,
                    message: detail.clone(),
                });
                self.note_restart(format!("worker start failed: {detail}"));
                self.replace(slot);
            }
        }
    }

    pub(super) fn start_io_thread(
        &self,
        slot: usize,
        generation: u64,
        child: Arc<ChildProcess>,
        results: ipc_channel::ipc::IpcBytesReceiver,
    ) {
        let events = self.events_tx.clone();
        let fallback = Arc::clone(&child);
        let spawned = std::thread::Builder::new()
            .name(format!("worker-{}-io", child.pid()))
            .spawn(move || {
                while let Ok(bytes) = results.recv() {
                    let event = match protocol::decode::<FromWorker<J::Output>>(&bytes) {
                        Ok(FromWorker::Results(results)) => Event::Results {
                            slot,
                            generation,
                            results,
                        },
                        Ok(FromWorker::SetupFailed(reason)) => Event::SetupFailed {
                            slot,
                            generation,
                            reason,
                        },
                        Err(e) => Event::Garbled {
                            slot,
                            generation,
                            reason: e.to_string(),
                        },
                    };
                    if events.send(event).is_err() {
                        child.kill();
                        break;
                    }
                }
                // The channel closed: the worker is exiting or dead. waitpid says how.
                let info = child.wait();
                let _ = events.send(Event::Exited {
                    slot,
                    generation,
                    info,
                });
            });
        if spawned.is_err() {
            // Without its I/O thread the worker can never be heard from: end it now, so its
            // tasks are requeued like any other death.
            fallback.kill();
            let info = fallback.wait();
            let _ = self.events_tx.send(Event::Exited {
                slot,
                generation,
                info,
            });
        }
    }

    pub(super) fn replace(&mut self, slot: usize) {
        if self.finishing {
            return;
        }
        self.slots[slot].restarts += 1;
        self.board.set_restarts(slot, self.slots[slot].restarts);
        self.request_spawn(slot);
    }
}

fn last_line(text: &str) -> &str {
    text.lines().last().unwrap_or("")
}
