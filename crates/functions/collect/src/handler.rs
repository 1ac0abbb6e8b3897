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
mod tests {
    use std::sync::atomic::Ordering;

    use pulse_core::goal::{Goal, GoalName, GoalRule};
    use pulse_core::memory::MemoryStore;
    use pulse_core::{EventDetail, EventKind, PropValue, Site, SiteId, TokenHash};

    use pulse_core::origin::ORIGIN_VERIFY_HEADER;

    use super::*;

    fn fixture(json: &str) -> Request {
        lambda_http::request::from_str(json).expect("fixture is an API Gateway HTTP API v2 event")
    }

    fn app(secret: Option<&str>) -> CollectApp<MemoryStore> {
        let site = Site {
            id: SiteId::parse("demo").unwrap(),
            domains: vec!["localhost".into(), "example.com".into()],
            public: false,
            token_hash: TokenHash::of("token"),
            goals: vec![
                Goal {
                    name: GoalName::parse("signup").unwrap(),
                    rule: GoalRule::Page {
                        path: "/signup/done".into(),
                    },
                    value: Some(10.0),
                },
                Goal {
                    name: GoalName::parse("pro plan").unwrap(),
                    rule: GoalRule::Event {
                        name: "button_click".into(),
                        property: Some(("plan".into(), "pro".into())),
                    },
                    value: Some(10.0),
                },
            ],
            keep_outbound_query: false,
        };
        let config = Config::from_lookup(|name| match name {
            "TABLE_NAME" => Some("t".into()),
            "ORIGIN_VERIFY_SECRET" => secret.map(str::to_owned),
            _ => None,
        })
        .unwrap();
        CollectApp::new(MemoryStore::with_site(site), &config)
    }

    async fn run(app: &CollectApp<MemoryStore>, request: Request) -> (StatusCode, serde_json::Value) {
        let response = function_handler(app, request).await.expect("handler answers");
        let status = response.status();
        let body = match response.body() {
            Body::Text(text) => serde_json::from_str(text).expect("error bodies are JSON"),
            _ => serde_json::Value::Null,
        };
        (status, body)
    }

    fn stored(app: &CollectApp<MemoryStore>) -> Vec<pulse_core::StoredEvent> {
        app.collector.store().events.lock().unwrap().clone()
    }

    #[tokio::test]
    async fn pageview_is_enriched_and_stored() {
        let app = app(None);
        let (status, _) = run(&app, fixture(include_str!("../../../../events/collect/pageview.json"))).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let events = stored(&app);
        assert_eq!(events.len(), 1);
        let event = &events[0];
        assert_eq!(event.detail, EventDetail::Pageview);
        assert_eq!(event.path, "/pricing");
        assert_eq!(event.host, "localhost");
        assert_eq!(event.referrer.as_deref(), Some("news.ycombinator.com"));
        assert_eq!(event.utm_source.as_deref(), Some("hn"));
        assert_eq!(event.country.as_deref(), Some("DE"));
        assert_eq!(event.device, "desktop");
        assert_eq!(event.browser.as_deref(), Some("Firefox"));
        assert_eq!(event.title.as_deref(), Some("Pricing"));
        assert_eq!(event.visitor.len(), 32);
    }

    #[tokio::test]
    async fn custom_event_keeps_name_value_and_props() {
        let app = app(None);
        let (status, _) = run(&app, fixture(include_str!("../../../../events/collect/event.json"))).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let event = stored(&app).pop().unwrap();
        assert_eq!(
            event.detail,
            EventDetail::Event {
                name: "signup".into(),
                value: Some(49.0)
            }
        );
        assert_eq!(event.props.get("plan"), Some(&PropValue::Text("pro".into())));
    }

    #[tokio::test]
    async fn outbound_click_keeps_the_link() {
        let app = app(None);
        let (status, _) = run(&app, fixture(include_str!("../../../../events/collect/outbound.json"))).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let event = stored(&app).pop().unwrap();
        assert_eq!(
            event.detail,
            EventDetail::Outbound {
                url: "https://github.com/example/repo".into()
            }
        );
    }

    /// What ts-analytics' trackers send, unchanged (`events/collect/ts-analytics/`): each shape is stored as
    /// the kind it means, heatmap hits are accepted and dropped.
    #[tokio::test]
    async fn ts_analytics_tracker_shapes_are_accepted() {
        let cases: [(&str, Option<(EventKind, &str)>); 7] = [
            (
                include_str!("../../../../events/collect/ts-analytics/minimal-pageview.json"),
                Some((EventKind::Pageview, "/pricing")),
            ),
            (
                include_str!("../../../../events/collect/ts-analytics/full-pageview.json"),
                Some((EventKind::Pageview, "/docs")),
            ),
            (
                include_str!("../../../../events/collect/ts-analytics/event.json"),
                Some((EventKind::Event, "/pricing")),
            ),
            (
                include_str!("../../../../events/collect/ts-analytics/outbound-click.json"),
                Some((EventKind::Outbound, "/docs")),
            ),
            (
                include_str!("../../../../events/collect/ts-analytics/engagement.json"),
                Some((EventKind::Event, "/docs")),
            ),
            (
                include_str!("../../../../events/collect/ts-analytics/gtag-event.json"),
                Some((EventKind::Event, "/checkout")),
            ),
            (
                include_str!("../../../../events/collect/ts-analytics/heatmap.json"),
                None,
            ),
        ];
        for (json, expected) in cases {
            let app = app(None);
            let (status, body) = run(&app, fixture(json)).await;
            assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
            let stored = stored(&app);
            match expected {
                None => assert!(stored.is_empty()),
                Some((kind, path)) => {
                    assert_eq!(stored.len(), 1);
                    assert_eq!((stored[0].kind(), stored[0].path.as_str()), (kind, path));
                }
            }
        }
        let app = app(None);
        run(
            &app,
            fixture(include_str!("../../../../events/collect/ts-analytics/event.json")),
        )
        .await;
        let event = stored(&app).pop().unwrap();
        assert_eq!((event.name(), event.value()), (Some("signup"), Some(10.0)));
        assert_eq!(event.props.get("category"), Some(&PropValue::Text("forms".into())));
        run(
            &app,
            fixture(include_str!(
                "../../../../events/collect/ts-analytics/outbound-click.json"
            )),
        )
        .await;
        let click = stored(&app).pop().unwrap();
        assert_eq!(
            click.detail,
            EventDetail::Outbound {
                url: "https://github.com/example/repo".into()
            }
        );
    }

    /// Goals are matched when the hit is collected and recorded on the stored event; an event's own value
    /// wins over the goal's fixed one; a retry of the same id is not stored, so it never converts twice.
    #[tokio::test]
    async fn goals_are_matched_at_ingest() {
        let app = app(None);
        let pageview = include_str!("../../../../events/collect/goal-pageview.json");
        for _ in 0..2 {
            assert_eq!(run(&app, fixture(pageview)).await.0, StatusCode::NO_CONTENT);
        }
        assert_eq!(
            run(
                &app,
                fixture(include_str!("../../../../events/collect/goal-event.json"))
            )
            .await
            .0,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            run(&app, fixture(include_str!("../../../../events/collect/event.json")))
                .await
                .0,
            StatusCode::NO_CONTENT
        );
        let events = stored(&app);
        assert_eq!(events.len(), 3, "the retried page view is stored once");
        let goals = |event: &pulse_core::StoredEvent| -> Vec<(String, Option<f64>)> {
            event
                .goals
                .iter()
                .map(|hit| (hit.goal.to_string(), hit.value))
                .collect()
        };
        assert_eq!(goals(&events[0]), [("signup".to_owned(), Some(10.0))]);
        assert_eq!(goals(&events[1]), [("pro plan".to_owned(), Some(49.0))]);
        assert!(
            goals(&events[2]).is_empty(),
            "signup event with plan=pro is not a button_click"
        );
    }

    #[tokio::test]
    async fn beacon_text_plain_body_is_accepted() {
        let app = app(None);
        let (status, _) = run(
            &app,
            fixture(include_str!("../../../../events/collect/beacon-text-plain.json")),
        )
        .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(stored(&app).len(), 1);
    }

    #[tokio::test]
    async fn bot_is_dropped_silently() {
        let app = app(None);
        let (status, _) = run(&app, fixture(include_str!("../../../../events/collect/bot.json"))).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert!(stored(&app).is_empty());
    }

    #[tokio::test]
    async fn invalid_site_id_is_a_400_naming_s() {
        let app = app(None);
        let (status, body) = run(
            &app,
            fixture(include_str!("../../../../events/collect/invalid-site-id.json")),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["field"], "s");
        assert!(stored(&app).is_empty());
    }

    #[tokio::test]
    async fn non_json_body_is_a_400() {
        let app = app(None);
        let (status, body) = run(&app, fixture(include_str!("../../../../events/collect/not-json.json"))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"], "body is not valid JSON");
        assert_eq!(body["field"], serde_json::Value::Null);
    }

    #[tokio::test]
    async fn foreign_hostname_is_a_403() {
        let app = app(None);
        let (status, body) = run(
            &app,
            fixture(include_str!("../../../../events/collect/foreign-host.json")),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body["field"], "u");
    }

    /// A browser on another site's page (its `Origin`) cannot post hits for this site by naming one of
    /// this site's pages in `u`; the beacon's `Referer` is held to the same rule, and a sender that
    /// declares neither (a server) is held to `u` alone.
    #[tokio::test]
    async fn a_foreign_origin_is_a_403_whatever_u_says() {
        let app = app(None);
        let forged = include_str!("../../../../events/collect/forged-origin.json");
        let (status, body) = run(&app, fixture(forged)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body["field"], "origin");

        let with_headers = |origin: Option<&str>, referer: Option<&str>| {
            let mut request = fixture(forged);
            let headers = request.headers_mut();
            headers.remove("origin");
            for (name, value) in [("origin", origin), ("referer", referer)] {
                if let Some(value) = value {
                    headers.insert(name, value.parse().unwrap());
                }
            }
            request
        };
        let cases = [
            (None, Some("https://evil.example/page"), StatusCode::FORBIDDEN),
            (Some("null"), None, StatusCode::FORBIDDEN),
            (
                Some("https://blog.example.com"),
                Some("https://evil.example/"),
                StatusCode::NO_CONTENT,
            ),
            (None, Some("https://example.com/pricing"), StatusCode::NO_CONTENT),
            (None, None, StatusCode::NO_CONTENT),
        ];
        for (origin, referer, expected) in cases {
            let (status, _) = run(&app, with_headers(origin, referer)).await;
            assert_eq!(status, expected, "Origin {origin:?}, Referer {referer:?}");
        }
        assert_eq!(stored(&app).len(), 3, "only the accepted hits were stored");
    }

    #[tokio::test]
    async fn preflight_allows_any_origin_to_post() {
        let app = app(None);
        let response = function_handler(&app, fixture(include_str!("../../../../events/collect/preflight.json")))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert_eq!(response.headers()["access-control-allow-origin"], "*");
        assert_eq!(response.headers()["access-control-allow-methods"], "POST, OPTIONS");
        assert_eq!(response.headers()["access-control-max-age"], "86400");
    }

    #[tokio::test]
    async fn other_methods_are_405() {
        let app = app(None);
        let response = function_handler(
            &app,
            fixture(include_str!("../../../../events/collect/wrong-method.json")),
        )
        .await
        .unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()["allow"], "POST, OPTIONS");
    }

    #[tokio::test]
    async fn store_failure_is_a_503_with_retry_after() {
        let app = app(None);
        app.collector.store().unavailable.store(true, Ordering::Relaxed);
        let response = function_handler(&app, fixture(include_str!("../../../../events/collect/pageview.json")))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()["retry-after"], "5");
    }

    /// With the secret configured, only requests carrying it are served: a direct call to API Gateway
    /// (around CloudFront and its WAF) is a 403 and stores nothing; a proven one is keyed by CloudFront's
    /// viewer address, which in this fixture equals the direct fixture's source IP.
    #[tokio::test]
    async fn with_the_origin_secret_only_cdn_requests_are_served() {
        let via_cloudfront = include_str!("../../../../events/collect/via-cloudfront.json");
        let direct = include_str!("../../../../events/collect/pageview.json");
        let trusted = app(Some("s3cret-s3cret-s3cret-s3cret-s3cret"));
        assert_eq!(run(&trusted, fixture(via_cloudfront)).await.0, StatusCode::NO_CONTENT);
        let (status, body) = run(&trusted, fixture(direct)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body["field"], ORIGIN_VERIFY_HEADER);
        let events = stored(&trusted);
        assert_eq!(events.len(), 1, "the direct hit stored nothing");
        assert_eq!(events[0].country.as_deref(), Some("FR"));

        // A guessed secret is as good as none.
        let other = app(Some("a-different-secret-a-different-secret"));
        assert_eq!(run(&other, fixture(via_cloudfront)).await.0, StatusCode::FORBIDDEN);
        assert!(stored(&other).is_empty());
    }

    #[test]
    fn viewer_addresses_parse_for_both_families() {
        assert_eq!(
            parse_viewer_address("203.0.113.7:46532"),
            Some("203.0.113.7".parse().unwrap())
        );
        assert_eq!(
            parse_viewer_address("2001:db8::1:46532"),
            Some("2001:db8::1".parse().unwrap())
        );
        assert_eq!(parse_viewer_address("garbage"), None);
    }

    #[test]
    fn each_outcome_counts_in_its_metric() {
        type Outcome = Result<Result<Collected, CollectError>, ()>;
        let cases: [(Outcome, &str); 6] = [
            (Ok(Ok(Collected::Duplicate)), "HitsDuplicate"),
            (Ok(Ok(Collected::Bot)), "HitsDroppedBot"),
            (Ok(Err(CollectError::UnknownSite)), "HitsDroppedUnknownSite"),
            (Ok(Err(CollectError::HostNotAllowed)), "HitsDroppedForeignHost"),
            (Ok(Err(CollectError::OriginNotAllowed)), "HitsDroppedForeignOrigin"),
            (Err(()), "HitsStoreFailed"),
        ];
        for (outcome, metric) in cases {
            assert_eq!(outcome_metric(&outcome), metric);
        }
    }

    /// Behind Cloudflare (which adds the secret header through a Transform Rule), CF-Connecting-IP and
    /// CF-IPCountry are trusted under the same proof; a guess of the secret is refused.
    #[tokio::test]
    async fn cloudflare_headers_are_trusted_only_with_the_origin_secret() {
        let secret = "s3cret-s3cret-s3cret-s3cret-s3cret";
        let through_cloudflare = |secret: &str| {
            let mut request = fixture(include_str!("../../../../events/collect/pageview.json"));
            let headers = request.headers_mut();
            headers.remove("cloudfront-viewer-country");
            headers.insert("cf-connecting-ip", "203.0.113.77".parse().unwrap());
            headers.insert("cf-ipcountry", "JP".parse().unwrap());
            headers.insert(ORIGIN_VERIFY_HEADER, secret.parse().unwrap());
            request
        };
        let app = app(Some(secret));
        assert_eq!(run(&app, through_cloudflare(secret)).await.0, StatusCode::NO_CONTENT);
        let guessed = through_cloudflare("a-forged-guess-a-forged-guess-xx");
        assert_eq!(run(&app, guessed).await.0, StatusCode::FORBIDDEN);
        let events = stored(&app);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].country.as_deref(), Some("JP"));

        // Without a secret, CF-Connecting-IP is not the visitor's address: two claims, one visitor.
        let no_secret = self::app(None);
        for claimed in ["203.0.113.77", "198.51.100.9"] {
            let mut request = fixture(include_str!("../../../../events/collect/pageview.json"));
            request
                .headers_mut()
                .insert("cf-connecting-ip", claimed.parse().unwrap());
            assert_eq!(run(&no_secret, request).await.0, StatusCode::NO_CONTENT);
        }
        let events = stored(&no_secret);
        assert_eq!(events[0].visitor, events[1].visitor);
    }
}
