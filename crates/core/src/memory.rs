//! An in-memory store for unit tests and benchmarks of the pure logic. Not for production: it holds
//! everything in one process.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use chrono::{DateTime, NaiveDate, Utc};

use crate::enrich::Salt;
use crate::event::StoredEvent;
use crate::live::{Admission, ConnectionId, ConnectionStore, LiveConnection};
use crate::ports::{EventStore, PutOutcome, RealtimeStore, SaltStore, SiteDirectory, StoreError};
use crate::realtime::aggregate::{RollupKey, RollupStore, SaveOutcome};
use crate::realtime::{FingerprintBucket, Minute, MinuteCounts, MinuteRollup, VisitorPart, bucket, codec};
use crate::site::{Site, SiteId};
use crate::spread::Spread;

#[derive(Default)]
pub struct MemoryStore {
    pub sites: Mutex<HashMap<SiteId, Site>>,
    pub salts: Mutex<HashMap<NaiveDate, Salt>>,
    pub events: Mutex<Vec<StoredEvent>>,
    pub rollups: Mutex<BTreeMap<RollupKey, MinuteRollup>>,
    /// Fingerprint buckets by minute and index: apart from `rollups`, as the realtime view never reads
    /// them.
    pub buckets: Mutex<BTreeMap<(RollupKey, u8), FingerprintBucket>>,
    /// Dashboard connections and their sites.
    pub connections: Mutex<BTreeMap<ConnectionId, SiteId>>,
    /// The token hash each connection was admitted with (absent: none, a public site's reader).
    pub admitted_with: Mutex<HashMap<ConnectionId, crate::site::TokenHash>>,
    /// Per-site, per-second hit counters ([`crate::rate`]).
    pub rate_counters: Mutex<HashMap<(SiteId, i64), u32>>,
    /// Rollup writes made, for tests that count them.
    pub rollup_writes: std::sync::atomic::AtomicUsize,
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

    async fn site_ids(&self) -> Result<Vec<SiteId>, StoreError> {
        self.check_available()?;
        Ok(self.sites.lock().unwrap().keys().cloned().collect())
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
    async fn put_event(&self, event: &StoredEvent, _expires_at: DateTime<Utc>) -> Result<PutOutcome, StoreError> {
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

impl RollupStore for MemoryStore {
    async fn load_minute(&self, key: &RollupKey) -> Result<Option<MinuteRollup>, StoreError> {
        self.check_available()?;
        Ok(self.rollups.lock().unwrap().get(key).cloned())
    }

    async fn save_part(
        &self,
        key: &RollupKey,
        index: usize,
        part: &VisitorPart,
        expected: Option<u64>,
        _expires_at: DateTime<Utc>,
    ) -> Result<SaveOutcome, StoreError> {
        self.check_available()?;
        let mut rollups = self.rollups.lock().unwrap();
        let parts = &mut rollups.entry(key.clone()).or_default().parts;
        let stored = parts.get(index).map(|p| p.version).filter(|&v| v > 0);
        if stored != expected {
            return Ok(SaveOutcome::Conflict);
        }
        if parts.len() <= index {
            parts.resize_with(index + 1, VisitorPart::default);
        }
        // Through the stored encoding, so tests of the fold and the view exercise it too.
        let decoded = codec::decode(&codec::encode(part, key.minute), key.minute).expect("an encoded part decodes");
        parts[index] = VisitorPart {
            version: part.version,
            ..decoded
        };
        self.rollup_writes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(SaveOutcome::Saved)
    }

    async fn load_bucket(&self, key: &RollupKey, index: u8) -> Result<Option<FingerprintBucket>, StoreError> {
        self.check_available()?;
        Ok(self.buckets.lock().unwrap().get(&(key.clone(), index)).cloned())
    }

    async fn save_bucket(
        &self,
        key: &RollupKey,
        index: u8,
        bucket: &FingerprintBucket,
        expected: Option<u64>,
        _expires_at: DateTime<Utc>,
    ) -> Result<SaveOutcome, StoreError> {
        self.check_available()?;
        let mut buckets = self.buckets.lock().unwrap();
        let slot = (key.clone(), index);
        let stored = buckets.get(&slot).map(|b| b.totals.version).filter(|&v| v > 0);
        if stored != expected {
            return Ok(SaveOutcome::Conflict);
        }
        // Through the stored encoding, as parts are.
        let fingerprints = bucket::decode_fingerprints(&bucket::encode_fingerprints(&bucket.fingerprints))
            .expect("encoded fingerprints decode");
        buckets.insert(
            slot,
            FingerprintBucket {
                fingerprints,
                totals: bucket.totals.clone(),
            },
        );
        self.rollup_writes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(SaveOutcome::Saved)
    }

    async fn save_counts(
        &self,
        key: &RollupKey,
        counts: &MinuteCounts,
        expected: Option<u64>,
        _expires_at: DateTime<Utc>,
    ) -> Result<SaveOutcome, StoreError> {
        self.check_available()?;
        let mut rollups = self.rollups.lock().unwrap();
        let stored = rollups.entry(key.clone()).or_default();
        if Some(stored.counts.version).filter(|&v| v > 0) != expected {
            return Ok(SaveOutcome::Conflict);
        }
        stored.counts = counts.clone();
        self.rollup_writes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(SaveOutcome::Saved)
    }
}

impl RealtimeStore for MemoryStore {
    async fn rollups(
        &self,
        site: &SiteId,
        spreads: &[Spread],
        first: Minute,
        last: Minute,
    ) -> Result<Vec<(Minute, MinuteRollup)>, StoreError> {
        self.check_available()?;
        let rollups = self.rollups.lock().unwrap();
        Ok(rollups
            .iter()
            .filter(|(key, _)| {
                &key.site == site && spreads.contains(&key.spread) && (first..=last).contains(&key.minute)
            })
            .map(|(key, rollup)| (key.minute, rollup.clone()))
            .collect())
    }

    async fn recent_events(
        &self,
        site: &SiteId,
        spreads: &[Spread],
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.check_available()?;
        let mut events: Vec<StoredEvent> = self
            .events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| &e.site == site && spreads.contains(&e.spread) && e.ts >= since)
            .cloned()
            .collect();
        events.sort_by(|a, b| (b.ts, b.id.as_str()).cmp(&(a.ts, a.id.as_str())));
        let (pageviews, others): (Vec<_>, Vec<_>) = events
            .into_iter()
            .partition(|e| e.kind() == crate::event::EventKind::Pageview);
        Ok(pageviews
            .into_iter()
            .take(limit)
            .chain(others.into_iter().take(limit))
            .collect())
    }
}

impl crate::rate::RateCounter for MemoryStore {
    async fn claim(&self, site: &SiteId, second: i64, tokens: u32, limit: u32) -> Result<bool, StoreError> {
        self.check_available()?;
        let mut used = self.rate_counters.lock().unwrap();
        let used = used.entry((site.clone(), second)).or_default();
        if *used + tokens > limit {
            return Ok(false);
        }
        *used += tokens;
        Ok(true)
    }
}

impl ConnectionStore for MemoryStore {
    async fn add_connection(
        &self,
        site: &SiteId,
        connection: &ConnectionId,
        admitted_with: Option<&crate::site::TokenHash>,
        cap: usize,
        _expires_at: DateTime<Utc>,
    ) -> Result<Admission, StoreError> {
        self.check_available()?;
        // Counted and written under one lock: the cap is exact, as the DynamoDB adapter's slots make it.
        let mut connections = self.connections.lock().unwrap();
        if connections.values().filter(|s| *s == site).count() >= cap {
            return Ok(Admission::Full);
        }
        connections.insert(connection.clone(), site.clone());
        if let Some(hash) = admitted_with {
            self.admitted_with
                .lock()
                .unwrap()
                .insert(connection.clone(), hash.clone());
        }
        Ok(Admission::Admitted)
    }

    async fn remove_connection(&self, connection: &ConnectionId) -> Result<(), StoreError> {
        self.check_available()?;
        self.connections.lock().unwrap().remove(connection);
        self.admitted_with.lock().unwrap().remove(connection);
        Ok(())
    }

    async fn site_connections(&self, site: &SiteId) -> Result<Vec<LiveConnection>, StoreError> {
        self.check_available()?;
        let connections = self.connections.lock().unwrap();
        let admitted_with = self.admitted_with.lock().unwrap();
        Ok(connections
            .iter()
            .filter(|(_, s)| *s == site)
            .map(|(id, _)| LiveConnection {
                id: id.clone(),
                admitted_with: admitted_with.get(id).cloned(),
            })
            .collect())
    }
}

/// A page view, custom event or outbound click of site `demo` with the fields each kind needs and nothing
/// else: a starting point for tests, which set what they care about.
pub fn sample_event(kind: crate::EventKind, id: &str, ts: DateTime<Utc>) -> StoredEvent {
    use crate::EventKind;
    StoredEvent {
        site: SiteId::parse("demo").expect("valid site id"),
        detail: match kind {
            EventKind::Pageview => crate::EventDetail::Pageview,
            EventKind::Event => crate::EventDetail::Event {
                name: "signup".into(),
                value: None,
            },
            EventKind::Outbound => crate::EventDetail::Outbound {
                url: "https://github.com/".into(),
            },
        },
        id: crate::EventId::parse(id).expect("valid event id"),
        ts,
        visitor: "0".repeat(32),
        sid: None,
        host: "example.com".into(),
        path: "/".into(),
        title: None,
        referrer: None,
        utm_source: None,
        utm_medium: None,
        utm_campaign: None,
        device: "desktop".into(),
        browser: None,
        os: None,
        country: None,
        sw: None,
        sh: None,
        props: Default::default(),
        client_id: false,
        goals: Vec::new(),
        fingerprint: None,
        spread: Default::default(),
    }
}
