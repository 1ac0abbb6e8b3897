use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::bucket::BucketTotals;
use crate::event::{EventKind, StoredEvent};

/// A DynamoDB stream sequence number: a decimal string of up to 40 digits, ordered numerically.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SequenceNumber(String);

impl SequenceNumber {
    pub fn parse(raw: &str) -> Option<Self> {
        let digits = raw.trim_start_matches('0');
        let valid = !raw.is_empty() && raw.len() <= 64 && raw.bytes().all(|b| b.is_ascii_digit());
        valid.then(|| {
            Self(if digits.is_empty() {
                "0".into()
            } else {
                digits.to_owned()
            })
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Ord for SequenceNumber {
    fn cmp(&self, other: &Self) -> Ordering {
        // Without leading zeros, a longer number is a larger one.
        self.0.len().cmp(&other.0.len()).then_with(|| self.0.cmp(&other.0))
    }
}

impl PartialOrd for SequenceNumber {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// When an event set a visitor's values: its receive time in milliseconds. Two events of one visitor in
/// the same millisecond are ordered by their values (see [`keep_latest`]), so every reader picks the same
/// "latest" without storing anything else; a stamp takes two bytes in a part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stamp {
    pub millis: i64,
}

impl Stamp {
    pub fn of(event: &StoredEvent) -> Self {
        Self {
            millis: event.ts.timestamp_millis(),
        }
    }
}

/// FNV-1a, 64 bits: a stable digest (the same in every process and version), not a keyed hash.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash = Fnv1a::default();
    hash.write(bytes);
    hash.finish()
}

/// FNV-1a over several pieces, as over their concatenation.
pub(super) struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv1a {
    pub(super) fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    pub(super) fn finish(&self) -> u64 {
        self.0
    }
}

/// A visitor in a rollup: 64 bits of the visitor id. Ids are already keyed hashes; 64 bits keep the
/// chance that two of 150,000 visitors collide below one in a billion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VisitorKey(pub u64);

impl VisitorKey {
    pub fn of(visitor: &str) -> Self {
        Self(fnv1a(visitor.as_bytes()))
    }
}

/// A value with the stamp of the event that set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamped {
    pub at: Stamp,
    pub value: String,
}

/// Keeps the later of two stamped values; of two with the same stamp (two events of a millisecond), the
/// greater value, so that the outcome never depends on the order events are observed in, which events
/// arriving on several stream shards make arbitrary.
fn keep_latest(slot: &mut Option<Stamped>, candidate: &Stamped) {
    let later = |current: &Stamped| (current.at, &current.value) < (candidate.at, &candidate.value);
    if slot.as_ref().is_none_or(later) {
        *slot = Some(candidate.clone());
    }
}

/// What one visitor did in one minute, reduced to what the realtime view needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VisitorState {
    /// Path of the latest page view.
    pub page: Option<Stamped>,
    /// Latest known country.
    pub country: Option<Stamped>,
    /// Latest known referrer host.
    pub referrer: Option<Stamped>,
    /// The goals the visitor completed.
    pub goals: BTreeSet<String>,
}

impl VisitorState {
    /// Observes one event: idempotent (observing it again changes nothing) and independent of order.
    pub fn observe(&mut self, event: &StoredEvent) {
        let at = Stamp::of(event);
        let stamped = |value: &str| Stamped {
            at,
            value: value.to_owned(),
        };
        if event.kind() == EventKind::Pageview {
            keep_latest(&mut self.page, &stamped(&event.path));
        }
        if let Some(country) = &event.country {
            keep_latest(&mut self.country, &stamped(country));
        }
        if let Some(referrer) = &event.referrer {
            keep_latest(&mut self.referrer, &stamped(referrer));
        }
        self.goals
            .extend(event.goals.iter().map(|hit| hit.goal.as_str().to_owned()));
    }

    /// Merges another state of the same visitor: idempotent, commutative and associative.
    pub fn merge(&mut self, other: &VisitorState) {
        for (slot, candidate) in [
            (&mut self.page, &other.page),
            (&mut self.country, &other.country),
            (&mut self.referrer, &other.referrer),
        ] {
            if let Some(candidate) = candidate {
                keep_latest(slot, candidate);
            }
        }
        self.goals.extend(other.goals.iter().cloned());
    }
}

/// The stretch of one stream shard a batch covers, from its first record to its last. Sequence numbers
/// are per shard, and one site's events may come from several shards at once, so this identifies a
/// delivery in the logs, never which events were counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SequenceRange {
    pub first: SequenceNumber,
    pub last: SequenceNumber,
}

/// The copy key of the totals of a counts item written before fingerprint buckets existed: no fold
/// touches it, so they stay in the sums.
pub const LEGACY_TOTALS: u8 = u8::MAX;

/// The counted side of one site's minute: a copy of each fingerprint bucket's totals (see
/// [`bucket`](super::bucket)), and their sums, which are what the view reads. Written after the buckets,
/// which are written after the visitor parts, so whatever the counts hold has its visitors stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MinuteCounts {
    /// The sum over `buckets`.
    #[serde(rename = "pv", default)]
    pub pageviews: u64,
    /// Custom events and outbound clicks; the sum over `buckets`.
    #[serde(rename = "ev", default)]
    pub events: u64,
    /// Incremented on every write; writes are conditional on it. 0: never written.
    #[serde(rename = "ver", default)]
    pub version: u64,
    /// Conversions and their value, per goal; the sum over `buckets`.
    #[serde(rename = "g", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub goals: BTreeMap<String, GoalTotals>,
    /// Each bucket's totals as last copied, with the bucket's version they are from.
    #[serde(
        rename = "b",
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        with = "buckets_as_json"
    )]
    pub buckets: BTreeMap<u8, BucketTotals>,
}

/// The bucket copies are stored as one JSON string, not as a map of maps: the same bytes to DynamoDB,
/// but a hundred-odd attribute values a minute fewer for a store to walk on every read of the window
/// (moto, the local DynamoDB, took ~3 ms a minute to serialise them). Items holding a map still read.
mod buckets_as_json {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serializer};

    use super::BucketTotals;

    pub fn serialize<S: Serializer>(buckets: &BTreeMap<u8, BucketTotals>, serializer: S) -> Result<S::Ok, S::Error> {
        let text = serde_json::to_string(buckets).map_err(serde::ser::Error::custom)?;
        serializer.serialize_str(&text)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<BTreeMap<u8, BucketTotals>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Stored {
            Text(String),
            // Buffered untagged content keeps map keys as strings.
            Map(BTreeMap<String, BucketTotals>),
        }
        match Stored::deserialize(deserializer)? {
            Stored::Text(text) => serde_json::from_str(&text).map_err(serde::de::Error::custom),
            Stored::Map(buckets) => buckets
                .into_iter()
                .map(|(index, totals)| Ok((index.parse().map_err(serde::de::Error::custom)?, totals)))
                .collect(),
        }
    }
}

/// One goal's conversions in a minute.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GoalTotals {
    #[serde(rename = "c")]
    pub conversions: u64,
    /// Sum of the conversions' values.
    #[serde(rename = "v", default)]
    pub value: f64,
}

impl MinuteCounts {
    /// Takes over bucket `index`'s totals if they are from a newer version of it than the copy held,
    /// and sums again; whether anything changed. A copy is set, never added to, so copying the same
    /// totals again changes nothing, and a copy never goes back to an older version, whatever order
    /// concurrent writers read the bucket and the counts in.
    pub fn copy_bucket(&mut self, index: u8, totals: &BucketTotals) -> bool {
        let held = self.buckets.get(&index).map_or(0, |copy| copy.version);
        if totals.version <= held {
            return false;
        }
        if self.buckets.is_empty() && (self.pageviews, self.events, self.goals.len()) != (0, 0, 0) {
            // An item from before buckets: its totals are kept as a copy of their own. Their events
            // have no fingerprints, so one of them redelivered after the upgrade is counted again.
            let legacy = BucketTotals {
                pageviews: self.pageviews,
                events: self.events,
                goals: std::mem::take(&mut self.goals),
                version: 0,
            };
            self.buckets.insert(LEGACY_TOTALS, legacy);
        }
        self.buckets.insert(index, totals.clone());
        self.pageviews = self.buckets.values().map(|copy| copy.pageviews).sum();
        self.events = self.buckets.values().map(|copy| copy.events).sum();
        self.goals.clear();
        for (goal, totals) in self.buckets.values().flat_map(|copy| &copy.goals) {
            let sum = self.goals.entry(goal.clone()).or_default();
            sum.conversions += totals.conversions;
            sum.value = crate::number::saturating_add(sum.value, totals.value);
        }
        true
    }
}

/// Some of one minute's visitors and their states. Observing an event is idempotent, so a part needs no
/// guard of its own: a retried batch observes the same events again and changes nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VisitorPart {
    pub visitors: BTreeMap<VisitorKey, VisitorState>,
    /// Incremented on every write; writes are conditional on it. 0: never written.
    pub version: u64,
}

/// One site's minute as stored: its counts and its visitor parts (one, or more once a part is full).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MinuteRollup {
    pub counts: MinuteCounts,
    pub parts: Vec<VisitorPart>,
}

impl MinuteRollup {
    /// Every visitor of the minute with their merged state.
    pub fn visitors(&self) -> BTreeMap<VisitorKey, VisitorState> {
        let mut visitors: BTreeMap<VisitorKey, VisitorState> = BTreeMap::new();
        for part in &self.parts {
            for (key, state) in &part.visitors {
                visitors.entry(*key).or_default().merge(state);
            }
        }
        visitors
    }
}

#[cfg(test)]
mod tests;
