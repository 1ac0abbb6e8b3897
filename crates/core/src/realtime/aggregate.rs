//! Folding a batch of stream records into rollups, exactly once.
//!
//! The guard: a Lambda batch is a contiguous stretch of one stream shard, from its first record's
//! sequence number to its last. Every rollup item remembers the stretches already folded into it, and a
//! record inside one is skipped. So replaying a batch, retrying from a failed record (a batch that
//! overlaps an earlier one), or even delivering batches out of order changes nothing. Lambda processes a
//! shard one batch at a time (ParallelizationFactor 1) and a site's raw events share one partition key,
//! so all records of a rollup come from one shard lineage. Each write is conditional on the version it
//! read: a concurrent writer makes it re-read and fold again.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Minute, MinuteRollup, SequenceNumber, SequenceRange};
use crate::event::StoredEvent;
use crate::ports::StoreError;
use crate::site::SiteId;

/// One raw event from the stream with its sequence number.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamEvent {
    pub sequence: SequenceNumber,
    pub event: StoredEvent,
}

/// Identifies one rollup item.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RollupKey {
    pub site: SiteId,
    pub minute: Minute,
    pub shard: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveOutcome {
    Saved,
    /// The stored rollup's version is no longer the one read: someone else wrote in between.
    Conflict,
}

pub trait RollupStore: Send + Sync {
    fn load_rollup(&self, key: &RollupKey) -> impl Future<Output = Result<Option<MinuteRollup>, StoreError>> + Send;

    /// Writes `rollup` only if the stored one still has version `expected` (`None`: only if there is no
    /// stored rollup yet).
    fn save_rollup(
        &self,
        key: &RollupKey,
        rollup: &MinuteRollup,
        expected: Option<u64>,
        expires_at: DateTime<Utc>,
    ) -> impl Future<Output = Result<SaveOutcome, StoreError>> + Send;
}

#[derive(Debug, Clone)]
pub struct AggregateConfig {
    /// Rollup lifetime (`ttl` = now + this).
    pub rollup_ttl: Duration,
    /// Rollup items per site and minute; visitors are spread over them by their id.
    pub shards: u8,
    /// Conditional-write attempts per rollup before the records are reported as failed.
    pub max_attempts: u32,
}

impl Default for AggregateConfig {
    fn default() -> Self {
        Self {
            rollup_ttl: Duration::from_secs(2100),
            shards: 1,
            max_attempts: 8,
        }
    }
}

/// The shard of a visitor: visitor ids are uniformly distributed hex, so their first byte spreads them.
pub fn shard_of(visitor: &str, shards: u8) -> u8 {
    if shards <= 1 {
        return 0;
    }
    let first_byte = visitor
        .get(..2)
        .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        .unwrap_or(0);
    first_byte % shards
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct BatchReport {
    /// Rollup items written.
    pub writes: usize,
    /// For each rollup whose write failed, its records' lowest sequence number. Lambda retries the batch
    /// from the lowest of these.
    pub failed: Vec<SequenceNumber>,
}

/// Folds a batch: at most one write per rollup item. `batch` spans every record of the delivered batch,
/// including any that were not events.
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
            shard: shard_of(&record.event.visitor, config.shards),
        };
        groups.entry(key).or_default().push(record);
    }
    let expires_at = now + config.rollup_ttl;
    for (key, mut group) in groups {
        group.sort_by(|a, b| a.sequence.cmp(&b.sequence));
        match fold_group(store, config, &key, batch, &group, expires_at).await {
            Ok(wrote) => report.writes += usize::from(wrote),
            Err(err) => {
                tracing::warn!(site = %key.site, minute = %key.minute, shard = key.shard, error = %err,
                    source = ?std::error::Error::source(&err), "rollup write failed; its records will be retried");
                report.failed.push(group[0].sequence.clone());
            }
        }
    }
    report
}

/// Read, fold what is new, write conditionally; on conflict, again from the read.
async fn fold_group<S: RollupStore>(
    store: &S,
    config: &AggregateConfig,
    key: &RollupKey,
    batch: &SequenceRange,
    group: &[StreamEvent],
    expires_at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    for _ in 0..config.max_attempts {
        let stored = store.load_rollup(key).await?;
        let expected = stored.as_ref().map(|rollup| rollup.version);
        let mut rollup = stored.unwrap_or_default();
        let fresh: Vec<&StreamEvent> = group.iter().filter(|r| !rollup.has_applied(&r.sequence)).collect();
        if fresh.is_empty() {
            return Ok(false);
        }
        for record in fresh {
            rollup.apply(&record.event);
        }
        rollup.mark_applied(batch);
        rollup.version += 1;
        match store.save_rollup(key, &rollup, expected, expires_at).await? {
            SaveOutcome::Saved => return Ok(true),
            SaveOutcome::Conflict => continue,
        }
    }
    Err(StoreError::Unavailable(
        "rollup kept changing under concurrent writers".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_spread_by_the_visitor_id() {
        assert_eq!(shard_of("ff00", 1), 0);
        assert_eq!(shard_of("ff00", 4), 255 % 4);
        assert_eq!(shard_of("0a00", 4), 10 % 4);
        assert_eq!(shard_of("", 4), 0);
    }
}
