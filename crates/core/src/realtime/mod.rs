//! Realtime: per-minute rollups folded from the raw event stream, and the realtime view computed from
//! them.
//!
//! A rollup holds, for one site and one UTC minute, the page view and event counts and, for every
//! visitor active in that minute, their latest page, country and referrer, each stamped with the event
//! that set it. Stamped values merge by "latest stamp wins", which is idempotent and independent of
//! order, so the visitor parts need no guard; the counts are guarded by the stream ranges already folded
//! in (see [`aggregate`]).

pub mod aggregate;
pub mod codec;
mod minute;
mod rollup;
pub mod service;
pub mod view;

pub use minute::{Minute, MinuteParseError};
pub use rollup::{
    GoalTotals, MinuteCounts, MinuteRollup, SequenceNumber, SequenceRange, Stamp, Stamped, VisitorKey, VisitorPart,
    VisitorState,
};
