//! `$connect`'s use case: who may open a live dashboard of a site, and how many may at once.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::live::{Admission, ConnectionId, ConnectionStore};
use crate::ports::{SiteDirectory, StoreError};
use crate::site::SiteId;
use crate::site_cache::SiteCache;

/// API Gateway closes a WebSocket after 2 hours; the items outlive that a little, then TTL removes any
/// that `$disconnect` missed.
pub const CONNECTION_TTL: Duration = Duration::from_secs(2 * 3600 + 600);

/// What a connection attempt came to. An unknown site and a missing or wrong token are the same
/// answer, so site ids cannot be probed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectOutcome {
    Admitted,
    Unauthorized,
    /// The site holds its cap of dashboards already.
    Full,
}

pub struct DashboardAdmission<S> {
    store: S,
    sites: SiteCache,
    max_connections_per_site: usize,
}

impl<S: SiteDirectory + ConnectionStore> DashboardAdmission<S> {
    pub fn new(store: S, sites: SiteCache, max_connections_per_site: usize) -> Self {
        Self {
            store,
            sites,
            max_connections_per_site,
        }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// The site and token checks ([`crate::Site::readable_with`], as for the realtime API), then the
    /// connection's items under the site's cap.
    pub async fn admit(
        &self,
        site_id: &SiteId,
        token: Option<&str>,
        connection: &ConnectionId,
        now: DateTime<Utc>,
    ) -> Result<ConnectOutcome, StoreError> {
        // The cache answers made-up ids without a read; a site that exists is read afresh, so a token
        // rotated a moment ago is refused (and its successor accepted) at once, not after the cache's TTL.
        if self.sites.get(&self.store, site_id).await?.is_none() {
            return Ok(ConnectOutcome::Unauthorized);
        }
        let Some(site) = self.store.find_site(site_id).await? else {
            return Ok(ConnectOutcome::Unauthorized);
        };
        if !site.readable_with(token) {
            return Ok(ConnectOutcome::Unauthorized);
        }
        // Kept with the connection so that a rotation closes exactly the dashboards of the old token.
        let admitted_with = token
            .filter(|token| site.token_hash.verifies(token))
            .map(|_| site.token_hash.clone());
        let recorded = self
            .store
            .add_connection(
                &site.id,
                connection,
                admitted_with.as_ref(),
                self.max_connections_per_site,
                now + CONNECTION_TTL,
            )
            .await?;
        Ok(match recorded {
            Admission::Admitted => ConnectOutcome::Admitted,
            Admission::Full => ConnectOutcome::Full,
        })
    }
}
