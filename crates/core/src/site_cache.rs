//! Site lookups cached in a warm function.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::ports::{SiteDirectory, StoreError};
use crate::site::{Site, SiteId};

/// At most this many sites, and separately this many unknown ids, are remembered: a flood of made-up
/// site ids can neither grow a warm function's memory without bound nor push the real sites out.
const MAX_CACHED: usize = 10_000;

pub struct SiteCache {
    known: Mutex<Bounded<SiteId, (Instant, Site)>>,
    unknown: Mutex<Bounded<SiteId, Instant>>,
    ttl: Duration,
    unknown_ttl: Duration,
}

impl SiteCache {
    /// `ttl` for sites that exist; `unknown_ttl`, shorter, for ids that do not, so that a site created
    /// right after a stray request starts working quickly.
    pub fn new(ttl: Duration, unknown_ttl: Duration) -> Self {
        Self {
            known: Mutex::new(Bounded::new(MAX_CACHED)),
            unknown: Mutex::new(Bounded::new(MAX_CACHED)),
            ttl,
            unknown_ttl,
        }
    }

    pub async fn get<S: SiteDirectory>(&self, store: &S, id: &SiteId) -> Result<Option<Site>, StoreError> {
        if let Some((fetched_at, site)) = self.known.lock().expect("site cache lock").get(id)
            && fetched_at.elapsed() < self.ttl
        {
            return Ok(Some(site.clone()));
        }
        if let Some(fetched_at) = self.unknown.lock().expect("site cache lock").get(id)
            && fetched_at.elapsed() < self.unknown_ttl
        {
            return Ok(None);
        }
        let site = store.find_site(id).await?;
        let now = Instant::now();
        match &site {
            Some(site) => {
                self.unknown.lock().expect("site cache lock").remove(id);
                self.known
                    .lock()
                    .expect("site cache lock")
                    .insert(id.clone(), (now, site.clone()));
            }
            None => {
                self.known.lock().expect("site cache lock").remove(id);
                self.unknown.lock().expect("site cache lock").insert(id.clone(), now);
            }
        }
        Ok(site)
    }
}

/// A map of at most `capacity` entries that, when full, drops the entry first inserted longest ago.
struct Bounded<K, V> {
    entries: HashMap<K, V>,
    order: VecDeque<K>,
    capacity: usize,
}

impl<K: Hash + Eq + Clone, V> Bounded<K, V> {
    fn new(capacity: usize) -> Self {
        Self {
            entries: HashMap::new(),
            order: VecDeque::new(),
            capacity,
        }
    }

    fn get(&self, key: &K) -> Option<&V> {
        self.entries.get(key)
    }

    /// A refreshed entry keeps its place: reordering would cost a scan on every refresh, and a flood
    /// refreshes often.
    fn insert(&mut self, key: K, value: V) {
        if self.entries.insert(key.clone(), value).is_none() {
            self.order.push_back(key);
        }
        while self.entries.len() > self.capacity {
            let Some(oldest) = self.order.pop_front() else { break };
            self.entries.remove(&oldest);
        }
    }

    /// Rare (a site created or deleted while cached), so a scan is fine.
    fn remove(&mut self, key: &K) {
        if self.entries.remove(key).is_some() {
            self.order.retain(|k| k != key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::site::TokenHash;

    /// One real site; counts the lookups that reach the store.
    struct Registry {
        lookups: AtomicUsize,
    }

    impl SiteDirectory for Registry {
        async fn find_site(&self, id: &SiteId) -> Result<Option<Site>, StoreError> {
            self.lookups.fetch_add(1, Ordering::Relaxed);
            Ok((id.as_str() == "real").then(|| Site {
                id: id.clone(),
                domains: vec!["example.com".into()],
                public: true,
                token_hash: TokenHash::of("t"),
                goals: Vec::new(),
                keep_outbound_query: false,
            }))
        }
    }

    #[tokio::test]
    async fn a_flood_of_made_up_ids_never_pushes_the_real_site_out() {
        let registry = Registry {
            lookups: AtomicUsize::new(0),
        };
        let cache = SiteCache::new(Duration::from_secs(60), Duration::from_secs(10));
        let real = SiteId::parse("real").unwrap();
        assert!(cache.get(&registry, &real).await.unwrap().is_some());
        for i in 0..(MAX_CACHED + 5_000) {
            let made_up = SiteId::parse(&format!("x{i}")).unwrap();
            assert!(cache.get(&registry, &made_up).await.unwrap().is_none());
        }
        let before = registry.lookups.load(Ordering::Relaxed);
        assert!(cache.get(&registry, &real).await.unwrap().is_some());
        assert_eq!(
            registry.lookups.load(Ordering::Relaxed),
            before,
            "the real site is still cached"
        );
        // Memory stays bounded: the oldest made-up ids were dropped, the newest are still known.
        assert_eq!(cache.unknown.lock().unwrap().entries.len(), MAX_CACHED);
        let newest = SiteId::parse(&format!("x{}", MAX_CACHED + 4_999)).unwrap();
        assert!(cache.get(&registry, &newest).await.unwrap().is_none());
        assert_eq!(registry.lookups.load(Ordering::Relaxed), before);
        let oldest = SiteId::parse("x0").unwrap();
        assert!(cache.get(&registry, &oldest).await.unwrap().is_none());
        assert_eq!(
            registry.lookups.load(Ordering::Relaxed),
            before + 1,
            "evicted, so read again"
        );
    }
}
