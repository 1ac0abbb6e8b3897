//! Timestamp formats shared by keys and items, and the time a request handler may take.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, SecondsFormat, Utc};

/// `2026-01-15T10:30:12.345Z`: fixed width, so it sorts lexicographically in a sort key.
pub fn iso_millis(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Left to a Lambda invocation for answering once its request budget is spent.
const ANSWER_MARGIN: Duration = Duration::from_millis(500);

/// The configured budget, or less when the invocation's deadline (milliseconds since the epoch, as the
/// Lambda runtime gives it; 0 outside Lambda) is nearer: the answer must go out before the function
/// times out, or API Gateway answers with an error of its own. A deadline already past when the request
/// arrives cannot be real (cargo-lambda's emulator sends a constant `600000`, ten minutes after 1970):
/// the configured budget stands then.
pub fn request_budget(configured: Duration, deadline_epoch_millis: u64) -> Duration {
    if deadline_epoch_millis == 0 {
        return configured;
    }
    let deadline = SystemTime::UNIX_EPOCH + Duration::from_millis(deadline_epoch_millis);
    match deadline.duration_since(SystemTime::now()) {
        Ok(left) => configured.min(left.saturating_sub(ANSWER_MARGIN)),
        Err(_) => configured,
    }
}
