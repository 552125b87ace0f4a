//! The time limit of one verification (`limits.max_verify_ms`).
//!
//! The checks ask [`over`] where they loop — a PDF page, a PDF object, a TIFF page, PNG rows —
//! and stop early once the time is spent, adding nothing; the verification then refuses the
//! content once, saying which limit it met. What cannot be interrupted (lopdf's load, one
//! image's decode) is bounded by the other limits, and the clock is read after it.
//!
//! The deadline is the verifying thread's: one verification runs on one thread, and the checks
//! deep inside the PDF and image walks need no extra argument to read it.

use std::cell::Cell;
use std::time::{Duration, Instant};

thread_local! {
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// The clock of one verification, running until dropped.
pub(crate) struct Running {
    previous: Option<Instant>,
}

/// Starts the clock for `limit` milliseconds; 0, or a limit beyond the clock's range, sets
/// none.
pub(crate) fn start(limit_ms: u64) -> Running {
    let deadline = (limit_ms > 0)
        .then(|| Instant::now().checked_add(Duration::from_millis(limit_ms)))
        .flatten();
    Running {
        previous: DEADLINE.replace(deadline),
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        DEADLINE.set(self.previous);
    }
}

/// Whether this thread's verification has spent its time.
pub(crate) fn over() -> bool {
    DEADLINE
        .get()
        .is_some_and(|deadline| Instant::now() >= deadline)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_runs_out_and_is_put_back_when_dropped() {
        assert!(!over(), "no clock, no limit");
        {
            let _unlimited = start(0);
            assert!(!over());
            let _beyond_range = start(u64::MAX);
            assert!(!over());
            let _tight = start(1);
            std::thread::sleep(Duration::from_millis(5));
            assert!(over());
        }
        assert!(!over(), "the clock is gone with its verification");
    }
}
