//! Who the guard acts for and what time it is: passed into the runtime once, so the policy's
//! exception dates, the events' user and device and the tests' clock all come from one place.

use std::fmt::Debug;

/// The time source. The product uses [`SystemClock`]; tests pass a fixed or stepped one.
pub trait Clock: Send + Sync + Debug {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;

    /// Today as days since 1970-01-01 (UTC), for exception expiry.
    fn today(&self) -> u32 {
        u32::try_from(self.now_ms().div_euclid(86_400_000)).unwrap_or(0)
    }
}

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }
}

/// The person and device the guard protects: who the policy's `exceptions` name (user,
/// groups) and what every event carries (device, OS user).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// The OS user name.
    pub user: Option<String>,
    /// Directory groups, where the deployment provides them.
    pub groups: Vec<String>,
    /// The device's host name.
    pub device: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct At(i64);
    impl Clock for At {
        fn now_ms(&self) -> i64 {
            self.0
        }
    }

    #[test]
    fn today_counts_whole_utc_days_since_the_epoch() {
        assert_eq!(At(0).today(), 0);
        assert_eq!(At(86_399_999).today(), 0);
        assert_eq!(At(86_400_000).today(), 1);
        // 2026-12-05T10:00:00Z
        assert_eq!(At(1_796_464_800_000).today(), 20_792);
        assert_eq!(At(-1).today(), 0, "before the epoch clamps to day 0");
        assert!(SystemClock.today() > 20_000);
    }
}
