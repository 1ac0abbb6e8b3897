//! Realtime: per-minute rollups folded from the raw event stream, and the realtime view computed from
//! them.
//!
//! A rollup holds, for one site and one UTC minute, the page view and event counts and, for every
//! visitor active in that minute, their latest page, country and referrer, each stamped with the event
//! that set it. Stamped values merge by "latest stamp wins", which is idempotent and independent of
//! order, so the visitor parts need no guard; the counts are made exactly-once by the fingerprints of
//! the events already counted (see [`bucket`] and [`aggregate`]).

pub mod aggregate;
pub mod bucket;
pub mod codec;
mod minute;
mod rollup;
pub mod service;
pub mod view;

pub use bucket::{BucketTotals, Fingerprint, FingerprintBucket, FingerprintKey};
pub use minute::{Minute, MinuteParseError};
pub use rollup::{
    GoalTotals, LEGACY_TOTALS, MinuteCounts, MinuteRollup, SequenceNumber, SequenceRange, Stamp, Stamped, VisitorKey,
    VisitorPart, VisitorState,
};
