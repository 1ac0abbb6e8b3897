//! Ending dashboards that their site no longer admits. A WebSocket is authorised once, at `$connect`,
//! so rotating a site's token or deleting the site must close the connections made with the old one.

use crate::live::{ConnectionCloser, ConnectionStore, LiveConnection, SendError};
use crate::ports::StoreError;
use crate::site::{Site, SiteId};

#[derive(Debug, thiserror::Error)]
pub enum DisconnectError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("a connection could not be closed: {0}")]
    Close(String),
}

impl LiveConnection {
    /// Whether `site` as it stands now (`None`: deleted) still admits this connection: a public site
    /// admits every reader, a private one only those who presented its current token.
    pub fn still_admitted_by(&self, site: Option<&Site>) -> bool {
        site.is_some_and(|site| site.public || self.admitted_with.as_ref() == Some(&site.token_hash))
    }
}

/// Closes every open dashboard of a site and forgets it. Returns how many were open. A close that
/// fails for another reason than `Gone` is an error: the caller must not claim the dashboards are gone.
pub async fn disconnect_site<S: ConnectionStore, C: ConnectionCloser>(
    store: &S,
    closer: &C,
    site: &SiteId,
) -> Result<usize, DisconnectError> {
    close_where(store, closer, site, |_| true).await
}

/// Closes the dashboards of `site_id` that `site` (its registry entry as it is now; `None` once deleted)
/// no longer admits, and forgets them. Returns how many were closed.
pub async fn revoke_stale_connections<S: ConnectionStore, C: ConnectionCloser>(
    store: &S,
    closer: &C,
    site_id: &SiteId,
    site: Option<&Site>,
) -> Result<usize, DisconnectError> {
    close_where(store, closer, site_id, |connection| !connection.still_admitted_by(site)).await
}

async fn close_where<S: ConnectionStore, C: ConnectionCloser>(
    store: &S,
    closer: &C,
    site: &SiteId,
    stale: impl Fn(&LiveConnection) -> bool,
) -> Result<usize, DisconnectError> {
    let mut closed = 0;
    for connection in store.site_connections(site).await?.iter().filter(|c| stale(c)) {
        match closer.close(&connection.id).await {
            Ok(()) | Err(SendError::Gone) => {}
            Err(SendError::Throttled) => return Err(DisconnectError::Close("throttled".into())),
            Err(SendError::Failed(reason)) => return Err(DisconnectError::Close(reason)),
        }
        store.remove_connection(&connection.id).await?;
        closed += 1;
    }
    Ok(closed)
}

#[cfg(test)]
mod tests {
    use crate::live::ConnectionId;
    use crate::site::TokenHash;

    use super::*;

    fn site(public: bool, token: &str) -> Site {
        Site::new(
            SiteId::parse("demo").unwrap(),
            vec!["example.com".into()],
            TokenHash::of(token),
        )
        .public(public)
    }

    #[test]
    fn a_connection_lives_only_as_long_as_its_token_does() {
        let with = |token: Option<&str>| LiveConnection {
            id: ConnectionId::parse("c1").unwrap(),
            admitted_with: token.map(TokenHash::of),
        };
        assert!(with(Some("old")).still_admitted_by(Some(&site(false, "old"))));
        assert!(
            !with(Some("old")).still_admitted_by(Some(&site(false, "new"))),
            "rotated"
        );
        assert!(!with(Some("old")).still_admitted_by(None), "site deleted");
        assert!(
            !with(None).still_admitted_by(Some(&site(false, "new"))),
            "no longer public"
        );
        assert!(
            with(None).still_admitted_by(Some(&site(true, "new"))),
            "public: anyone reads"
        );
        assert!(!with(None).still_admitted_by(None));
    }
}
