// SPDX-License-Identifier: GPL-2.0

//! Fault injection decisions: `should_fail()` of `lib/fault-inject.c`,
//! with the knobs of `Documentation/fault-injection/fault-injection.rst`:
//! `probability` (percent), `interval` (only every Nth chance), `times`
//! (how many failures at most, -1 for no limit) and `space` (bytes to let
//! through before failing).

/// One fault site's settings and state (`struct fault_attr`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultAttr {
    /// Percent of the chances that fail (0..=100).
    pub probability: u32,
    /// Only every `interval`-th chance may fail (at least 1).
    pub interval: u64,
    /// Failures left; -1: no limit.
    pub times: i64,
    /// Bytes still let through before any failure.
    pub space: u64,
    /// Chances counted, for `interval`.
    pub count: u64,
}

impl FaultAttr {
    /// Off: nothing ever fails.
    pub const OFF: Self = Self { probability: 0, interval: 1, times: -1, space: 0, count: 0 };

    /// `should_fail()`: whether this chance, for `size` bytes, fails.
    /// `random` is a uniform random number (`get_random_u32()`).
    pub fn should_fail(&mut self, size: usize, random: u32) -> bool {
        if self.probability == 0 || self.times == 0 {
            return false;
        }
        if self.space > size as u64 {
            self.space -= size as u64;
            return false;
        }
        if self.interval > 1 {
            self.count += 1;
            if self.count % self.interval != 0 {
                return false;
            }
        }
        if self.probability <= random % 100 {
            return false;
        }
        if self.times != -1 {
            self.times -= 1;
        }
        true
    }
}

/// A small xorshift generator, for hosts and kernels alike.
pub fn xorshift(state: &mut u64) -> u32 {
    let mut x = *state | 1;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    (x >> 32) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(probability: u32, interval: u64, times: i64, space: u64) -> FaultAttr {
        FaultAttr { probability, interval, times, space, count: 0 }
    }

    #[test]
    fn off_never_fails() {
        let mut a = FaultAttr::OFF;
        assert!((0..1000).all(|r| !a.should_fail(4096, r)));
    }

    #[test]
    fn probability_100_always_fails_until_times_runs_out() {
        let mut a = attr(100, 1, 3, 0);
        assert!((0..3).all(|r| a.should_fail(1, r)));
        assert!(!a.should_fail(1, 0));
        assert_eq!(a.times, 0);
    }

    #[test]
    fn interval_fails_only_every_nth_chance() {
        let mut a = attr(100, 4, -1, 0);
        let fails: [bool; 8] = core::array::from_fn(|_| a.should_fail(1, 7));
        assert_eq!(fails, [false, false, false, true, false, false, false, true]);
    }

    #[test]
    fn space_lets_bytes_through_first() {
        let mut a = attr(100, 1, -1, 10000);
        assert!(!a.should_fail(4096, 0));
        assert!(!a.should_fail(4096, 0));
        assert!(a.should_fail(4096, 0), "1808 bytes left: not more than 4096");
    }

    #[test]
    fn space_boundary_is_strict_as_in_lib_fault_inject() {
        // `space > size` lets a chance through; equal space does not.
        let mut a = attr(100, 1, -1, 4096);
        assert!(a.should_fail(4096, 0), "space == size: fails, space untouched");
        assert_eq!(a.space, 4096);
        let mut a = attr(100, 1, -1, 4097);
        assert!(!a.should_fail(4096, 0));
        assert_eq!(a.space, 1);
        assert!(!a.should_fail(0, 0), "1 byte left, a 0-byte chance passes");
        assert!(a.should_fail(1, 0));
    }

    #[test]
    fn probability_boundary_is_exact() {
        // Fails when random % 100 is below the probability, not at it.
        let mut a = attr(30, 1, -1, 0);
        assert!(a.should_fail(1, 29));
        assert!(a.should_fail(1, 129));
        assert!(!a.should_fail(1, 30));
        assert!(!a.should_fail(1, 99));
        let mut a = attr(100, 1, -1, 0);
        assert!(a.should_fail(1, 99));
        let mut a = attr(1, 1, -1, 0);
        assert!(a.should_fail(1, 0) && !a.should_fail(1, 1));
    }

    #[test]
    fn times_counts_only_failures_and_interval_counts_every_chance() {
        let mut a = attr(100, 2, 1, 0);
        assert!(!a.should_fail(1, 0));
        assert_eq!(a.times, 1, "a chance skipped by interval uses no failure");
        assert!(a.should_fail(1, 0));
        assert_eq!(a.times, 0);
        assert!(!a.should_fail(1, 0) && !a.should_fail(1, 0));
        let mut a = attr(50, 1, 2, 0);
        assert!(!a.should_fail(1, 50));
        assert_eq!(a.times, 2, "a chance that did not fail uses no failure");
    }

    #[test]
    fn probability_is_a_percentage() {
        let mut a = attr(30, 1, -1, 0);
        let mut seed = 42;
        let fails = (0..10000).filter(|_| a.should_fail(1, xorshift(&mut seed))).count();
        assert!((2500..3500).contains(&fails), "{fails}");
    }
}
