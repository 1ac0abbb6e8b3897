//! Write spreads: how one busy site's writes get past the 1,000 WCU/s a DynamoDB partition key takes.
//!
//! A site's raw events, and the rollup items folded from them, are kept under one of its *spreads*:
//! spread 0 under `SITE#{site}` as ever, spread `k` under `SITE#{site}#{k}`. A small site has one spread
//! and pays nothing for the scheme. A busy one is given more (`pulse-admin site spreads`), about one
//! for every 500 events a second at its peak, so that each key takes half a partition's writes.
//!
//! Which spread an event goes to is a function of what a retry of the same hit repeats, its item's
//! identity (slot and id, as [`Fingerprint::unkeyed`] digests it), and of the number of spreads the
//! site had at the event's slot minute. A retry therefore lands on the same key and is recognised by
//! the same conditional write as before, and each stored event is in exactly one spread. The fold
//! keeps each spread's rollups apart (one stream shard writes them, so they see no contention at any
//! rate and their fingerprint buckets stay a spread's size), and the view merges the spreads' visitors
//! by key, which keeps every count exact whatever a visitor's events are spread over.
//!
//! A change of the number of spreads is scheduled for a minute far enough ahead that every warm
//! function has re-read the site by then ([`Spreads::change_at`]), so no two instances place one
//! slot minute differently. Readers read every spread used in the last [`SCHEDULE_MEMORY`].
//!
//! [`Fingerprint::unkeyed`]: crate::realtime::Fingerprint::unkeyed

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::event::{EventSlot, StoredEvent};
use crate::realtime::{Fingerprint, Minute};

/// The most spreads a site may have: 32,000 events a second at 500 a spread, and the most keys a
/// purge or a reader ever visits for one site.
pub const MAX_SPREADS: u8 = 64;

/// The events a second one spread is for: half of what a partition key takes (1,000 WCU, a raw event
/// being one), leaving room for an uneven second. A spread site's per-site limit rises to this per
/// spread ([`crate::rate`]).
pub const HITS_PER_SPREAD: u32 = 500;

/// How long a schedule remembers a past number of spreads: a time-ordered client id may place its
/// event up to [`MAX_ID_AGE`](crate::event::MAX_ID_AGE) back, and a retry must find the spread its first copy went to.
/// (That and an hour.)
pub const SCHEDULE_MEMORY: chrono::TimeDelta = chrono::TimeDelta::hours(25);

/// One of a site's spreads: `0..MAX_SPREADS`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Spread(u8);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a spread is a number below {MAX_SPREADS}, not {0}")]
pub struct SpreadError(u64);

impl Spread {
    /// The spread every site starts with, kept under `SITE#{site}` itself.
    pub const FIRST: Spread = Spread(0);

    pub fn index(self) -> u8 {
        self.0
    }

    pub fn is_first(&self) -> bool {
        self.0 == 0
    }
}

impl TryFrom<u8> for Spread {
    type Error = SpreadError;

    fn try_from(index: u8) -> Result<Self, SpreadError> {
        if index < MAX_SPREADS {
            Ok(Self(index))
        } else {
            Err(SpreadError(index.into()))
        }
    }
}

impl From<Spread> for u8 {
    fn from(spread: Spread) -> u8 {
        spread.0
    }
}

impl fmt::Display for Spread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// From `from` on, a site's events go to `count` spreads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpreadChange {
    #[serde(with = "minute_text")]
    pub from: Minute,
    #[serde(rename = "n")]
    pub count: u8,
}

/// A site's number of spreads over time: one spread until the first change, then what each change says
/// from its minute on. Stored with the site (`spreads`); sites stored before it have one spread.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Spreads(Vec<SpreadChange>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpreadsError {
    #[error("a site has 1 to {MAX_SPREADS} spreads, not {0}")]
    Count(u64),
}

impl Spreads {
    /// How many spreads events whose slot is in `minute` go to.
    pub fn count_at(&self, minute: Minute) -> u8 {
        self.0
            .iter()
            .rev()
            .find(|change| change.from <= minute)
            .map_or(1, |change| change.count)
    }

    /// The spread `event` is stored under: a function of its item's identity and the number of spreads
    /// at its slot's minute (its receive minute for an id without a time), so a retry of the hit lands on
    /// the same key as its first copy.
    pub fn of(&self, event: &StoredEvent) -> Spread {
        let placed_at = match event.slot() {
            EventSlot::Timed(at) => at,
            EventSlot::ByClientId => event.ts,
        };
        match self.count_at(Minute::of(placed_at)) {
            0 | 1 => Spread::FIRST,
            count => Spread((Fingerprint::unkeyed(event).0 % u64::from(count)) as u8),
        }
    }

    /// Every spread an item of the last [`SCHEDULE_MEMORY`] may be stored under: what readers read.
    pub fn in_use(&self) -> Vec<Spread> {
        let widest = self
            .0
            .iter()
            .map(|change| change.count)
            .max()
            .unwrap_or(1)
            .clamp(1, MAX_SPREADS);
        (0..widest).map(Spread).collect()
    }

    /// The number of spreads now.
    pub fn current(&self, now: DateTime<Utc>) -> u8 {
        self.count_at(Minute::of(now))
    }

    /// The change to `count` spreads from `from` on, keeping of the past only what a retry may still
    /// need: the changes of the last [`SCHEDULE_MEMORY`] and the one in effect before them. A change
    /// already scheduled for `from` or later is replaced.
    pub fn change_at(&self, count: u8, from: Minute, now: DateTime<Utc>) -> Result<Spreads, SpreadsError> {
        if !(1..=MAX_SPREADS).contains(&count) {
            return Err(SpreadsError::Count(count.into()));
        }
        let remembered_from = Minute::of(now - SCHEDULE_MEMORY);
        let mut changes: Vec<SpreadChange> = self.0.iter().copied().filter(|change| change.from < from).collect();
        let forgotten = changes
            .iter()
            .take_while(|change| change.from <= remembered_from)
            .count();
        changes.drain(..forgotten.saturating_sub(1));
        if changes.last().map_or(1, |change| change.count) != count {
            changes.push(SpreadChange { from, count });
        }
        if changes
            .first()
            .is_some_and(|change| change.count == 1 && change.from <= remembered_from)
        {
            changes.remove(0);
        }
        Ok(Spreads(changes))
    }

    /// Whether the site has only ever had one spread (as far as the schedule remembers).
    pub fn is_single(&self) -> bool {
        self.0.is_empty()
    }

    pub fn changes(&self) -> &[SpreadChange] {
        &self.0
    }
}

mod minute_text {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::realtime::Minute;

    pub fn serialize<S: Serializer>(minute: &Minute, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(minute)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Minute, D::Error> {
        Minute::parse(&String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests;
