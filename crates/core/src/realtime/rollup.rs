use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

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

/// Orders the events that set a visitor's values: receive time in milliseconds, ties broken by a 16-bit
/// digest of the event id, so every reader picks the same "latest" and a stamp takes two bytes besides
/// its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stamp {
    pub millis: i64,
    pub tie: u16,
}

impl Stamp {
    pub fn of(event: &StoredEvent) -> Self {
        let digest = fnv1a(event.id.as_str().as_bytes());
        Self {
            millis: event.ts.timestamp_millis(),
            tie: (digest >> 48) as u16,
        }
    }
}

/// FNV-1a, 64 bits: a stable digest (the same in every process and version), not a keyed hash.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
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

/// Keeps the later of two stamped values.
fn keep_latest(slot: &mut Option<Stamped>, candidate: &Stamped) {
    if slot.as_ref().is_none_or(|current| current.at < candidate.at) {
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

/// A contiguous stretch of one stream shard, from a batch's first record to its last: every record of
/// the shard in between was in that batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SequenceRange {
    pub first: SequenceNumber,
    pub last: SequenceNumber,
}

impl SequenceRange {
    pub fn contains(&self, sequence: &SequenceNumber) -> bool {
        &self.first <= sequence && sequence <= &self.last
    }
}

/// Beyond this many remembered ranges the oldest two are merged. Under Lambda's in-order delivery every
/// gap between remembered ranges holds no records of this rollup, so merging loses nothing; only a
/// delivery far out of order, which Lambda does not do, could then be skipped.
const MAX_APPLIED_RANGES: usize = 32;

/// The counted side of one site's minute: page views and events, guarded exactly-once by the stream
/// stretches already folded in. Written after the minute's visitor parts, so a batch whose counts are
/// stored has its visitors stored too.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MinuteCounts {
    #[serde(rename = "pv", default)]
    pub pageviews: u64,
    /// Custom events and outbound clicks.
    #[serde(rename = "ev", default)]
    pub events: u64,
    /// The batches already folded in, as stream ranges: a record inside one is already counted.
    #[serde(rename = "applied", default)]
    pub applied: Vec<SequenceRange>,
    /// Incremented on every write; writes are conditional on it. 0: never written.
    #[serde(rename = "ver", default)]
    pub version: u64,
    /// Conversions and their value, per goal.
    #[serde(rename = "g", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub goals: BTreeMap<String, GoalTotals>,
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
    /// Whether the record with this sequence number is already part of the counts.
    pub fn has_applied(&self, sequence: &SequenceNumber) -> bool {
        self.applied.iter().any(|range| range.contains(sequence))
    }

    pub fn count(&mut self, event: &StoredEvent) {
        match event.kind() {
            EventKind::Pageview => self.pageviews += 1,
            EventKind::Event | EventKind::Outbound => self.events += 1,
        }
        for hit in &event.goals {
            let totals = self.goals.entry(hit.goal.as_str().to_owned()).or_default();
            totals.conversions += 1;
            totals.value += hit.value.unwrap_or_default();
        }
    }

    /// Remembers a folded batch's range, merging overlaps (a retry overlaps the batch it repeats).
    pub fn mark_applied(&mut self, batch: &SequenceRange) {
        self.applied.push(batch.clone());
        self.applied.sort_by(|a, b| a.first.cmp(&b.first));
        let mut merged: Vec<SequenceRange> = Vec::with_capacity(self.applied.len());
        for range in self.applied.drain(..) {
            match merged.last_mut() {
                Some(previous) if range.first <= previous.last => {
                    if range.last > previous.last {
                        previous.last = range.last;
                    }
                }
                _ => merged.push(range),
            }
        }
        while merged.len() > MAX_APPLIED_RANGES {
            let second = merged.remove(1);
            merged[0].last = second.last;
        }
        self.applied = merged;
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
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_order_numerically() {
        let seq = |s| SequenceNumber::parse(s).unwrap();
        assert!(seq("9") < seq("10"));
        assert!(seq("000123") == seq("123"));
        assert!(seq("100000000000000000000") > seq("99999999999999999999"));
        assert!(SequenceNumber::parse("12a").is_none());
        assert!(SequenceNumber::parse("").is_none());
    }

    #[test]
    fn applied_ranges_merge_overlaps_and_stay_bounded() {
        let range = |a: u64, b: u64| SequenceRange {
            first: SequenceNumber::parse(&a.to_string()).unwrap(),
            last: SequenceNumber::parse(&b.to_string()).unwrap(),
        };
        let mut rollup = MinuteCounts::default();
        rollup.mark_applied(&range(10, 20));
        rollup.mark_applied(&range(15, 30));
        rollup.mark_applied(&range(40, 50));
        assert_eq!(rollup.applied, vec![range(10, 30), range(40, 50)]);
        assert!(rollup.has_applied(&SequenceNumber::parse("30").unwrap()));
        assert!(!rollup.has_applied(&SequenceNumber::parse("35").unwrap()));
        for i in 0..100 {
            rollup.mark_applied(&range(1000 + i * 10, 1000 + i * 10 + 5));
        }
        assert_eq!(rollup.applied.len(), MAX_APPLIED_RANGES);
        assert!(rollup.has_applied(&SequenceNumber::parse("1995").unwrap()));
    }

    #[test]
    fn later_stamp_wins_whatever_the_order() {
        let early = Stamped {
            at: Stamp { millis: 1_000, tie: 9 },
            value: "/early".into(),
        };
        let late = Stamped {
            at: Stamp { millis: 1_001, tie: 0 },
            value: "/late".into(),
        };
        let mut one = VisitorState {
            page: Some(early.clone()),
            ..Default::default()
        };
        one.merge(&VisitorState {
            page: Some(late.clone()),
            ..Default::default()
        });
        let mut two = VisitorState {
            page: Some(late.clone()),
            ..Default::default()
        };
        two.merge(&VisitorState {
            page: Some(early),
            ..Default::default()
        });
        assert_eq!(one, two);
        assert_eq!(one.page.unwrap().value, "/late");
    }

    #[test]
    fn digests_are_stable() {
        // Stored rollups depend on these values: they must never change between versions.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(VisitorKey::of("a"), VisitorKey(0xaf63_dc4c_8601_ec8c));
    }
}
