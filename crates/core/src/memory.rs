//! An in-memory store for unit tests and benchmarks of the pure logic. Not for production: it holds
//! everything in one process.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use chrono::{DateTime, NaiveDate, Utc};

use crate::enrich::Salt;
use crate::event::StoredEvent;
use crate::ports::{EventStore, PutOutcome, SaltStore, SiteDirectory, StoreError};
use crate::site::{Site, SiteId};

#[derive(Default)]
pub struct MemoryStore {
    pub sites: Mutex<HashMap<SiteId, Site>>,
    pub salts: Mutex<HashMap<NaiveDate, Salt>>,
    pub events: Mutex<Vec<StoredEvent>>,
    client_ids: Mutex<HashSet<(SiteId, String)>>,
    /// When set, every call fails as an unreachable store would.
    pub unavailable: std::sync::atomic::AtomicBool,
    /// When set, stored events are dropped instead of kept (a sink for benchmarks).
    pub discard_events: bool,
}

impl MemoryStore {
    pub fn with_site(site: Site) -> Self {
        let store = Self::default();
        store.sites.lock().unwrap().insert(site.id.clone(), site);
        store
    }

    fn check_available(&self) -> Result<(), StoreError> {
        if self.unavailable.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(StoreError::Unavailable("memory store switched off".into()));
        }
        Ok(())
    }
}

impl SiteDirectory for MemoryStore {
    async fn find_site(&self, id: &SiteId) -> Result<Option<Site>, StoreError> {
        self.check_available()?;
        Ok(self.sites.lock().unwrap().get(id).cloned())
    }
}

impl SaltStore for MemoryStore {
    async fn daily_salt(&self, day: NaiveDate) -> Result<Salt, StoreError> {
        self.check_available()?;
        Ok(self
            .salts
            .lock()
            .unwrap()
            .entry(day)
            .or_insert_with(Salt::random)
            .clone())
    }
}

impl EventStore for MemoryStore {
    async fn put_event(
        &self,
        event: &StoredEvent,
        _expires_at: DateTime<Utc>,
    ) -> Result<PutOutcome, StoreError> {
        self.check_available()?;
        if event.client_id
            && !self
                .client_ids
                .lock()
                .unwrap()
                .insert((event.site.clone(), event.id.to_string()))
        {
            return Ok(PutOutcome::Duplicate);
        }
        if !self.discard_events {
            self.events.lock().unwrap().push(event.clone());
        }
        Ok(PutOutcome::Stored)
    }
}
