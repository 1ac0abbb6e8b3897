//! Timestamp formats shared by keys and items.

use chrono::{DateTime, SecondsFormat, Utc};

/// `2026-01-15T10:30:12.345Z`: fixed width, so it sorts lexicographically in a sort key.
pub fn iso_millis(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}
