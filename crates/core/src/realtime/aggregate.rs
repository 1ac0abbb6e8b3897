//! Folding a batch of stream records into rollups, exactly once.
//!
//! A site's minute is stored as its counts and one or more visitor parts. Visitor parts hold stamped
//! "latest" values, and observing an event twice changes nothing, so they need no guard. The counts
//! do: a Lambda batch is a contiguous stretch of one stream shard, from its first record's sequence
//! number to its last, and the counts remember the stretches already folded into them; a record inside
//! one is skipped. So replaying a batch, retrying from a failed record (a batch that overlaps an earlier
//! one), or even delivering batches out of order changes nothing. The parts are written before the
//! counts: once a batch is in the counts, its visitors are in the parts. Lambda processes a shard one
//! batch at a time (ParallelizationFactor 1) and a site's raw events share one partition key, so all
//! records of a minute come from one shard lineage. Every write is conditional on the version it read:
//! a concurrent writer makes the fold read and fold again.
//!
//! A part whose encoding passes [`codec::PART_LIMIT_BYTES`] (DynamoDB's item limit with room to spare)
//! is split in two. Nothing to configure, and no write is ever refused for its size.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::codec;
use super::{Minute, MinuteCounts, MinuteRollup, SequenceNumber, SequenceRange, VisitorKey, VisitorPart};
use crate::event::StoredEvent;
use crate::ports::StoreError;
use crate::site::SiteId;

/// One raw event from the stream with its sequence number.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamEvent {
    pub sequence: SequenceNumber,
    pub event: StoredEvent,
}

/// Identifies one site's minute.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RollupKey {
    pub site: SiteId,
    pub minute: Minute,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveOutcome {
    Saved,
    /// The stored item's version is no longer the one read: someone else wrote in between.
    Conflict,
}

pub trait RollupStore: Send + Sync {
    /// The minute's counts and all its visitor parts (one Query); `None` when nothing is stored yet.
    fn load_minute(&self, key: &RollupKey) -> impl Future<Output = Result<Option<MinuteRollup>, StoreError>> + Send;

    /// Writes part `index` only if the stored one still has version `expected` (`None`: only if there
    /// is none yet).
    fn save_part(
        &self,
        key: &RollupKey,
        index: usize,
        part: &VisitorPart,
        expected: Option<u64>,
        expires_at: DateTime<Utc>,
    ) -> impl Future<Output = Result<SaveOutcome, StoreError>> + Send;

    /// Writes the counts, conditional like [`save_part`](Self::save_part).
    fn save_counts(
        &self,
        key: &RollupKey,
        counts: &MinuteCounts,
        expected: Option<u64>,
        expires_at: DateTime<Utc>,
    ) -> impl Future<Output = Result<SaveOutcome, StoreError>> + Send;
}

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

/// Folds a batch: per site and minute touched, one write of each visitor part that changed and one of
/// the counts. `batch` spans every record of the delivered batch, including any that were not events.
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
        };
        groups.entry(key).or_default().push(record);
    }
    let expires_at = now + config.rollup_ttl;
    for (key, mut group) in groups {
        group.sort_by(|a, b| a.sequence.cmp(&b.sequence));
        match fold_minute(store, config, &key, batch, &group, expires_at).await {
            Ok(writes) => report.writes += writes,
            Err(err) if !err.is_transient() => {
                tracing::error!(site = %key.site, minute = %key.minute, error = %err,
                    source = ?std::error::Error::source(&err), "rollup write refused; this minute's records are skipped");
                report.rejected += 1;
            }
            Err(err) => {
                tracing::warn!(site = %key.site, minute = %key.minute, error = %err,
                    source = ?std::error::Error::source(&err), "rollup write failed; its records will be retried");
                report.failed.push(group[0].sequence.clone());
            }
        }
    }
    report
}

/// Read, fold what is new, write the changed parts and then the counts, each conditionally; on a
/// conflict, again from the read. Returns the number of items written.
async fn fold_minute<S: RollupStore>(
    store: &S,
    config: &AggregateConfig,
    key: &RollupKey,
    batch: &SequenceRange,
    group: &[StreamEvent],
    expires_at: DateTime<Utc>,
) -> Result<usize, StoreError> {
    'attempt: for _ in 0..config.max_attempts {
        let MinuteRollup { mut counts, mut parts } = store.load_minute(key).await?.unwrap_or_default();
        let fresh: Vec<&StoredEvent> = group
            .iter()
            .filter(|r| !counts.has_applied(&r.sequence))
            .map(|r| &r.event)
            .collect();
        if fresh.is_empty() {
            return Ok(0);
        }
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
        }
        let expected = Some(counts.version).filter(|&v| v > 0);
        for event in &fresh {
            counts.count(event);
        }
        counts.mark_applied(batch);
        counts.version += 1;
        match store.save_counts(key, &counts, expected, expires_at).await? {
            SaveOutcome::Saved => return Ok(touched.len() + 1),
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
