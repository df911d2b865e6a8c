//! The retry budget: retries allowed are a fraction of the group's recent acquires (Envoy's
//! retry budget, Finagle's RetryBudget), so that a failing member cannot turn every acquire
//! into several connects and multiply the load on the members still standing.

/// The window "recent" means, as two halves: counts older than a whole window are dropped.
const HALF_WINDOW_MS: u64 = 5_000;
/// Retries always allowed per window (Finagle's minimum of 10 per second), so that a quiet
/// group still fails over, often enough for a dead member to reach its ejection.
pub(super) const MIN_RETRIES: u64 = 100;

#[derive(Debug, Default)]
pub(super) struct RetryBudget {
    half_started: u64,
    acquires: [u64; 2],
    retries: [u64; 2],
}

impl RetryBudget {
    fn roll(&mut self, now: u64) {
        if now.saturating_sub(self.half_started) >= 2 * HALF_WINDOW_MS {
            *self = RetryBudget {
                half_started: now,
                ..RetryBudget::default()
            };
        } else if now.saturating_sub(self.half_started) >= HALF_WINDOW_MS {
            self.acquires = [self.acquires[1], 0];
            self.retries = [self.retries[1], 0];
            self.half_started = now;
        }
    }

    pub fn acquired(&mut self, now: u64) {
        self.roll(now);
        self.acquires[1] += 1;
    }

    /// Takes a retry if the budget has one.
    pub fn try_retry(&mut self, now: u64, ratio: f64) -> bool {
        self.roll(now);
        let acquires = self.acquires[0] + self.acquires[1];
        let retries = self.retries[0] + self.retries[1];
        let allowed = ((acquires as f64 * ratio) as u64).max(MIN_RETRIES);
        if retries >= allowed {
            return false;
        }
        self.retries[1] += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_are_a_fraction_of_recent_acquires_with_a_floor() {
        let mut b = RetryBudget::default();
        let now = 1_000_000;
        for _ in 0..1000 {
            b.acquired(now);
        }
        let granted = (0..1000).filter(|_| b.try_retry(now, 0.2)).count();
        assert_eq!(granted, 200);
        // A quiet group still gets the floor.
        let mut quiet = RetryBudget::default();
        quiet.acquired(now);
        assert_eq!(
            (0..1000).filter(|_| quiet.try_retry(now, 0.2)).count() as u64,
            MIN_RETRIES
        );
        // The window moves on: old retries stop counting.
        assert!(!b.try_retry(now, 0.2));
        assert!(b.try_retry(now + 2 * HALF_WINDOW_MS + 1, 0.2));
    }
}
