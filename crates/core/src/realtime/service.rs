//! The realtime query use case: authorise, read the window, build the view.

use chrono::{DateTime, Utc};

use super::view::{RealtimeParams, RealtimeView, Window, build_view};
use crate::ports::{RealtimeStore, SiteDirectory, StoreError};
use crate::site::SiteId;
use crate::site_cache::SiteCache;

#[derive(Debug, thiserror::Error)]
pub enum RealtimeError {
    #[error("unknown site")]
    UnknownSite,
    #[error("a valid bearer token for this site is required")]
    Unauthorized,
    #[error("could not read the realtime data")]
    Store(#[from] StoreError),
}

pub struct RealtimeService<S> {
    store: S,
    sites: SiteCache,
}

impl<S: SiteDirectory + RealtimeStore> RealtimeService<S> {
    pub fn new(store: S, sites: SiteCache) -> Self {
        Self { store, sites }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// Reads cost, per spread of the site, one Query over the window's rollup items and, when the feed
    /// is asked for, four Queries of at most `params.events` raw events each (per kind, the table and
    /// its feed index): never proportional to page views.
    pub async fn view(
        &self,
        site_id: &SiteId,
        bearer_token: Option<&str>,
        params: &RealtimeParams,
        now: DateTime<Utc>,
    ) -> Result<RealtimeView, RealtimeError> {
        let site = self
            .sites
            .get(&self.store, site_id)
            .await?
            .ok_or(RealtimeError::UnknownSite)?;
        if !site.readable_with(bearer_token) {
            return Err(RealtimeError::Unauthorized);
        }
        let window = Window::ending_at(now, params.minutes);
        let spreads = site.spreads.in_use();
        let rollups = self.store.rollups(&site.id, &spreads, window.first, window.last);
        let recent = async {
            match params.events {
                0 => Ok(Vec::new()),
                limit => {
                    self.store
                        .recent_events(&site.id, &spreads, window.starts_at(), limit)
                        .await
                }
            }
        };
        let (rollups, recent) = tokio::join!(rollups, recent);
        Ok(build_view(&site.id, params, now, rollups?, &recent?))
    }
}
