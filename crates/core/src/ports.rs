//! Store ports: the narrow interfaces the use cases need. Adapters implement them (DynamoDB in
//! `pulse-dynamodb`; an in-memory one for unit tests behind the `memory-store` feature).

use std::future::Future;

use chrono::{DateTime, NaiveDate, Utc};

use crate::enrich::Salt;
use crate::event::StoredEvent;
use crate::site::{Site, SiteId};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store could not be reached or refused the request (throttling, network, timeouts). Retrying
    /// later can succeed.
    #[error("the store is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// An item exists but does not have the expected shape.
    #[error("stored item is malformed: {0}")]
    Malformed(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    Stored,
    /// The event's client id was already stored for this site: nothing new was written.
    Duplicate,
}

pub trait SiteDirectory: Send + Sync {
    fn find_site(
        &self,
        id: &SiteId,
    ) -> impl Future<Output = Result<Option<Site>, StoreError>> + Send;
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
