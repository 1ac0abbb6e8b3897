//! Ports: every interface the use cases need from the outside, in one place. Adapters implement them
//! (DynamoDB and the management API in `pulse-dynamodb`; an in-memory store for unit tests behind the
//! `memory-store` feature).

use std::future::Future;

use chrono::{DateTime, NaiveDate, Utc};

use crate::enrich::Salt;
use crate::event::StoredEvent;
use crate::live::{Admission, ConnectionId, LiveConnection, SendError};
use crate::realtime::aggregate::{RollupKey, SaveOutcome};
use crate::realtime::bucket::FingerprintBucket;
use crate::realtime::{Minute, MinuteRollup};
use crate::realtime::{MinuteCounts, VisitorPart};
use crate::site::{Site, SiteId, TokenHash};
use crate::spread::Spread;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store could not be reached or refused the request (throttling, network, timeouts). Retrying
    /// later can succeed.
    #[error("the store is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The store refused the request as invalid (an item over DynamoDB's size limit, for one): retrying
    /// the same request fails the same way.
    #[error("the store refused the request")]
    Rejected(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The caller's permissions do not allow the request (IAM's AccessDenied, an unknown or expired
    /// key): a deployment fault that retrying cannot fix, so it is never treated as transient.
    #[error("the store denied the request: the function's permissions do not allow it")]
    Denied(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// An item exists but does not have the expected shape.
    #[error("stored item is malformed: {0}")]
    Malformed(String),
}

impl StoreError {
    /// Whether the same request may succeed later.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    Stored,
    /// The event's client id was already stored for this site: nothing new was written.
    Duplicate,
}

pub trait SiteDirectory: Send + Sync {
    /// One site, read consistently.
    fn find_site(&self, id: &SiteId) -> impl Future<Output = Result<Option<Site>, StoreError>> + Send;

    /// The ids of every registered site, read consistently: one Query of the registry (paginated),
    /// keys only. Lets a cache answer made-up ids without a read each (see [`SiteCache`]).
    ///
    /// [`SiteCache`]: crate::site_cache::SiteCache
    fn site_ids(&self) -> impl Future<Output = Result<Vec<SiteId>, StoreError>> + Send;
}

pub trait SaltStore: Send + Sync {
    /// The salt for `day`, created if it does not exist yet. Concurrent callers on the same day must all
    /// get the same salt.
    fn daily_salt(&self, day: NaiveDate) -> impl Future<Output = Result<Salt, StoreError>> + Send;
}

pub trait EventStore: Send + Sync {
    /// Stores one event in a single write request. An event with a client id that was already stored for
    /// its site is a [`PutOutcome::Duplicate`].
    fn put_event(
        &self,
        event: &StoredEvent,
        expires_at: DateTime<Utc>,
    ) -> impl Future<Output = Result<PutOutcome, StoreError>> + Send;
}

/// The realtime view's reads. `spreads` are the site's spreads to read ([`crate::spread::Spreads::in_use`]).
pub trait RealtimeStore: Send + Sync {
    /// Every rollup item of `site` from minute `first` through `last`, of every spread in `spreads`:
    /// one entry per spread and minute stored.
    fn rollups(
        &self,
        site: &SiteId,
        spreads: &[Spread],
        first: Minute,
        last: Minute,
    ) -> impl Future<Output = Result<Vec<(Minute, MinuteRollup)>, StoreError>> + Send;

    /// The newest `limit` page views and the newest `limit` other events received at or after `since`,
    /// over all of `spreads` (up to `2 * limit` events, in any order).
    fn recent_events(
        &self,
        site: &SiteId,
        spreads: &[Spread],
        since: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<StoredEvent>, StoreError>> + Send;
}

/// The fold's store ([`crate::realtime::aggregate`]): a minute's rollup items, written conditionally on
/// the version read.
pub trait RollupStore: Send + Sync {
    /// The minute's counts and all its visitor parts (one Query); `None` when nothing is stored yet.
    /// Never the fingerprint buckets: the realtime view reads the same items.
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

    /// The minute's fingerprint bucket `index` (a consistent read); `None` when it was never written.
    fn load_bucket(
        &self,
        key: &RollupKey,
        index: u8,
    ) -> impl Future<Output = Result<Option<FingerprintBucket>, StoreError>> + Send;

    /// Writes bucket `index`, conditional like [`save_part`](Self::save_part) on its totals' version.
    fn save_bucket(
        &self,
        key: &RollupKey,
        index: u8,
        bucket: &FingerprintBucket,
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

/// Per-site hit counters ([`crate::rate`]).
pub trait RateCounter: Send + Sync {
    /// Adds `tokens` to `site`'s counter for `second` (Unix seconds) if the total stays within `limit`;
    /// `false` (and nothing added) otherwise.
    fn claim(
        &self,
        site: &SiteId,
        second: i64,
        tokens: u32,
        limit: u32,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// Dashboard connections ([`crate::live`], [`crate::admission`]).
pub trait ConnectionStore: Send + Sync {
    /// Records a dashboard connection to `site`, findable both by site and by connection id, unless the
    /// site already holds `cap` of them: exact under concurrent connects (never count-then-write).
    fn add_connection(
        &self,
        site: &SiteId,
        connection: &ConnectionId,
        admitted_with: Option<&TokenHash>,
        cap: usize,
        expires_at: chrono::DateTime<chrono::Utc>,
    ) -> impl Future<Output = Result<Admission, StoreError>> + Send;

    /// Removes a connection's items, if any: idempotent.
    fn remove_connection(&self, connection: &ConnectionId) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every connection of a site (one paginated Query).
    fn site_connections(&self, site: &SiteId) -> impl Future<Output = Result<Vec<LiveConnection>, StoreError>> + Send;
}

/// A store shared by two apps (`$connect` and `$disconnect` on one store, in tests) is a store.
impl<T: ConnectionStore> ConnectionStore for &T {
    fn add_connection(
        &self,
        site: &SiteId,
        connection: &ConnectionId,
        admitted_with: Option<&TokenHash>,
        cap: usize,
        expires_at: chrono::DateTime<chrono::Utc>,
    ) -> impl Future<Output = Result<Admission, StoreError>> + Send {
        (**self).add_connection(site, connection, admitted_with, cap, expires_at)
    }

    fn remove_connection(&self, connection: &ConnectionId) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).remove_connection(connection)
    }

    fn site_connections(&self, site: &SiteId) -> impl Future<Output = Result<Vec<LiveConnection>, StoreError>> + Send {
        (**self).site_connections(site)
    }
}

/// Delivers one message to one connection (API Gateway's `@connections` API).
pub trait ConnectionSender: Send + Sync {
    fn send(&self, connection: &ConnectionId, message: &[u8]) -> impl Future<Output = Result<(), SendError>> + Send;
}

/// Closes connections from the server side (API Gateway's `DeleteConnection`).
pub trait ConnectionCloser: Send + Sync {
    /// `Err(SendError::Gone)` when the connection was closed already.
    fn close(&self, connection: &ConnectionId) -> impl Future<Output = Result<(), SendError>> + Send;
}
