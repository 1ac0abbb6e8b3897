//! Folding a batch of stream records into rollups, exactly once.
//!
//! A site's minute is stored, per spread of the site ([`crate::spread`]: a busy site's events are
//! spread over several partition keys, and each spread's are folded apart), as its counts, one or
//! more visitor parts and up to [`BUCKETS`] fingerprint buckets. Visitor parts hold stamped
//! "latest" values, and observing an event twice changes nothing, so they need no guard. The counts
//! do, and stream positions cannot be it: a Lambda event does not say which shard it read, and once
//! DynamoDB splits a hot site's key range one site's events arrive on several shards at once, each
//! with sequence numbers of its own. So the guard is the events' identity: each bucket holds the
//! fingerprints of the events counted in it, in its slice of the minute, and the totals of exactly
//! those events; an event whose fingerprint is there is not counted again (see
//! [`bucket`](super::bucket)). The counts hold a copy of each bucket's totals and their sums, which
//! is all the view reads.
//!
//! A fold of a minute reads the counts and parts (one Query) and the buckets its events fall in, keeps
//! the events not in their bucket yet, and writes, each conditional on the version it read: first the
//! parts those events change, then the buckets they join, then the counts with the copies of the
//! buckets it read that are newer than the counts' copies. In that order, an event in a bucket has its
//! visitor in the parts, and a bucket whose copy did not get written (a failure, a conflict) is copied
//! on the next fold that touches it, even if nothing in that fold is new: Lambda retries a failed batch,
//! and the retry reads the bucket again. So a replayed batch, a retry from any record, batches out of
//! order, a crash between any two writes, and two shards folding the same minute at once all leave
//! every event counted once. A conflict makes the fold read and fold again.
//!
//! A part whose encoding passes [`codec::PART_LIMIT_BYTES`] (DynamoDB's item limit with room to spare)
//! is split in two. Nothing to configure, and no write is ever refused for its size.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::bucket::{BUCKETS, FingerprintBucket, bucket_of};
use super::codec;
use super::{Minute, MinuteRollup, SequenceNumber, SequenceRange, VisitorKey, VisitorPart};
use crate::event::StoredEvent;
use crate::ports::StoreError;
use crate::site::SiteId;
use crate::spread::Spread;

/// One raw event from the stream with its sequence number.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamEvent {
    pub sequence: SequenceNumber,
    pub event: StoredEvent,
}

/// Identifies one spread of one site's minute: the events of one spread ([`crate::spread`]) are
/// folded into rollup items of their own, which only the stream shard holding that spread writes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RollupKey {
    pub site: SiteId,
    pub minute: Minute,
    pub spread: Spread,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveOutcome {
    Saved,
    /// The stored item's version is no longer the one read: someone else wrote in between.
    Conflict,
}

pub use crate::ports::RollupStore;

#[derive(Debug, Clone)]
pub struct AggregateConfig {
    /// Rollup lifetime (`ttl` = now + this).
    pub rollup_ttl: Duration,
    /// Conditional-write attempts per minute before its records are reported as failed.
    pub max_attempts: u32,
    /// A visitor part whose encoding passes this is split in two.
    pub part_limit_bytes: usize,
}

impl Default for AggregateConfig {
    fn default() -> Self {
        Self {
            rollup_ttl: Duration::from_secs(2100),
            max_attempts: 8,
            part_limit_bytes: codec::PART_LIMIT_BYTES,
        }
    }
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct BatchReport {
    /// Minutes whose writes the store refused permanently: logged and skipped, never retried, so one
    /// bad minute cannot hold up the shard.
    pub rejected: usize,
    /// Rollup items written.
    pub writes: usize,
    /// For each rollup whose write failed, its records' lowest sequence number. Lambda retries the batch
    /// from the lowest of these.
    pub failed: Vec<SequenceNumber>,
}

/// The fold as a use case, built like the others from its store and config: the aggregate function's
/// app holds one and folds each stream batch with it.
pub struct Aggregator<S> {
    store: S,
    config: AggregateConfig,
}

impl<S: RollupStore> Aggregator<S> {
    pub fn new(store: S, config: AggregateConfig) -> Self {
        Self { store, config }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn into_store(self) -> S {
        self.store
    }

    /// Folds one batch's raw events (see [`fold_batch`]).
    pub async fn fold(&self, batch: &SequenceRange, events: Vec<StreamEvent>, now: DateTime<Utc>) -> BatchReport {
        fold_batch(&self.store, &self.config, batch, events, now).await
    }
}

/// Folds a batch: per site and minute touched, one write of each visitor part and each fingerprint
/// bucket that its new events change, and one of the counts. `batch` is the stretch of the shard the
/// delivered batch covers, for the logs.
pub async fn fold_batch<S: RollupStore>(
    store: &S,
    config: &AggregateConfig,
    batch: &SequenceRange,
    events: Vec<StreamEvent>,
    now: DateTime<Utc>,
) -> BatchReport {
    let mut report = BatchReport::default();
    let mut groups: BTreeMap<RollupKey, Vec<StreamEvent>> = BTreeMap::new();
    for record in events {
        let key = RollupKey {
            site: record.event.site.clone(),
            minute: Minute::of(record.event.ts),
            spread: record.event.spread,
        };
        groups.entry(key).or_default().push(record);
    }
    let expires_at = now + config.rollup_ttl;
    for (key, group) in groups {
        match fold_minute(store, config, &key, &group, expires_at).await {
            Ok(writes) => report.writes += writes,
            Err(err) if !err.is_transient() => {
                tracing::error!(site = %key.site, minute = %key.minute, spread = %key.spread, error = %err,
                    source = ?std::error::Error::source(&err), first = batch.first.as_str(), last = batch.last.as_str(),
                    "rollup write refused; this minute's records are skipped");
                report.rejected += 1;
            }
            Err(err) => {
                tracing::warn!(site = %key.site, minute = %key.minute, spread = %key.spread, error = %err,
                    source = ?std::error::Error::source(&err), first = batch.first.as_str(), last = batch.last.as_str(),
                    "rollup write failed; its records will be retried");
                let lowest = group.iter().map(|r| &r.sequence).min().expect("a group has a record");
                report.failed.push(lowest.clone());
            }
        }
    }
    report
}

/// Read, keep the events not counted yet, write the parts they change, then the buckets they join, then
/// the counts with the newer bucket totals copied in, each conditionally; on a conflict, again from the
/// read. Returns the number of items written.
async fn fold_minute<S: RollupStore>(
    store: &S,
    config: &AggregateConfig,
    key: &RollupKey,
    group: &[StreamEvent],
    expires_at: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let indexes: BTreeSet<u8> = group.iter().map(|r| bucket_of(r.event.ts)).collect();
    debug_assert!(indexes.iter().all(|&index| index < BUCKETS));
    let mut writes = 0;
    'attempt: for _ in 0..config.max_attempts {
        // A copy in the counts never goes back to an older version of its bucket, so the counts and
        // the buckets may be read in any order: at once.
        let (rollup, loaded) = futures::try_join!(
            store.load_minute(key),
            futures::future::try_join_all(indexes.iter().map(|&index| store.load_bucket(key, index))),
        )?;
        let MinuteRollup { mut counts, mut parts } = rollup.unwrap_or_default();
        let mut buckets: BTreeMap<u8, FingerprintBucket> = indexes
            .iter()
            .copied()
            .zip(loaded.into_iter().map(Option::unwrap_or_default))
            .collect();
        let read_bucket_versions: BTreeMap<u8, u64> = buckets
            .iter()
            .map(|(&index, bucket)| (index, bucket.totals.version))
            .collect();
        let mut fresh: Vec<&StoredEvent> = Vec::new();
        let mut grown: BTreeSet<u8> = BTreeSet::new();
        for record in group {
            let index = bucket_of(record.event.ts);
            if buckets
                .get_mut(&index)
                .expect("every touched bucket is read")
                .add(&record.event)
            {
                fresh.push(&record.event);
                grown.insert(index);
            }
        }

        // Parts first: once an event is in its bucket it is never new again, so its visitor must be
        // stored by then.
        let read_versions: Vec<u64> = parts.iter().map(|part| part.version).collect();
        let touched = observe_visitors(&mut parts, key.minute, config.part_limit_bytes, &fresh);
        // Highest index first: a split writes the visitors' new part before removing them from the old
        // one, so a failure in between leaves them in both (harmless: parts merge), never in neither.
        for &index in touched.iter().rev() {
            let part = &mut parts[index];
            part.version += 1;
            let expected = read_versions.get(index).copied().filter(|&v| v > 0);
            if store.save_part(key, index, part, expected, expires_at).await? == SaveOutcome::Conflict {
                continue 'attempt;
            }
            writes += 1;
        }
        for &index in &grown {
            let bucket = buckets.get_mut(&index).expect("a grown bucket is read");
            bucket.totals.version += 1;
            let expected = Some(read_bucket_versions[&index]).filter(|&v| v > 0);
            if store.save_bucket(key, index, bucket, expected, expires_at).await? == SaveOutcome::Conflict {
                continue 'attempt;
            }
            writes += 1;
        }

        // Every bucket read, not only the grown ones: one whose copy a failed or conflicting fold did
        // not write is copied now.
        let mut copied = false;
        for (&index, bucket) in &buckets {
            copied |= counts.copy_bucket(index, &bucket.totals);
        }
        if !copied {
            return Ok(writes);
        }
        let expected = Some(counts.version).filter(|&v| v > 0);
        counts.version += 1;
        match store.save_counts(key, &counts, expected, expires_at).await? {
            SaveOutcome::Saved => return Ok(writes + 1),
            SaveOutcome::Conflict => continue,
        }
    }
    Err(StoreError::Unavailable(
        "rollup kept changing under concurrent writers".into(),
    ))
}

/// Observes each event in the part that already holds its visitor, or else in the last part; then splits
/// every changed part whose encoding passes `part_limit_bytes`, moving half its visitors to a new part.
/// Returns the indexes of the parts that changed.
fn observe_visitors(
    parts: &mut Vec<VisitorPart>,
    minute: Minute,
    part_limit_bytes: usize,
    events: &[&StoredEvent],
) -> BTreeSet<usize> {
    let mut touched = BTreeSet::new();
    for event in events {
        let key = VisitorKey::of(&event.visitor);
        let index = match parts.iter().position(|part| part.visitors.contains_key(&key)) {
            Some(index) => index,
            None => {
                if parts.is_empty() {
                    parts.push(VisitorPart::default());
                }
                parts.len() - 1
            }
        };
        parts[index].visitors.entry(key).or_default().observe(event);
        touched.insert(index);
    }
    let mut pending: Vec<usize> = touched.iter().copied().collect();
    while let Some(index) = pending.pop() {
        let part = &mut parts[index];
        if part.visitors.len() < 2 || codec::encode(part, minute).len() <= part_limit_bytes {
            continue;
        }
        let middle = *part
            .visitors
            .keys()
            .nth(part.visitors.len() / 2)
            .expect("two or more visitors");
        let moved = part.visitors.split_off(&middle);
        parts.push(VisitorPart {
            visitors: moved,
            version: 0,
        });
        let new_index = parts.len() - 1;
        touched.insert(new_index);
        pending.extend([index, new_index]);
    }
    touched
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::EventKind;
    use crate::memory::sample_event;

    /// A minute with more visitors than one part holds grows parts; each visitor stays in one part.
    #[test]
    fn a_full_part_spills_into_a_new_one() {
        let at = Utc.with_ymd_and_hms(2026, 1, 15, 10, 30, 0).unwrap();
        let minute = Minute::of(at);
        let long_path = format!("/{}", "p".repeat(1_000));
        let events: Vec<StoredEvent> = (0..800)
            .map(|i| {
                let mut event = sample_event(EventKind::Pageview, &format!("e{i}"), at);
                event.visitor = format!("{i:032x}");
                event.path = format!("{long_path}/{i}");
                event
            })
            .collect();
        let refs: Vec<&StoredEvent> = events.iter().collect();
        let mut parts = Vec::new();
        let touched = observe_visitors(&mut parts, minute, codec::PART_LIMIT_BYTES, &refs);
        assert!(parts.len() >= 2, "{} parts", parts.len());
        assert_eq!(touched.len(), parts.len());
        assert!(
            parts
                .iter()
                .all(|p| codec::encode(p, minute).len() <= codec::PART_LIMIT_BYTES)
        );
        assert_eq!(parts.iter().map(|p| p.visitors.len()).sum::<usize>(), 800);
        // The same events again: every visitor is found where it is, nothing changes.
        let before = parts.clone();
        observe_visitors(&mut parts, minute, codec::PART_LIMIT_BYTES, &refs);
        assert_eq!(parts, before);
    }
}
