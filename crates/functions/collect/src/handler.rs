use std::net::{IpAddr, Ipv4Addr};

use chrono::Utc;
use lambda_http::http::{HeaderMap, Method, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Error, Request, RequestExt, Response};
use pulse_core::origin::{DeclaredOrigin, OriginSecret};
use pulse_core::rate::RateCounter;
use pulse_core::site_cache::SiteCache;
use pulse_core::time::RequestBudget;
use pulse_core::{CollectError, CollectRequest, Collected, Collector, EventStore, SaltStore, SiteDirectory};
use pulse_dynamodb::DynamoStore;
use pulse_lambda::metrics::Metrics;
use pulse_lambda::{ConfigError, Environment};

use pulse_http as response;

use crate::config::Config;

/// Everything the handler needs, built once per cold start.
pub struct CollectApp<S> {
    pub collector: Collector<S>,
    origin_verify_secret: Option<OriginSecret>,
    request_budget: RequestBudget,
}

impl<S: SiteDirectory + SaltStore + EventStore + RateCounter> CollectApp<S> {
    pub fn new(store: S, config: &Config) -> Self {
        Self {
            collector: Collector::new(
                store,
                SiteCache::trusting(config.site_cache_ttl),
                config.collect.clone(),
            ),
            origin_verify_secret: config.origin_verify_secret.clone(),
            request_budget: config.request_budget,
        }
    }
}

impl pulse_lambda::FunctionApp for CollectApp<DynamoStore> {
    async fn build(environment: &Environment<'_>) -> Result<Self, ConfigError> {
        let config = Config::from_lookup(environment.lookup())?;
        Ok(Self::new(environment.store(&config.tables).await, &config))
    }
}

/// `POST /collect`. Never an `Err` for anything a client can send: every outcome is a response.
pub async fn function_handler<S>(app: &CollectApp<S>, request: Request) -> Result<Response<Body>, Error>
where
    S: SiteDirectory + SaltStore + EventStore + RateCounter,
{
    // With the secret configured, only what came through the CDN is served (its cache and WAF apply).
    if let Some(refused) = response::refusal_around_the_cdn(app.origin_verify_secret.as_ref(), request.headers()) {
        return Ok(refused);
    }
    match *request.method() {
        Method::POST => {}
        Method::OPTIONS => return Ok(response::preflight("POST, OPTIONS", "Content-Type")),
        _ => return Ok(response::method_not_allowed("POST, OPTIONS")),
    }
    if !acceptable_content_type(request.headers()) {
        return Ok(response::error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the body as application/json or text/plain",
            Some("content-type"),
        ));
    }

    let headers = request.headers();
    // Past that check, a configured secret proves the request came through the CDN, so its viewer
    // address is trusted. Without a secret, a CDN in front (Cloudflare, or CloudFront set up by hand) is
    // trusted for the country only: the address stays API Gateway's own view of the caller.
    let client_ip = client_ip(&request, app.origin_verify_secret.is_some());
    let country = header_str(headers, "cloudfront-viewer-country").or_else(|| header_str(headers, "cf-ipcountry"));

    let budget = app
        .request_budget
        .before(response::deadline(request.lambda_context_ref()));
    let collecting = app.collector.collect(CollectRequest {
        body: request.body().as_ref(),
        user_agent: header_str(headers, "user-agent").unwrap_or_default(),
        client_ip,
        country,
        page_header: header_str(headers, "referer").or_else(|| header_str(headers, "origin")),
        declared_origin: DeclaredOrigin {
            origin: header_str(headers, "origin"),
            referer: header_str(headers, "referer"),
        },
        received_at: Utc::now(),
    });
    let outcome = tokio::time::timeout(budget, collecting).await;
    Metrics::new("collect").add(outcome_metric(&outcome), 1).emit();
    Ok(match outcome {
        Ok(Ok(Collected::Stored(_) | Collected::Duplicate | Collected::Bot | Collected::Unsupported)) => {
            response::no_content()
        }
        Ok(Err(err)) => error_response(&err),
        Err(_) => {
            // The store is slow; a write may still land, and the tracker's retry is deduplicated.
            tracing::warn!(
                budget_ms = budget.as_millis() as u64,
                "hit not stored within its budget; answering 503"
            );
            response::temporarily_unavailable()
        }
    })
}

/// The metric a hit's outcome counts in (CloudWatch, namespace `Pulse`).
fn outcome_metric<E>(outcome: &Result<Result<Collected, CollectError>, E>) -> &'static str {
    match outcome {
        Ok(Ok(Collected::Stored(_))) => "HitsAccepted",
        Ok(Ok(Collected::Duplicate)) => "HitsDuplicate",
        Ok(Ok(Collected::Bot)) => "HitsDroppedBot",
        Ok(Ok(Collected::Unsupported)) => "HitsDroppedUnsupported",
        Ok(Err(CollectError::UnknownSite)) => "HitsDroppedUnknownSite",
        Ok(Err(CollectError::HostNotAllowed)) => "HitsDroppedForeignHost",
        Ok(Err(CollectError::OriginNotAllowed)) => "HitsDroppedForeignOrigin",
        Ok(Err(CollectError::RateLimited)) => "HitsRateLimited",
        Ok(Err(CollectError::Invalid(_) | CollectError::TooLarge)) => "HitsInvalid",
        Ok(Err(CollectError::Store(_))) | Err(_) => "HitsStoreFailed",
    }
}

fn error_response(err: &CollectError) -> Response<Body> {
    match err {
        CollectError::Invalid(invalid) => {
            response::error(StatusCode::BAD_REQUEST, &invalid.message, invalid.field.as_deref())
        }
        CollectError::TooLarge => response::error(StatusCode::PAYLOAD_TOO_LARGE, &err.to_string(), None),
        CollectError::UnknownSite => response::error(StatusCode::NOT_FOUND, "unknown site", Some("s")),
        CollectError::HostNotAllowed => response::error(
            StatusCode::FORBIDDEN,
            "the page's hostname is not allowed for this site",
            Some("u"),
        ),
        CollectError::OriginNotAllowed => response::error(
            StatusCode::FORBIDDEN,
            "hits from a browser are accepted only from the site's own pages (Origin or Referer)",
            Some("origin"),
        ),
        CollectError::RateLimited => {
            response::rate_limited("this site has sent more hits this second than it may; retry after a moment")
        }
        CollectError::Store(store) => response::store_failed(store, store.is_transient()),
    }
}

/// `navigator.sendBeacon` with a string sends `text/plain`; a missing type is tolerated for simple clients.
fn acceptable_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return true;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json") || essence.eq_ignore_ascii_case("text/plain")
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The client's IP from API Gateway's request context, which a client cannot forge. Behind CloudFront
/// that is CloudFront's address, so for requests proven to come through it the viewer address header
/// (`ip:port`, set by CloudFront itself) is used instead.
fn client_ip(request: &Request, via_cloudfront: bool) -> IpAddr {
    // CloudFront's viewer address, or Cloudflare's CF-Connecting-IP when Cloudflare is the CDN that adds
    // the secret header (a Transform Rule): trusted under the same proof.
    let viewer_ip = via_cloudfront
        .then(|| {
            header_str(request.headers(), "cloudfront-viewer-address")
                .and_then(parse_viewer_address)
                .or_else(|| header_str(request.headers(), "cf-connecting-ip").and_then(|ip| ip.parse().ok()))
        })
        .flatten();
    if let Some(ip) = viewer_ip {
        return ip;
    }
    let source_ip = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.http.source_ip.as_deref(),
        _ => None,
    };
    source_ip.and_then(|ip| ip.parse().ok()).unwrap_or_else(|| {
        tracing::warn!("request context has no usable source IP");
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    })
}

/// `203.0.113.7:46532` or `2001:db8::1:46532` (IPv6 without brackets): the port is after the last colon.
fn parse_viewer_address(value: &str) -> Option<IpAddr> {
    let (ip, _port) = value.rsplit_once(':')?;
    ip.trim_start_matches('[').trim_end_matches(']').parse().ok()
}

#[cfg(test)]
mod tests;
