//! The background thread of [`crate::Durability::Group`]: fsyncs what was
//! appended, at most every interval.

use std::io;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::writer::Shared;

/// A running flusher thread.
#[derive(Debug)]
pub(crate) struct Flusher {
    stop: Arc<StopSignal>,
    thread: JoinHandle<()>,
}

#[derive(Debug, Default)]
struct StopSignal {
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl Flusher {
    /// Starts a thread that syncs `shared` every `interval` until stopped or
    /// until the writer is poisoned.
    pub(crate) fn start(shared: Arc<Shared>, interval: Duration) -> io::Result<Flusher> {
        let stop = Arc::new(StopSignal::default());
        let signal = Arc::clone(&stop);
        let thread = thread::Builder::new()
            .name("runlog-wal-flusher".into())
            .spawn(move || {
                loop {
                    let mut stopped = signal.stopped.lock();
                    if !*stopped {
                        signal.wake.wait_for(&mut stopped, interval);
                    }
                    if *stopped {
                        return;
                    }
                    drop(stopped);
                    if shared.sync_all().is_err() {
                        // Poisoned: every later call reports it.
                        return;
                    }
                }
            })?;
        Ok(Flusher { stop, thread })
    }

    /// Stops the thread and waits for it to end.
    pub(crate) fn stop(self) {
        *self.stop.stopped.lock() = true;
        self.stop.wake.notify_all();
        // A panic in the flusher would be a bug; it has nothing to hand back.
        let _ = self.thread.join();
    }
}
