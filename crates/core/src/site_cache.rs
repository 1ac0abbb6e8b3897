//! Site lookups cached in a warm function.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::ports::{SiteDirectory, StoreError};
use crate::site::{Site, SiteId};

/// Above this many cached lookups the cache is emptied, so a flood of made-up site ids cannot grow a
/// warm function's memory without bound.
const MAX_CACHED_SITES: usize = 10_000;

pub struct SiteCache {
    entries: Mutex<HashMap<SiteId, (Instant, Option<Site>)>>,
    ttl: Duration,
    unknown_ttl: Duration,
}

impl SiteCache {
    /// `ttl` for sites that exist; `unknown_ttl`, shorter, for ids that do not, so that a site created
    /// right after a stray request starts working quickly.
    pub fn new(ttl: Duration, unknown_ttl: Duration) -> Self {
        Self {
            entries: Mutex::default(),
            ttl,
            unknown_ttl,
        }
    }

    pub async fn get<S: SiteDirectory>(&self, store: &S, id: &SiteId) -> Result<Option<Site>, StoreError> {
        if let Some((fetched_at, site)) = self.entries.lock().expect("site cache lock").get(id) {
            let ttl = if site.is_some() { self.ttl } else { self.unknown_ttl };
            if fetched_at.elapsed() < ttl {
                return Ok(site.clone());
            }
        }
        let site = store.find_site(id).await?;
        let mut entries = self.entries.lock().expect("site cache lock");
        if entries.len() >= MAX_CACHED_SITES {
            entries.clear();
        }
        entries.insert(id.clone(), (Instant::now(), site.clone()));
        Ok(site)
    }
}
