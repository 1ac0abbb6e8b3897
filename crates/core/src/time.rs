//! Timestamp formats shared by keys and items, and the time a request handler may take.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, SecondsFormat, Utc};

/// `2026-01-15T10:30:12.345Z`: fixed width, so it sorts lexicographically in a sort key.
pub fn iso_millis(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Left to a Lambda invocation for answering once its request budget is spent.
const ANSWER_MARGIN: Duration = Duration::from_millis(500);

/// How long a handler may wait on the store before it answers by itself (a 503 with `Retry-After`, or
/// a broadcast that stops): the one budget of every function (`REQUEST_BUDGET_MS` for the request
/// handlers, see [`crate::config::Settings::request_budget`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestBudget(Duration);

impl RequestBudget {
    pub const fn new(configured: Duration) -> Self {
        Self(configured)
    }

    pub fn configured(self) -> Duration {
        self.0
    }

    /// The configured budget, or less when the invocation's deadline (milliseconds since the epoch, as
    /// the Lambda runtime gives it; 0 outside Lambda) is nearer: the answer must go out before the
    /// function times out, or API Gateway answers with an error of its own. A deadline already past when
    /// the request arrives cannot be real (cargo-lambda's emulator sends a constant `600000`, ten
    /// minutes after 1970): the configured budget stands then.
    pub fn before(self, deadline_epoch_millis: u64) -> Duration {
        if deadline_epoch_millis == 0 {
            return self.0;
        }
        let deadline = SystemTime::UNIX_EPOCH + Duration::from_millis(deadline_epoch_millis);
        match deadline.duration_since(SystemTime::now()) {
            Ok(left) => self.0.min(left.saturating_sub(ANSWER_MARGIN)),
            Err(_) => self.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_(duration: Duration) -> u64 {
        (SystemTime::now() + duration)
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
    }

    /// The budget never outlasts the invocation: a function with 3 s left answers after at most 2.5 s.
    #[test]
    fn the_budget_ends_before_the_invocations_deadline() {
        let budget = RequestBudget::new(Duration::from_secs(8));
        assert_eq!(budget.before(0), budget.configured(), "no deadline outside Lambda");
        let left = budget.before(in_(Duration::from_secs(3)));
        assert!(
            left <= Duration::from_millis(2_500) && left > Duration::from_secs(2),
            "{left:?}"
        );
        assert_eq!(
            budget.before(in_(Duration::from_millis(250))),
            Duration::ZERO,
            "less time left than the margin to answer"
        );
        // cargo-lambda's emulator: `Lambda-Runtime-Deadline-Ms: 600000`, a duration, not an epoch time.
        assert_eq!(
            budget.before(600_000),
            budget.configured(),
            "a deadline in the past at arrival is not real"
        );
    }
}
