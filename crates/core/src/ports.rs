//! Store ports: the narrow interfaces the use cases need. Adapters implement them (DynamoDB in
//! `pulse-dynamodb`; an in-memory one for unit tests behind the `memory-store` feature).

use std::future::Future;

use chrono::{DateTime, NaiveDate, Utc};

use crate::enrich::Salt;
use crate::event::StoredEvent;
use crate::realtime::{Minute, MinuteRollup};
use crate::site::{Site, SiteId};

pub use crate::realtime::aggregate::RollupStore;

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

pub trait RealtimeStore: Send + Sync {
    /// Every rollup item of `site` from minute `first` through `last`, all shards.
    fn rollups(
        &self,
        site: &SiteId,
        first: Minute,
        last: Minute,
    ) -> impl Future<Output = Result<Vec<(Minute, MinuteRollup)>, StoreError>> + Send;

    /// The newest `limit` page views and the newest `limit` other events received at or after `since`
    /// (up to `2 * limit` events, in any order).
    fn recent_events(
        &self,
        site: &SiteId,
        since: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<StoredEvent>, StoreError>> + Send;
}
