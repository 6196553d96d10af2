//! Runs parallel file work on other threads while the calling thread stays free to report
//! progress and to decide whether to stop.
//!
//! The Python bindings need exactly this shape: the calling thread gives up the GIL, the work
//! runs on the rayon pool, and the calling thread wakes at batch boundaries (or after a short
//! interval when a slow directory delays the next batch) to call the Python callbacks. Keeping it
//! free of Python lets `cargo test` exercise cancellation and error propagation directly.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// How long the supervising thread waits for the next batch before checking in anyway, so a
/// cancellation is noticed within a fraction of a second even when no batch completes.
pub const CHECK_INTERVAL: Duration = Duration::from_millis(200);

#[derive(Default)]
struct Wake {
    pending: bool,
    finished: bool,
}

/// Shared between the workers (which count units of work done and look at the cancel flag) and
/// the supervising thread (which is woken every `batch` units).
pub struct Progress {
    count: AtomicUsize,
    batch: usize,
    cancelled: AtomicBool,
    wake: Mutex<Wake>,
    wake_signal: Condvar,
}

impl Progress {
    /// `batch` is how many units of work pass between two wake-ups of the supervising thread.
    pub fn new(batch: usize) -> Self {
        Progress {
            count: AtomicUsize::new(0),
            batch: batch.max(1),
            cancelled: AtomicBool::new(false),
            wake: Mutex::new(Wake::default()),
            wake_signal: Condvar::new(),
        }
    }

    /// Records one unit of work done; every `batch` units the supervising thread is woken.
    pub fn advance(&self) {
        let done = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        if done.is_multiple_of(self.batch) {
            self.lock_wake().pending = true;
            self.wake_signal.notify_one();
        }
    }

    pub fn count(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// Asks the workers to stop at their next file or directory boundary.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    fn finish(&self) {
        self.lock_wake().finished = true;
        self.wake_signal.notify_one();
    }

    /// Waits for the next batch, the end of the work, or `CHECK_INTERVAL`; true once finished.
    fn wait(&self) -> bool {
        let mut wake = self.lock_wake();
        if !wake.pending && !wake.finished {
            wake = match self.wake_signal.wait_timeout(wake, CHECK_INTERVAL) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        wake.pending = false;
        wake.finished
    }

    fn lock_wake(&self) -> MutexGuard<'_, Wake> {
        // The guarded flags stay meaningful even if a holder panicked, so poisoning is ignored.
        self.wake
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Marks the work finished even when it panics, so the supervising thread never waits forever.
struct FinishOnDrop<'a>(&'a Progress);

impl Drop for FinishOnDrop<'_> {
    fn drop(&mut self) {
        self.0.finish();
    }
}

/// Runs `work` on a helper thread and calls `check(units done so far)` on the calling thread at
/// every batch boundary and at least every `CHECK_INTERVAL` until the work ends.
///
/// The first error from `check` cancels the work; `supervise` then waits for the workers to stop
/// (so no thread outlives the call) and returns that error. A panic in `work` is re-raised here.
pub fn supervise<T, E, W, C>(progress: &Progress, work: W, mut check: C) -> Result<T, E>
where
    T: Send,
    W: FnOnce() -> T + Send,
    C: FnMut(usize) -> Result<(), E>,
{
    std::thread::scope(|scope| {
        let worker = scope.spawn(|| {
            let _finish = FinishOnDrop(progress);
            work()
        });
        let mut failure = None;
        while !progress.wait() {
            if failure.is_none() {
                if let Err(error) = check(progress.count()) {
                    progress.cancel();
                    failure = Some(error);
                }
            }
        }
        let result = match worker.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        match failure {
            Some(error) => Err(error),
            None => Ok(result),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn check_sees_each_batch_and_the_work_result_is_returned() {
        let progress = Progress::new(10);
        let (step_tx, step_rx) = mpsc::channel::<()>();
        let mut seen = Vec::new();
        let mut acknowledged = Vec::new();
        let shared = &progress;
        let result: Result<usize, ()> = supervise(
            &progress,
            // `move` hands the receiver (which is not Sync) to the worker thread.
            move || {
                for _ in 0..3 {
                    // Each batch waits for the checker to acknowledge the previous one, so the
                    // test observes every boundary without relying on timing.
                    for _ in 0..10 {
                        shared.advance();
                    }
                    step_rx.recv().ok();
                }
                42
            },
            |count| {
                seen.push(count);
                // Acknowledge each boundary exactly once, whether it was seen through the
                // batch wake-up or through an interval check.
                if count > 0 && count.is_multiple_of(10) && !acknowledged.contains(&count) {
                    acknowledged.push(count);
                    step_tx.send(()).ok();
                }
                Ok(())
            },
        );
        assert_eq!(result, Ok(42));
        for batch_end in [10, 20, 30] {
            assert!(
                seen.contains(&batch_end),
                "no check at {batch_end}: {seen:?}"
            );
        }
    }

    #[test]
    fn an_error_from_check_cancels_the_work_and_is_returned() {
        let progress = Progress::new(1);
        let result: Result<u32, &str> = supervise(
            &progress,
            || {
                let mut steps = 0;
                // Runs until the checker cancels; the cancel flag is the only way out.
                while !progress.is_cancelled() {
                    progress.advance();
                    steps += 1;
                    std::thread::yield_now();
                }
                steps
            },
            |count| if count >= 5 { Err("stop") } else { Ok(()) },
        );
        assert_eq!(result, Err("stop"));
        assert!(progress.is_cancelled());
        assert!(progress.count() >= 5);
    }

    #[test]
    fn check_runs_on_the_interval_when_no_batch_completes() {
        let progress = Progress::new(1_000_000);
        let result: Result<(), &str> = supervise(
            &progress,
            || {
                while !progress.is_cancelled() {
                    std::thread::yield_now();
                }
            },
            |_| Err("cancelled without any batch"),
        );
        assert_eq!(result, Err("cancelled without any batch"));
    }

    #[test]
    fn a_panic_in_the_work_reaches_the_caller() {
        let progress = Progress::new(1);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            supervise::<(), (), _, _>(&progress, || panic!("worker failed"), |_| Ok(()))
        }));
        assert!(outcome.is_err());
    }
}
