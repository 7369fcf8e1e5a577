//! The runtime job of a pool with an initializer: [`crate::CallJob`]'s calls, after running a
//! registered function once when the worker starts (Python's `Pool(initializer=..)`).

use crate::job::{Call, CallJob};
use supervisor_runtime::Job;

/// Like [`CallJob`], with a setup: the initializer call, run in `start` before any task.
pub(crate) struct InitCallJob(CallJob);

/// A panic's message.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string panic".to_string())
}

impl Job for InitCallJob {
    const NAME: &'static str = "supervisor_mp::call_with_initializer";
    type Setup = Option<Call>;
    type Task = Call;
    type Output = Result<Vec<u8>, String>;

    fn start(setup: Option<Call>) -> Result<Self, String> {
        if let Some(init) = setup {
            let f = crate::function::lookup(&init.function).ok_or_else(|| {
                format!(
                    "the initializer {:?} is not registered in the worker",
                    init.function
                )
            })?;
            let name = init.function.clone();
            match std::panic::catch_unwind(move || f(&init.arg)) {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(format!("the initializer {name:?} failed: {e}")),
                Err(payload) => {
                    return Err(format!(
                        "the initializer {name:?} panicked: {}",
                        panic_message(payload.as_ref())
                    ));
                }
            }
        }
        Ok(InitCallJob(CallJob::start(())?))
    }

    fn run(&mut self, call: Call) -> Self::Output {
        self.0.run(call)
    }

    fn label(call: &Call) -> std::borrow::Cow<'_, str> {
        CallJob::label(call)
    }
}
