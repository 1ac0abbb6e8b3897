//! Fingerprint buckets: what makes the counts exactly-once.
//!
//! A raw event's fingerprint is a 64-bit digest of its identity, the key of its raw item, which is the
//! same however often and on whichever stream shard the event is delivered. Collect computes it when it
//! writes the item, keyed with the day's salt, and stores it with the item (`fp`): client-chosen ids
//! cannot be picked to collide with other events' fingerprints and hide them from the counts. A site's minute is cut by
//! receive time into [`BUCKETS`] slices of [`BUCKET_SECONDS`]; each slice's bucket holds the
//! fingerprints of the events counted in it and the totals of exactly those events. Adding an event
//! whose fingerprint is there changes nothing, so a bucket is right after any single write of it,
//! whatever was delivered twice, out of order or on two shards at once. A one-second stream batch
//! touches one bucket, or two across a slice boundary.
//!
//! Stored layout of the fingerprints (a binary attribute), version 1: `u8` version, then every
//! fingerprint as a `u64`, little-endian, in ascending order.

use std::collections::{BTreeMap, BTreeSet};

use std::hash::Hasher;

use chrono::{DateTime, Timelike, Utc};
use serde::{Deserialize, Serialize};
use siphasher::sip::SipHasher24;

use super::rollup::{Fnv1a, GoalTotals};
use crate::event::{EventKind, EventSlot, StoredEvent};

/// Buckets per minute.
pub const BUCKETS: u8 = 10;
/// The slice of a minute one bucket covers.
pub const BUCKET_SECONDS: u32 = 60 / BUCKETS as u32;

const VERSION: u8 = 1;

/// The bucket of the minute an event received at `at` is counted in: `0..BUCKETS`.
pub fn bucket_of(at: DateTime<Utc>) -> u8 {
    // `second()` is below 60 even in a leap second (chrono reports that in the nanoseconds).
    u8::try_from(at.second() / BUCKET_SECONDS).expect("a second of the minute over a slice is below BUCKETS")
}

/// A raw event's identity as 64 bits. Ids are random or client-chosen, so among the few thousand events
/// of one bucket two distinct events share a fingerprint with a chance of about one in 10^12, unless
/// someone can compute fingerprints: hence the keyed one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fingerprint(pub u64);

/// The key of [`Fingerprint::keyed`]: derived from the day's salt ([`crate::enrich::Salt`]), so it lives
/// and rotates with it, and only collect ever holds it.
#[derive(Clone, PartialEq, Eq)]
pub struct FingerprintKey([u8; 16]);

impl FingerprintKey {
    pub(crate) fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }
}

impl std::fmt::Debug for FingerprintKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FingerprintKey(..)")
    }
}

impl Fingerprint {
    /// The fingerprint the fold counts an event under: the one collect stored with it, or, for an item
    /// written before collect stored one, [`unkeyed`](Self::unkeyed). An item is written once and never
    /// changed, so every delivery of it carries the same choice and the same value.
    pub fn of(event: &StoredEvent) -> Self {
        event.fingerprint.unwrap_or_else(|| Self::unkeyed(event))
    }

    /// FNV-1a of the raw item's key: anyone can compute it, and so choose client ids whose fingerprints
    /// collide with others' to hide events from the counts. Only for items stored without a fingerprint.
    pub fn unkeyed(event: &StoredEvent) -> Self {
        let mut hash = Fnv1a::default();
        identity(event, |bytes| hash.write(bytes));
        Self(hash.finish())
    }

    /// SipHash-2-4 of the raw item's key (the same bytes as [`unkeyed`](Self::unkeyed)) under `key`: no
    /// one without the key can predict a fingerprint, so collisions cannot be chosen. Computed by collect
    /// when it writes the item, which is stored with it (`fp`).
    pub fn keyed(key: &FingerprintKey, event: &StoredEvent) -> Self {
        let mut hash = SipHasher24::new_with_key(&key.0);
        identity(event, |bytes| hash.write(bytes));
        Self(hash.finish())
    }
}

/// What the raw item's key is made of (its site, the kind's key prefix, the slot and the id), so two
/// events are one exactly when they are one item: the stream may deliver an item again, never two items
/// for one key. Fields are separated by NUL, which neither a site id nor an event id can contain.
fn identity(event: &StoredEvent, mut write: impl FnMut(&[u8])) {
    write(event.site.as_str().as_bytes());
    match event.slot() {
        EventSlot::Timed(at) => {
            let prefix = match event.kind() {
                EventKind::Pageview => b'P',
                EventKind::Event | EventKind::Outbound => b'E',
            };
            write(&[0, prefix]);
            write(&at.timestamp_millis().to_le_bytes());
        }
        EventSlot::ByClientId => write(&[0, b'I']),
    }
    write(&[0]);
    write(event.id.as_str().as_bytes());
}

/// Page views, other events and goal conversions of a set of events, and the version of the bucket
/// that counted them. Stored as a bucket item's attributes (`pv`, `ev`, `g`, `ver`) and, as a copy,
/// in the minute's counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BucketTotals {
    #[serde(rename = "pv", default)]
    pub pageviews: u64,
    /// Custom events and outbound clicks.
    #[serde(rename = "ev", default)]
    pub events: u64,
    /// Conversions and their value, per goal.
    #[serde(rename = "g", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub goals: BTreeMap<String, GoalTotals>,
    /// The bucket's version these totals are from; 0: never written.
    #[serde(rename = "ver", default)]
    pub version: u64,
}

impl BucketTotals {
    pub fn count(&mut self, event: &StoredEvent) {
        match event.kind() {
            EventKind::Pageview => self.pageviews += 1,
            EventKind::Event | EventKind::Outbound => self.events += 1,
        }
        for hit in &event.goals {
            let totals = self.goals.entry(hit.goal.as_str().to_owned()).or_default();
            totals.conversions += 1;
            totals.value = crate::number::saturating_add(totals.value, hit.value.unwrap_or_default());
        }
    }
}

/// One slice of a site's minute: the fingerprints of the events counted in it, and their totals.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FingerprintBucket {
    pub fingerprints: BTreeSet<Fingerprint>,
    /// The totals of exactly the events in `fingerprints`; their `version` is the bucket's, which
    /// writes are conditional on.
    pub totals: BucketTotals,
}

impl FingerprintBucket {
    /// Counts the event under [`Fingerprint::of`] unless it is already in; whether it was new.
    ///
    /// An event stored with a keyed fingerprint is also already in when its unkeyed one is: an aggregate
    /// from before stored fingerprints (a deploy that updates collect first) ignored the attribute and
    /// counted it under that, and a replay of its record must not count it again. This opens no door to
    /// chosen collisions: unkeyed fingerprints enter a bucket only for items stored without one, which
    /// collect no longer writes, and the keyed ones in it cannot be predicted.
    pub fn add(&mut self, event: &StoredEvent) -> bool {
        let fingerprint = Fingerprint::of(event);
        if event.fingerprint.is_some() && self.fingerprints.contains(&Fingerprint::unkeyed(event)) {
            return false;
        }
        let new = self.fingerprints.insert(fingerprint);
        if new {
            self.totals.count(event);
        }
        new
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("undecodable fingerprints: {0}")]
pub struct FingerprintsError(&'static str);

pub fn encode_fingerprints(fingerprints: &BTreeSet<Fingerprint>) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + fingerprints.len() * 8);
    out.push(VERSION);
    for fingerprint in fingerprints {
        out.extend_from_slice(&fingerprint.0.to_le_bytes());
    }
    out
}

pub fn decode_fingerprints(bytes: &[u8]) -> Result<BTreeSet<Fingerprint>, FingerprintsError> {
    let (&version, rest) = bytes.split_first().ok_or(FingerprintsError("empty"))?;
    if version != VERSION {
        return Err(FingerprintsError("unknown version"));
    }
    if rest.len() % 8 != 0 {
        return Err(FingerprintsError("truncated"));
    }
    let values: Vec<u64> = rest
        .chunks_exact(8)
        .map(|chunk| u64::from_le_bytes(chunk.try_into().expect("8 bytes")))
        .collect();
    // Ascending without repeats, as written: anything else is corruption, not a bucket to trust.
    if values.windows(2).any(|pair| pair[0] >= pair[1]) {
        return Err(FingerprintsError("not in ascending order"));
    }
    Ok(values.into_iter().map(Fingerprint).collect())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::memory::sample_event;

    #[test]
    fn a_minute_has_ten_slices_of_six_seconds() {
        let at = |second, millis| {
            Utc.with_ymd_and_hms(2026, 1, 15, 10, 30, second).unwrap() + chrono::Duration::milliseconds(millis)
        };
        assert_eq!(bucket_of(at(0, 0)), 0);
        assert_eq!(bucket_of(at(5, 999)), 0);
        assert_eq!(bucket_of(at(6, 0)), 1);
        assert_eq!(bucket_of(at(59, 999)), BUCKETS - 1);
    }

    #[test]
    fn fingerprints_follow_the_raw_items_key() {
        let at = Utc.with_ymd_and_hms(2026, 1, 15, 10, 30, 12).unwrap();
        let event = sample_event(EventKind::Pageview, "abc", at);
        // Stored rollups depend on this value: it must never change between versions.
        assert_eq!(Fingerprint::unkeyed(&event), Fingerprint(0x1a53_cfc6_cdab_3230));
        // Stored without a fingerprint (written before collect keyed them): counted under that one.
        assert_eq!(Fingerprint::of(&event), Fingerprint::unkeyed(&event));
        // The same item delivered again, whatever else a delivery could differ in.
        let mut again = event.clone();
        again.path = "/elsewhere".into();
        assert_eq!(Fingerprint::of(&again), Fingerprint::of(&event));
        // Another id, site, kind prefix or slot is another item.
        let mut others = vec![
            sample_event(EventKind::Pageview, "abd", at),
            sample_event(EventKind::Event, "abc", at),
            sample_event(EventKind::Pageview, "abc", at + chrono::Duration::milliseconds(1)),
        ];
        let mut elsewhere = event.clone();
        elsewhere.site = crate::SiteId::parse("demo2").unwrap();
        others.push(elsewhere);
        let mut by_id = event.clone();
        by_id.client_id = true;
        assert_eq!(by_id.slot(), EventSlot::ByClientId);
        others.push(by_id);
        let mut all: BTreeSet<Fingerprint> = others.iter().map(Fingerprint::of).collect();
        all.insert(Fingerprint::of(&event));
        assert_eq!(all.len(), 6);
        // An outbound click shares the custom events' key prefix: the same id and time is the same item.
        assert_eq!(
            Fingerprint::of(&sample_event(EventKind::Outbound, "abc", at)),
            Fingerprint::of(&sample_event(EventKind::Event, "abc", at))
        );
    }

    fn key(salt: &crate::enrich::Salt) -> FingerprintKey {
        salt.fingerprint_key()
    }

    #[test]
    fn keyed_fingerprints_depend_on_the_salt_and_are_stable_for_it() {
        let at = Utc.with_ymd_and_hms(2026, 1, 15, 10, 30, 12).unwrap();
        let event = sample_event(EventKind::Pageview, "abc", at);
        let (today, tomorrow) = (crate::enrich::Salt::random(), crate::enrich::Salt::random());
        let fingerprint = Fingerprint::keyed(&key(&today), &event);
        assert_eq!(fingerprint, Fingerprint::keyed(&key(&today), &event));
        let same_salt = crate::enrich::Salt::from_hex(&today.to_hex()).unwrap();
        assert_eq!(fingerprint, Fingerprint::keyed(&key(&same_salt), &event));
        assert_ne!(fingerprint, Fingerprint::keyed(&key(&tomorrow), &event));
        assert_ne!(fingerprint, Fingerprint::unkeyed(&event));
        // The same item, whatever else a delivery could differ in; another key is another item.
        let mut again = event.clone();
        again.path = "/elsewhere".into();
        assert_eq!(Fingerprint::keyed(&key(&today), &again), fingerprint);
        let other = sample_event(EventKind::Pageview, "abd", at);
        assert_ne!(Fingerprint::keyed(&key(&today), &other), fingerprint);
        // Exactly the bytes the unkeyed fingerprint digests, as one message.
        let mut bytes = Vec::new();
        identity(&event, |piece| bytes.extend_from_slice(piece));
        let mut whole = SipHasher24::new_with_key(&key(&today).0);
        whole.write(&bytes);
        assert_eq!(fingerprint, Fingerprint(whole.finish()));
        // A stored fingerprint is the one counted.
        let mut stored = event.clone();
        stored.fingerprint = Some(fingerprint);
        assert_eq!(Fingerprint::of(&stored), fingerprint);
    }

    /// An item stored with a keyed fingerprint that an aggregate from before them counted (under its
    /// unkeyed one) is not counted again when its record is replayed to the current aggregate.
    #[test]
    fn an_event_counted_before_keyed_fingerprints_is_not_counted_again() {
        let at = Utc.with_ymd_and_hms(2026, 1, 15, 10, 30, 12).unwrap();
        let salt = crate::enrich::Salt::random();
        let mut event = sample_event(EventKind::Pageview, "a", at);
        event.fingerprint = Some(Fingerprint::keyed(&key(&salt), &event));
        let mut bucket = FingerprintBucket::default();
        // What the old aggregate did: the attribute ignored, the unkeyed fingerprint counted.
        let mut as_old_read = event.clone();
        as_old_read.fingerprint = None;
        assert!(bucket.add(&as_old_read));
        let before = bucket.clone();
        assert!(!bucket.add(&event));
        assert_eq!(bucket, before);
        // Counted first by the current aggregate, then replayed: once.
        let mut fresh = FingerprintBucket::default();
        assert!(fresh.add(&event));
        assert!(!fresh.add(&event));
        assert_eq!(fresh.fingerprints, [event.fingerprint.unwrap()].into());
        assert_eq!(fresh.totals.pageviews, 1);
    }

    #[test]
    fn adding_an_event_twice_counts_it_once() {
        let at = Utc.with_ymd_and_hms(2026, 1, 15, 10, 30, 12).unwrap();
        let mut bucket = FingerprintBucket::default();
        assert!(bucket.add(&sample_event(EventKind::Pageview, "a", at)));
        assert!(bucket.add(&sample_event(EventKind::Event, "b", at)));
        let before = bucket.clone();
        assert!(!bucket.add(&sample_event(EventKind::Pageview, "a", at)));
        assert_eq!(bucket, before);
        assert_eq!((bucket.totals.pageviews, bucket.totals.events), (1, 1));
    }

    #[test]
    fn fingerprints_round_trip_and_corruption_is_an_error() {
        let fingerprints: BTreeSet<Fingerprint> = [u64::MAX, 0, 7, 1 << 40].into_iter().map(Fingerprint).collect();
        let bytes = encode_fingerprints(&fingerprints);
        assert_eq!(bytes.len(), 1 + 4 * 8);
        assert_eq!(decode_fingerprints(&bytes), Ok(fingerprints));
        assert_eq!(
            decode_fingerprints(&encode_fingerprints(&BTreeSet::new())),
            Ok(BTreeSet::new())
        );
        assert!(decode_fingerprints(&[]).is_err());
        assert!(decode_fingerprints(&bytes[..bytes.len() - 1]).is_err());
        assert!(decode_fingerprints(&[2]).is_err());
        let mut unordered = vec![VERSION];
        unordered.extend_from_slice(&9u64.to_le_bytes());
        unordered.extend_from_slice(&3u64.to_le_bytes());
        assert!(decode_fingerprints(&unordered).is_err());
        let mut repeated = vec![VERSION];
        repeated.extend_from_slice(&3u64.to_le_bytes());
        repeated.extend_from_slice(&3u64.to_le_bytes());
        assert!(decode_fingerprints(&repeated).is_err());
    }
}
