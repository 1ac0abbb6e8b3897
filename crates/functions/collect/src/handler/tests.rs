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
    let site = Site::new(
        SiteId::parse("demo").unwrap(),
        vec!["localhost".into(), "example.com".into()],
        TokenHash::of("token"),
    )
    .with_goals(vec![
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
    ]);
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
    let (status, _) = run(&app, fixture(&pulse_test_support::event("collect/pageview"))).await;
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
    let (status, _) = run(&app, fixture(&pulse_test_support::event("collect/event"))).await;
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
    let (status, _) = run(&app, fixture(&pulse_test_support::event("collect/outbound"))).await;
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
            &pulse_test_support::event("collect/ts-analytics/minimal-pageview"),
            Some((EventKind::Pageview, "/pricing")),
        ),
        (
            &pulse_test_support::event("collect/ts-analytics/full-pageview"),
            Some((EventKind::Pageview, "/docs")),
        ),
        (
            &pulse_test_support::event("collect/ts-analytics/event"),
            Some((EventKind::Event, "/pricing")),
        ),
        (
            &pulse_test_support::event("collect/ts-analytics/outbound-click"),
            Some((EventKind::Outbound, "/docs")),
        ),
        (
            &pulse_test_support::event("collect/ts-analytics/engagement"),
            Some((EventKind::Event, "/docs")),
        ),
        (
            &pulse_test_support::event("collect/ts-analytics/gtag-event"),
            Some((EventKind::Event, "/checkout")),
        ),
        (&pulse_test_support::event("collect/ts-analytics/heatmap"), None),
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
    run(&app, fixture(&pulse_test_support::event("collect/ts-analytics/event"))).await;
    let event = stored(&app).pop().unwrap();
    assert_eq!((event.name(), event.value()), (Some("signup"), Some(10.0)));
    assert_eq!(event.props.get("category"), Some(&PropValue::Text("forms".into())));
    run(
        &app,
        fixture(&pulse_test_support::event("collect/ts-analytics/outbound-click")),
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
    let pageview = &pulse_test_support::event("collect/goal-pageview");
    for _ in 0..2 {
        assert_eq!(run(&app, fixture(pageview)).await.0, StatusCode::NO_CONTENT);
    }
    assert_eq!(
        run(&app, fixture(&pulse_test_support::event("collect/goal-event")))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        run(&app, fixture(&pulse_test_support::event("collect/event"))).await.0,
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
    let (status, _) = run(&app, fixture(&pulse_test_support::event("collect/beacon-text-plain"))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(stored(&app).len(), 1);
}

#[tokio::test]
async fn bot_is_dropped_silently() {
    let app = app(None);
    let (status, _) = run(&app, fixture(&pulse_test_support::event("collect/bot"))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(stored(&app).is_empty());
}

#[tokio::test]
async fn invalid_site_id_is_a_400_naming_s() {
    let app = app(None);
    let (status, body) = run(&app, fixture(&pulse_test_support::event("collect/invalid-site-id"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["field"], "s");
    assert!(stored(&app).is_empty());
}

#[tokio::test]
async fn non_json_body_is_a_400() {
    let app = app(None);
    let (status, body) = run(&app, fixture(&pulse_test_support::event("collect/not-json"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "body is not valid JSON");
    assert_eq!(body["field"], serde_json::Value::Null);
}

#[tokio::test]
async fn foreign_hostname_is_a_403() {
    let app = app(None);
    let (status, body) = run(&app, fixture(&pulse_test_support::event("collect/foreign-host"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["field"], "u");
}

/// A browser on another site's page (its `Origin`) cannot post hits for this site by naming one of
/// this site's pages in `u`; the beacon's `Referer` is held to the same rule, and a sender that
/// declares neither (a server) is held to `u` alone.
#[tokio::test]
async fn a_foreign_origin_is_a_403_whatever_u_says() {
    let app = app(None);
    let forged = &pulse_test_support::event("collect/forged-origin");
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
    let response = function_handler(&app, fixture(&pulse_test_support::event("collect/preflight")))
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
    let response = function_handler(&app, fixture(&pulse_test_support::event("collect/wrong-method")))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "POST, OPTIONS");
}

#[tokio::test]
async fn store_failure_is_a_503_with_retry_after() {
    let app = app(None);
    app.collector.store().unavailable.store(true, Ordering::Relaxed);
    let response = function_handler(&app, fixture(&pulse_test_support::event("collect/pageview")))
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
    let via_cloudfront = &pulse_test_support::event("collect/via-cloudfront");
    let direct = &pulse_test_support::event("collect/pageview");
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
        let mut request = fixture(&pulse_test_support::event("collect/pageview"));
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
        let mut request = fixture(&pulse_test_support::event("collect/pageview"));
        request
            .headers_mut()
            .insert("cf-connecting-ip", claimed.parse().unwrap());
        assert_eq!(run(&no_secret, request).await.0, StatusCode::NO_CONTENT);
    }
    let events = stored(&no_secret);
    assert_eq!(events[0].visitor, events[1].visitor);
}
