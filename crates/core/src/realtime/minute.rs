use std::fmt;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};

/// A UTC minute, as minutes since the Unix epoch. Displays as `2026-01-15T10:30`, the form used in sort
/// keys and in the realtime timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Minute(i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a minute of the form YYYY-MM-DDTHH:MM: {0:?}")]
pub struct MinuteParseError(String);

impl Minute {
    pub fn of(at: DateTime<Utc>) -> Self {
        Self(at.timestamp().div_euclid(60))
    }

    pub fn parse(raw: &str) -> Result<Self, MinuteParseError> {
        NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M")
            .map(|at| Self::of(at.and_utc()))
            .map_err(|_| MinuteParseError(raw.to_owned()))
    }

    pub fn plus(self, minutes: i64) -> Self {
        Self(self.0 + minutes)
    }

    pub fn start(self) -> DateTime<Utc> {
        Utc.timestamp_opt(self.0 * 60, 0)
            .single()
            .expect("a minute since the epoch is a valid time")
    }

    /// Minutes from `self` up to and including `last`.
    pub fn through(self, last: Minute) -> impl Iterator<Item = Minute> {
        (self.0..=last.0).map(Minute)
    }
}

impl fmt::Display for Minute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.start().format("%Y-%m-%dT%H:%M"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parses_and_steps() {
        let at = Utc.with_ymd_and_hms(2026, 1, 15, 10, 30, 59).unwrap();
        let minute = Minute::of(at);
        assert_eq!(minute.to_string(), "2026-01-15T10:30");
        assert_eq!(Minute::parse("2026-01-15T10:30"), Ok(minute));
        assert_eq!(minute.plus(-31).to_string(), "2026-01-15T09:59");
        assert_eq!(minute.plus(-2).through(minute).count(), 3);
        assert!(Minute::parse("2026-01-15 10:30").is_err());
    }
}
