//! A rollup store that forwards every call to another, with hooks around each: the one decorator the
//! tests and benches build their faults, pauses, stale reads and item sizing from, instead of each
//! forwarding every method itself.

use std::future::Future;

use chrono::{DateTime, Utc};

use crate::ports::{RollupStore, StoreError};
use crate::realtime::aggregate::{RollupKey, SaveOutcome};
use crate::realtime::bucket::FingerprintBucket;
use crate::realtime::{MinuteCounts, MinuteRollup, VisitorPart};

/// One call to a [`RollupStore`], with what it carries.
#[derive(Debug, Clone, Copy)]
pub enum RollupCall<'a> {
    LoadMinute {
        key: &'a RollupKey,
    },
    SavePart {
        key: &'a RollupKey,
        index: usize,
        part: &'a VisitorPart,
        expires_at: DateTime<Utc>,
    },
    LoadBucket {
        key: &'a RollupKey,
        index: u8,
    },
    SaveBucket {
        key: &'a RollupKey,
        index: u8,
        bucket: &'a FingerprintBucket,
        expires_at: DateTime<Utc>,
    },
    SaveCounts {
        key: &'a RollupKey,
        counts: &'a MinuteCounts,
        expires_at: DateTime<Utc>,
    },
}

impl RollupCall<'_> {
    pub fn key(&self) -> &RollupKey {
        match self {
            Self::LoadMinute { key }
            | Self::SavePart { key, .. }
            | Self::LoadBucket { key, .. }
            | Self::SaveBucket { key, .. }
            | Self::SaveCounts { key, .. } => key,
        }
    }

    pub fn is_write(&self) -> bool {
        matches!(
            self,
            Self::SavePart { .. } | Self::SaveBucket { .. } | Self::SaveCounts { .. }
        )
    }
}

/// What happens around each call. Every hook does nothing by default.
pub trait RollupHooks: Send + Sync {
    /// Before the call reaches the store: an error is answered in its place (an injected fault), and
    /// the future may wait (to let concurrent folds interleave).
    fn before(&self, _call: &RollupCall<'_>) -> impl Future<Output = Result<(), StoreError>> + Send {
        std::future::ready(Ok(()))
    }

    /// A bucket to answer `load_bucket` with in place of the store's (a stale read); `None`: the store's.
    fn bucket_instead(&self, _key: &RollupKey, _index: u8) -> Option<Option<FingerprintBucket>> {
        None
    }

    /// After the store answered a write.
    fn after_write(&self, _call: &RollupCall<'_>, _outcome: SaveOutcome) {}
}

/// `store`, with `hooks` around every call.
pub struct HookedRollups<S, H> {
    pub store: S,
    pub hooks: H,
}

impl<S: RollupStore, H: RollupHooks> HookedRollups<S, H> {
    pub fn new(store: S, hooks: H) -> Self {
        Self { store, hooks }
    }

    async fn write(
        &self,
        call: RollupCall<'_>,
        write: impl Future<Output = Result<SaveOutcome, StoreError>>,
    ) -> Result<SaveOutcome, StoreError> {
        self.hooks.before(&call).await?;
        let outcome = write.await?;
        self.hooks.after_write(&call, outcome);
        Ok(outcome)
    }
}

impl<S: RollupStore, H: RollupHooks> RollupStore for HookedRollups<S, H> {
    async fn load_minute(&self, key: &RollupKey) -> Result<Option<MinuteRollup>, StoreError> {
        self.hooks.before(&RollupCall::LoadMinute { key }).await?;
        self.store.load_minute(key).await
    }

    async fn save_part(
        &self,
        key: &RollupKey,
        index: usize,
        part: &VisitorPart,
        expected: Option<u64>,
        expires_at: DateTime<Utc>,
    ) -> Result<SaveOutcome, StoreError> {
        let call = RollupCall::SavePart {
            key,
            index,
            part,
            expires_at,
        };
        self.write(call, self.store.save_part(key, index, part, expected, expires_at))
            .await
    }

    async fn load_bucket(&self, key: &RollupKey, index: u8) -> Result<Option<FingerprintBucket>, StoreError> {
        self.hooks.before(&RollupCall::LoadBucket { key, index }).await?;
        match self.hooks.bucket_instead(key, index) {
            Some(bucket) => Ok(bucket),
            None => self.store.load_bucket(key, index).await,
        }
    }

    async fn save_bucket(
        &self,
        key: &RollupKey,
        index: u8,
        bucket: &FingerprintBucket,
        expected: Option<u64>,
        expires_at: DateTime<Utc>,
    ) -> Result<SaveOutcome, StoreError> {
        let call = RollupCall::SaveBucket {
            key,
            index,
            bucket,
            expires_at,
        };
        self.write(call, self.store.save_bucket(key, index, bucket, expected, expires_at))
            .await
    }

    async fn save_counts(
        &self,
        key: &RollupKey,
        counts: &MinuteCounts,
        expected: Option<u64>,
        expires_at: DateTime<Utc>,
    ) -> Result<SaveOutcome, StoreError> {
        let call = RollupCall::SaveCounts {
            key,
            counts,
            expires_at,
        };
        self.write(call, self.store.save_counts(key, counts, expected, expires_at))
            .await
    }
}
