//! The collect use case: one tracker hit in, at most one stored event out.

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

use crate::enrich::{self, Salt};
use crate::event::{EventDetail, EventId, StoredEvent};
use crate::hit::{HitError, MAX_BODY_BYTES, ParsedHit, ValidHit};
use crate::origin::DeclaredOrigin;
use crate::ports::{EventStore, PutOutcome, SaltStore, SiteDirectory, StoreError};
use crate::rate::{RateCounter, SiteRateLimiter, Verdict};
use crate::realtime::Fingerprint;
use crate::site::Site;
use crate::site_cache::SiteCache;

/// The template's `SiteHitRateLimit`: a fifth of the HTTP route's default throttle, so that a site
/// flooded at several times its limit leaves room for every other.
pub const DEFAULT_SITE_HIT_RATE_LIMIT: u32 = 200;

#[derive(Debug, Clone)]
pub struct CollectConfig {
    /// How long raw events live (`ttl` attribute).
    pub raw_event_ttl: Duration,
    /// Most hits a second stored for one site, across all instances (`SITE_HIT_RATE_LIMIT`); `None`: no
    /// limit. See [`crate::rate`].
    pub site_hit_rate_limit: Option<u32>,
}

impl Default for CollectConfig {
    fn default() -> Self {
        Self {
            raw_event_ttl: Duration::from_secs(86_400),
            site_hit_rate_limit: Some(DEFAULT_SITE_HIT_RATE_LIMIT),
        }
    }
}

/// What the handler knows about the request besides its body.
#[derive(Debug, Clone)]
pub struct CollectRequest<'a> {
    pub body: &'a [u8],
    pub user_agent: &'a str,
    /// The client's address, from a trusted source (never a client-settable header).
    pub client_ip: IpAddr,
    /// Value of the CDN's viewer-country header, if any.
    pub country: Option<&'a str>,
    /// The request's Referer, else its Origin: the page of a hit sent without `u`.
    pub page_header: Option<&'a str>,
    /// The page the browser says the hit comes from (`Origin`, else `Referer`); it must be one of the
    /// site's, whatever `u` says, or any page could make its visitors post hits for any site.
    pub declared_origin: DeclaredOrigin<'a>,
    pub received_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Collected {
    Stored(EventId),
    /// A retry of an event already stored.
    Duplicate,
    /// Dropped on purpose: a bot or headless browser.
    Bot,
    /// Accepted and not stored: a kind of hit the product does not support (heatmaps).
    Unsupported,
}

#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error(transparent)]
    Invalid(#[from] HitError),
    #[error("body is larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    #[error("unknown site")]
    UnknownSite,
    #[error("the page's hostname is not allowed for this site")]
    HostNotAllowed,
    #[error("the sending page's origin is not one of the site's domains")]
    OriginNotAllowed,
    #[error("the site has sent more hits this second than it may")]
    RateLimited,
    #[error("could not store the event")]
    Store(#[from] StoreError),
}

pub struct Collector<S> {
    store: S,
    config: CollectConfig,
    sites: SiteCache,
    salt: Mutex<Option<(NaiveDate, Salt)>>,
    rate: SiteRateLimiter,
}

impl<S: SiteDirectory + SaltStore + EventStore + RateCounter> Collector<S> {
    pub fn new(store: S, sites: SiteCache, config: CollectConfig) -> Self {
        Self {
            store,
            rate: SiteRateLimiter::new(config.site_hit_rate_limit),
            config,
            sites,
            salt: Mutex::default(),
        }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub async fn collect(&self, request: CollectRequest<'_>) -> Result<Collected, CollectError> {
        if request.body.len() > MAX_BODY_BYTES {
            return Err(CollectError::TooLarge);
        }
        let hit = match ParsedHit::parse(request.body, request.page_header)? {
            ParsedHit::Track(hit) => hit,
            ParsedHit::Heatmap => return Ok(Collected::Unsupported),
        };
        // Before any lookup: bots cost no reads.
        let Some(user_agent) = enrich::classify_user_agent(request.user_agent) else {
            return Ok(Collected::Bot);
        };
        let site = self
            .sites
            .get(&self.store, &hit.site)
            .await?
            .ok_or(CollectError::UnknownSite)?;
        if let Some(declared_host) = request.declared_origin.host()
            && !declared_host.is_some_and(|host| site.allows_host(&host))
        {
            return Err(CollectError::OriginNotAllowed);
        }
        let page_host = hit.url.host_str().unwrap_or_default();
        if !site.allows_host(page_host) {
            return Err(CollectError::HostNotAllowed);
        }
        // Last of the checks, so that only hits that would be stored spend the site's allowance.
        let spreads = site.spreads.current(request.received_at);
        let verdict = self
            .rate
            .admit(&self.store, &site.id, spreads, request.received_at)
            .await;
        if verdict == Verdict::Limited {
            return Err(CollectError::RateLimited);
        }
        let salt = self.salt(request.received_at.date_naive()).await?;
        let mut event = enrich_hit(hit, &site, &request, user_agent, &salt);
        // Matched here, once, so the fold and the feed never need the goal definitions.
        event.goals = crate::goal::conversions(&site.goals, &event);
        let expires_at = request.received_at + self.config.raw_event_ttl;
        match self.store.put_event(&event, expires_at).await? {
            PutOutcome::Stored => Ok(Collected::Stored(event.id)),
            PutOutcome::Duplicate => Ok(Collected::Duplicate),
        }
    }

    async fn salt(&self, day: NaiveDate) -> Result<Salt, StoreError> {
        if let Some((cached_day, salt)) = &*self.salt.lock().expect("salt cache lock")
            && *cached_day == day
        {
            return Ok(salt.clone());
        }
        let salt = self.store.daily_salt(day).await?;
        *self.salt.lock().expect("salt cache lock") = Some((day, salt.clone()));
        Ok(salt)
    }
}

/// Builds the stored event from a validated hit: pure, no I/O.
pub fn enrich_hit(
    hit: ValidHit,
    site: &Site,
    request: &CollectRequest<'_>,
    ua: enrich::UserAgentInfo,
    salt: &Salt,
) -> StoredEvent {
    let page_host = hit.url.host_str().unwrap_or_default().trim_end_matches('.').to_owned();
    let referrer = enrich::referrer_host(hit.referrer.as_ref(), |host| {
        host == page_host || site.allows_host(host)
    });
    let campaign = enrich::campaign(&hit.url);
    let id = hit.client_id.as_deref().and_then(EventId::parse);
    let mut event = StoredEvent {
        visitor: enrich::visitor_id(salt, site.id.as_str(), request.client_ip, request.user_agent),
        site: hit.site,
        detail: match hit.detail {
            EventDetail::Outbound { url } => EventDetail::Outbound {
                url: enrich::outbound_url(&url, site.keep_outbound_query),
            },
            detail => detail,
        },
        client_id: id.is_some(),
        id: id.unwrap_or_else(EventId::random),
        ts: request.received_at,
        sid: hit.session_id,
        path: if hit.path_known {
            hit.url.path().to_owned()
        } else {
            String::new()
        },
        host: page_host,
        title: hit.title,
        referrer,
        utm_source: campaign.source,
        utm_medium: campaign.medium,
        utm_campaign: campaign.campaign,
        device: ua.device.to_owned(),
        browser: ua.browser,
        os: ua.os,
        country: enrich::country(request.country),
        sw: hit.screen_width,
        sh: hit.screen_height,
        props: hit.props,
        goals: Vec::new(),
        fingerprint: None,
        spread: Default::default(),
    };
    // Keyed with the day's salt, which only collect reads: the aggregate uses the stored value and
    // never needs the key. A retry of the hit lands on the existing item and writes nothing, so an
    // item's fingerprint is the one computed when it was first written, whatever day the retry comes.
    event.fingerprint = Some(Fingerprint::keyed(&salt.fingerprint_key(), &event));
    event.spread = site.spreads.of(&event);
    event
}
