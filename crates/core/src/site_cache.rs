//! Site lookups cached in a warm function.
//!
//! Sites that exist are cached for `ttl`. An id not cached is looked up in a directory of every
//! registered site id, loaded with one Query of the registry at most once per `unknown_ttl`, and only
//! when such an id is asked for: an id missing from it is unknown without a read, so a flood of made-up
//! ids costs one Query per `unknown_ttl`, not a read each. A site created after the directory was loaded
//! is found once it is reloaded, within `unknown_ttl`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::ports::{SiteDirectory, StoreError};
use crate::site::{Site, SiteId};

/// At most this many sites are remembered, so that a warm function's memory stays bounded however many
/// sites it serves.
const MAX_CACHED: usize = 10_000;

/// How long a warm function trusts its directory of site ids, which answers made-up ids without a read
/// each: short, so that a site created right after a stray request starts working quickly.
pub const UNKNOWN_SITE_TTL: Duration = Duration::from_secs(10);

pub struct SiteCache {
    known: Mutex<Bounded<SiteId, (Instant, Site)>>,
    /// Held while the directory loads, so that requests arriving meanwhile wait for that one Query
    /// instead of each making their own.
    directory: tokio::sync::Mutex<Option<Directory>>,
    ttl: Duration,
    unknown_ttl: Duration,
}

/// Every registered site id, as of `loaded_at` (when the Query started: a site created while it ran
/// may be missing, and is found by the next load).
struct Directory {
    loaded_at: Instant,
    ids: HashSet<SiteId>,
}

impl SiteCache {
    /// `ttl` for sites that exist; `unknown_ttl`, shorter, for the directory of site ids, which is how
    /// long an id can be answered as unknown after its site was created.
    /// The functions' cache: `ttl` for sites (`SITE_CACHE_SECONDS`), [`UNKNOWN_SITE_TTL`] for the
    /// directory.
    pub fn trusting(ttl: Duration) -> Self {
        Self::new(ttl, UNKNOWN_SITE_TTL)
    }

    pub fn new(ttl: Duration, unknown_ttl: Duration) -> Self {
        Self {
            known: Mutex::new(Bounded::new(MAX_CACHED)),
            directory: tokio::sync::Mutex::new(None),
            ttl,
            unknown_ttl,
        }
    }

    pub async fn get<S: SiteDirectory>(&self, store: &S, id: &SiteId) -> Result<Option<Site>, StoreError> {
        let cached = self.known.lock().expect("site cache lock").get(id).cloned();
        match cached {
            Some((fetched_at, site)) if fetched_at.elapsed() < self.ttl => return Ok(Some(site)),
            // Known to exist: read again as before, the directory would not spare the read.
            Some(_) => return self.fetch(store, id).await,
            None => {}
        }
        {
            let mut directory = self.directory.lock().await;
            let fresh = directory
                .as_ref()
                .is_some_and(|directory| directory.loaded_at.elapsed() < self.unknown_ttl);
            if !fresh {
                let loaded_at = Instant::now();
                let ids = store.site_ids().await?.into_iter().collect();
                *directory = Some(Directory { loaded_at, ids });
            }
            if !directory.as_ref().is_some_and(|directory| directory.ids.contains(id)) {
                return Ok(None);
            }
        }
        self.fetch(store, id).await
    }

    /// Reads the site and caches what was found.
    async fn fetch<S: SiteDirectory>(&self, store: &S, id: &SiteId) -> Result<Option<Site>, StoreError> {
        let site = store.find_site(id).await?;
        match &site {
            Some(site) => {
                self.known
                    .lock()
                    .expect("site cache lock")
                    .insert(id.clone(), (Instant::now(), site.clone()));
            }
            None => {
                // Deleted: neither cached nor read again before the directory is reloaded.
                self.known.lock().expect("site cache lock").remove(id);
                if let Some(directory) = self.directory.lock().await.as_mut() {
                    directory.ids.remove(id);
                }
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

    /// A registry that counts the reads that reach it.
    #[derive(Default)]
    struct Registry {
        sites: Mutex<HashMap<SiteId, Site>>,
        gets: AtomicUsize,
        queries: AtomicUsize,
    }

    impl Registry {
        fn with(ids: &[&str]) -> Self {
            let registry = Self::default();
            for id in ids {
                registry.create(id);
            }
            registry
        }

        fn create(&self, id: &str) {
            let site = Site::new(
                SiteId::parse(id).unwrap(),
                vec!["example.com".into()],
                TokenHash::of("t"),
            )
            .public(true);
            self.sites.lock().unwrap().insert(site.id.clone(), site);
        }

        fn reads(&self) -> (usize, usize) {
            (self.queries.load(Ordering::Relaxed), self.gets.load(Ordering::Relaxed))
        }
    }

    impl SiteDirectory for Registry {
        async fn find_site(&self, id: &SiteId) -> Result<Option<Site>, StoreError> {
            self.gets.fetch_add(1, Ordering::Relaxed);
            Ok(self.sites.lock().unwrap().get(id).cloned())
        }

        async fn site_ids(&self) -> Result<Vec<SiteId>, StoreError> {
            self.queries.fetch_add(1, Ordering::Relaxed);
            // A Query takes a while: concurrent requests must wait for it, not start their own.
            tokio::task::yield_now().await;
            Ok(self.sites.lock().unwrap().keys().cloned().collect())
        }
    }

    fn id(raw: &str) -> SiteId {
        SiteId::parse(raw).unwrap()
    }

    #[tokio::test]
    async fn made_up_ids_cost_one_directory_query_and_no_get() {
        let registry = Registry::with(&["real", "other"]);
        let cache = SiteCache::new(Duration::from_secs(60), Duration::from_secs(10));
        for i in 0..1_000 {
            assert!(cache.get(&registry, &id(&format!("x{i}"))).await.unwrap().is_none());
        }
        assert_eq!(registry.reads(), (1, 0), "one directory Query, no GetItem");
        // Made-up ids at once wait for the same Query.
        let fresh = SiteCache::new(Duration::from_secs(60), Duration::from_secs(10));
        let lookups: Vec<SiteId> = (0..100).map(|i| id(&format!("y{i}"))).collect();
        let answers = futures::future::join_all(lookups.iter().map(|made_up| fresh.get(&registry, made_up))).await;
        assert!(answers.into_iter().all(|answer| answer.unwrap().is_none()));
        assert_eq!(registry.reads(), (2, 0));
        // A real site is read once, then served from the cache; the directory is not loaded again.
        assert!(cache.get(&registry, &id("real")).await.unwrap().is_some());
        assert!(cache.get(&registry, &id("real")).await.unwrap().is_some());
        assert_eq!(registry.reads(), (2, 1));
    }

    #[tokio::test]
    async fn a_site_created_after_the_directory_was_loaded_is_found_within_the_unknown_ttl() {
        let unknown_ttl = Duration::from_millis(300);
        let registry = Registry::with(&["real"]);
        let cache = SiteCache::new(Duration::from_secs(60), unknown_ttl);
        assert!(cache.get(&registry, &id("new")).await.unwrap().is_none());
        let loaded = Instant::now();
        registry.create("new");
        // Until the directory is reloaded, the new id is answered from it, without a read.
        assert!(cache.get(&registry, &id("new")).await.unwrap().is_none());
        assert_eq!(registry.reads(), (1, 0));
        tokio::time::sleep(unknown_ttl.saturating_sub(loaded.elapsed())).await;
        assert!(cache.get(&registry, &id("new")).await.unwrap().is_some());
        assert_eq!(registry.reads(), (2, 1));
        // A deleted site is read once more when its cache entry expires, then answered unknown.
        let short = SiteCache::new(Duration::from_millis(1), Duration::from_secs(10));
        assert!(short.get(&registry, &id("real")).await.unwrap().is_some());
        registry.sites.lock().unwrap().remove(&id("real"));
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(short.get(&registry, &id("real")).await.unwrap().is_none());
        assert!(short.get(&registry, &id("real")).await.unwrap().is_none());
        assert_eq!(registry.reads(), (3, 3));
    }

    #[tokio::test]
    async fn a_flood_of_made_up_ids_never_pushes_the_real_site_out() {
        let registry = Registry::with(&["real"]);
        let cache = SiteCache::new(Duration::from_secs(60), Duration::from_secs(10));
        assert!(cache.get(&registry, &id("real")).await.unwrap().is_some());
        for i in 0..(MAX_CACHED + 5_000) {
            assert!(cache.get(&registry, &id(&format!("x{i}"))).await.unwrap().is_none());
        }
        assert!(cache.get(&registry, &id("real")).await.unwrap().is_some());
        assert_eq!(registry.reads(), (1, 1), "the real site is still cached");
        // Nothing is remembered per made-up id.
        assert_eq!(cache.known.lock().unwrap().entries.len(), 1);
    }
}
