use reqwest::StatusCode;
use serde_json::{Value, json};

use chrono::Utc;
use pulse_core::{EventKind, EventStore, PutOutcome};

use crate::helpers::{FIREFOX, GOOGLEBOT, Item, TestApp, n, s, spawn_app, spawn_app_with_private_moto, uuid_v7};

fn pageview(url: &str) -> Value {
    json!({"s": "demo", "e": "pageview", "u": url, "r": "https://news.ycombinator.com/item?id=1", "t": "Pricing", "sid": "abc", "sw": 1440, "sh": 900})
}

async fn assert_error(response: reqwest::Response, status: StatusCode, field: Option<&str>) {
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.expect("error body is JSON");
    assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "{body}");
    assert_eq!(body["field"].as_str(), field, "{body}");
}

#[tokio::test]
async fn valid_pageview_is_stored_once_with_enrichment() {
    let app = spawn_app().await;
    let before = chrono::Utc::now().timestamp();
    let response = app
        .send_hit(pageview("https://example.com/pricing?utm_source=hn&email=x@y.z#top"))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(response.headers()["cache-control"], "no-store");

    let events = app.events().await;
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(s(event, "pk"), "SITE#demo");
    assert!(s(event, "sk").starts_with("PV#"));
    assert_eq!(s(event, "kind"), "pageview");
    assert_eq!(s(event, "host"), "example.com");
    assert_eq!(s(event, "path"), "/pricing");
    assert_eq!(s(event, "referrer"), "news.ycombinator.com");
    assert_eq!(s(event, "utm_source"), "hn");
    assert_eq!(s(event, "country"), "NL");
    assert_eq!(s(event, "device"), "desktop");
    assert_eq!(s(event, "browser"), "Firefox");
    assert_eq!(s(event, "os"), "Linux");
    assert_eq!(s(event, "title"), "Pricing");
    assert_eq!(s(event, "visitor").len(), 32);
    let ttl = n(event, "ttl");
    assert!((ttl - (before + 86_400) as f64).abs() < 10.0, "ttl {ttl}");
    // Privacy: neither the query string nor the IP or User-Agent is stored.
    let everything = format!("{event:?}");
    for secret in ["x@y.z", "127.0.0.1", "Gecko/20100101"] {
        assert!(!everything.contains(secret), "{secret} stored");
    }
    // The day's salt was created once, alongside the site and the event.
    let salts = app
        .scan(app.store.rollup_table())
        .await
        .into_iter()
        .filter(|i| s(i, "pk") == "SALT")
        .count();
    assert_eq!(salts, 1);
}

#[tokio::test]
async fn event_with_props_and_outbound_click_are_stored() {
    let app = spawn_app().await;
    let event = json!({"s": "demo", "e": "event", "u": "http://localhost:8080/pricing",
        "p": {"name": "signup", "value": 49.5, "plan": "pro", "annual": true, "seats": 3}});
    assert_eq!(app.send_hit(event).await.status(), StatusCode::NO_CONTENT);
    let outbound = json!({"s": "demo", "e": "outbound", "u": "http://localhost:8080/docs",
        "p": {"url": "https://github.com/example/repo"}});
    assert_eq!(app.send_hit(outbound).await.status(), StatusCode::NO_CONTENT);

    let mut events = app.events().await;
    events.sort_by_key(|e| s(e, "kind").to_owned());
    assert_eq!(events.len(), 2);
    let (custom, click) = (&events[0], &events[1]);
    assert!(s(custom, "sk").starts_with("EV#"));
    assert_eq!(s(custom, "name"), "signup");
    assert_eq!(n(custom, "value"), 49.5);
    let props = custom["props"].as_m().expect("props map");
    assert_eq!(props["plan"].as_s().unwrap(), "pro");
    assert_eq!(props["annual"].as_bool().unwrap(), &true);
    assert_eq!(props["seats"].as_n().unwrap(), "3");
    assert!(s(click, "sk").starts_with("EV#"));
    assert_eq!(s(click, "kind"), "outbound");
    assert_eq!(s(click, "url"), "https://github.com/example/repo");
    assert_eq!(s(click, "path"), "/docs");
}

#[tokio::test]
async fn beacon_text_plain_body_is_accepted() {
    let app = spawn_app().await;
    let response = app
        .post_collect(
            pageview("https://example.com/").to_string(),
            "text/plain;charset=UTF-8",
            FIREFOX,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.events().await.len(), 1);
}

#[tokio::test]
async fn malformed_bodies_are_400_and_store_nothing() {
    let app = spawn_app().await;
    assert_error(
        app.post_collect("s=demo&e=pageview", "text/plain", FIREFOX).await,
        StatusCode::BAD_REQUEST,
        None,
    )
    .await;
    assert_error(
        app.post_collect("[1,2,3]", "application/json", FIREFOX).await,
        StatusCode::BAD_REQUEST,
        None,
    )
    .await;
    let missing_site = json!({"e": "pageview", "u": "https://example.com/"});
    assert_error(app.send_hit(missing_site).await, StatusCode::BAD_REQUEST, Some("s")).await;
    let hash_in_site = json!({"s": "demo#PV#2026", "e": "pageview", "u": "https://example.com/"});
    assert_error(app.send_hit(hash_in_site).await, StatusCode::BAD_REQUEST, Some("s")).await;
    let javascript = json!({"s": "demo", "e": "pageview", "u": "javascript:alert(document.cookie)"});
    assert_error(app.send_hit(javascript).await, StatusCode::BAD_REQUEST, Some("u")).await;
    let ftp = json!({"s": "demo", "e": "pageview", "u": "ftp://example.com/file"});
    assert_error(app.send_hit(ftp).await, StatusCode::BAD_REQUEST, Some("u")).await;
    let wrong_type = json!({"s": "demo", "e": "pageview", "u": "https://example.com/", "sw": "wide"});
    assert_error(app.send_hit(wrong_type).await, StatusCode::BAD_REQUEST, Some("sw")).await;

    assert!(app.events().await.is_empty());
    assert!(app.items().await.iter().all(|item| !s(item, "pk").contains("PV#")));
}

#[tokio::test]
async fn body_over_8_kib_is_413() {
    let app = spawn_app().await;
    let mut hit = pageview("https://example.com/");
    hit["pad"] = Value::String("x".repeat(9 * 1024));
    assert_error(app.send_hit(hit).await, StatusCode::PAYLOAD_TOO_LARGE, None).await;
    assert!(app.events().await.is_empty());
}

#[tokio::test]
async fn bots_get_204_and_nothing_is_stored() {
    let app = spawn_app().await;
    let response = app
        .post_collect(
            pageview("https://example.com/").to_string(),
            "application/json",
            GOOGLEBOT,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let headless =
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36";
    let response = app
        .post_collect(
            pageview("https://example.com/").to_string(),
            "application/json",
            headless,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(app.events().await.is_empty());
}

#[tokio::test]
async fn unknown_site_is_404_and_foreign_host_403() {
    let app = spawn_app().await;
    let unknown = json!({"s": "nobody", "e": "pageview", "u": "https://example.com/"});
    assert_error(app.send_hit(unknown).await, StatusCode::NOT_FOUND, Some("s")).await;
    assert_error(
        app.send_hit(pageview("https://evil.example.net/")).await,
        StatusCode::FORBIDDEN,
        Some("u"),
    )
    .await;
    assert_error(
        app.send_hit(pageview("https://notexample.com/")).await,
        StatusCode::FORBIDDEN,
        Some("u"),
    )
    .await;
    assert!(app.events().await.is_empty());
}

/// Made-up site ids are answered 404 from collect's directory of the registered ids: at most one Query
/// of the registry per 10 s, and no GetItem per id (the local DynamoDB counts each function's calls).
#[tokio::test]
async fn a_flood_of_made_up_site_ids_is_404_without_a_read_each() {
    let app = spawn_app().await;
    let registry_reads = async || {
        let log = app.principals.log("CollectFunction").await.unwrap();
        let calls = |action| log.calls("SiteRegistry", action);
        (calls("dynamodb:Query"), calls("dynamodb:GetItem"))
    };
    // The first hit loads the directory, then reads the site it names.
    let hit = pageview("https://example.com/");
    assert_eq!(app.send_hit(hit.clone()).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(registry_reads().await, (1, 1));
    let started = std::time::Instant::now();
    let made_up: Vec<Value> = (0..300)
        .map(|_| {
            let mut hit = hit.clone();
            hit["s"] = json!(format!("nosuch-{}", pulse_core::EventId::random()));
            hit
        })
        .collect();
    for wave in made_up.chunks(50) {
        for answer in futures::future::join_all(wave.iter().map(|hit| app.send_hit(hit.clone()))).await {
            assert_eq!(answer.status(), StatusCode::NOT_FOUND);
        }
    }
    let (queries, gets) = registry_reads().await;
    assert_eq!(gets, 1, "no GetItem for a made-up id");
    let reloads_allowed = started.elapsed().as_secs() / 10 + 1;
    assert!(queries - 1 <= reloads_allowed, "{queries} directory Queries");
    assert_eq!(app.events().await.len(), 1);
}

#[tokio::test]
async fn subdomain_of_an_allowed_host_is_accepted() {
    let app = spawn_app().await;
    assert_eq!(
        app.send_hit(pageview("https://blog.example.com/post")).await.status(),
        StatusCode::NO_CONTENT
    );
    let events = app.events().await;
    assert_eq!(events.len(), 1);
    assert_eq!(s(&events[0], "host"), "blog.example.com");
}

#[tokio::test]
async fn other_methods_are_405_and_options_is_a_preflight() {
    let app = spawn_app().await;
    let url = format!("{}/collect", app.address);
    for method in [reqwest::Method::GET, reqwest::Method::PUT, reqwest::Method::DELETE] {
        let response = app.http.request(method.clone(), &url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(response.headers()["allow"], "POST, OPTIONS");
    }
    let preflight = app
        .http
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", "https://example.com")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), StatusCode::NO_CONTENT);
    let headers = preflight.headers();
    assert_eq!(headers["access-control-allow-origin"], "*");
    assert!(
        headers["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    assert!(
        headers["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .to_lowercase()
            .contains("content-type")
    );
    assert_eq!(headers["access-control-max-age"], "86400");
    assert!(app.events().await.is_empty());
}

impl TestApp {
    /// Sends `hit` `times` times (a client retrying) and returns the items stored under its id.
    async fn send_retried(&self, hit: &Value, times: usize) -> Vec<Item> {
        for _ in 0..times {
            assert_eq!(self.send_hit(hit.clone()).await.status(), StatusCode::NO_CONTENT);
        }
        let id = hit["id"].as_str().unwrap();
        self.events().await.into_iter().filter(|e| s(e, "id") == id).collect()
    }
}

/// The tracker's ids: a UUIDv7's own time orders the event, so the retry hits the same key.
#[tokio::test]
async fn a_retry_of_a_time_ordered_id_stores_nothing_new() {
    let app = spawn_app().await;
    let sent_at = Utc::now() - chrono::Duration::seconds(2);
    let mut hit = pageview("https://example.com/");
    hit["id"] = json!(uuid_v7(sent_at));
    let stored = app.send_retried(&hit, 3).await;
    assert_eq!(stored.len(), 1);
    let expected_sk = format!(
        "PV#{}#{}",
        pulse_core::time::iso_millis(sent_at),
        hit["id"].as_str().unwrap()
    );
    assert_eq!(s(&stored[0], "sk"), expected_sk);
    // The stored time is still the receive time: the client's clock places the key, never the numbers.
    assert!(s(&stored[0], "ts") > pulse_core::time::iso_millis(sent_at).as_str());
    // A different id is a different event; every accepted hit is one item (no marker items).
    hit["id"] = json!(uuid_v7(Utc::now()));
    assert_eq!(app.send_retried(&hit, 1).await.len(), 1);
    assert_eq!(app.events().await.len(), 2);
    assert_eq!(
        app.items().await.len(),
        3,
        "the site and the two events: no marker items"
    );
}

#[tokio::test]
async fn a_retry_of_an_id_without_time_stores_nothing_new() {
    let app = spawn_app().await;
    let mut hit = pageview("https://example.com/");
    hit["id"] = json!("evt_01HZX3");
    let stored = app.send_retried(&hit, 3).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(s(&stored[0], "sk"), "ID#evt_01HZX3");
    hit["id"] = json!("evt_01HZX4");
    assert_eq!(app.send_retried(&hit, 2).await.len(), 1);
    assert_eq!(app.events().await.len(), 2);
}

/// A client clock far ahead puts the id's time outside the accepted skew: keyed by the id alone, still once.
#[tokio::test]
async fn a_skewed_time_ordered_id_is_stored_once() {
    let app = spawn_app().await;
    let mut hit = pageview("https://example.com/");
    hit["id"] = json!(uuid_v7(Utc::now() + chrono::Duration::hours(3)));
    let stored = app.send_retried(&hit, 2).await;
    assert_eq!(stored.len(), 1);
    assert!(s(&stored[0], "sk").starts_with("ID#"));
}

/// The first copy arrived an hour ago (written here as collect wrote it then); the late retry is a duplicate.
#[tokio::test]
async fn a_retry_an_hour_later_stores_nothing_new() {
    let app = spawn_app().await;
    let an_hour_ago = Utc::now() - chrono::Duration::hours(1);
    let id = uuid_v7(an_hour_ago - chrono::Duration::milliseconds(80));
    let mut first = pulse_core::memory::sample_event(EventKind::Pageview, &id, an_hour_ago);
    first.client_id = true;
    let outcome = app
        .store
        .put_event(&first, Utc::now() + chrono::Duration::days(1))
        .await
        .unwrap();
    assert_eq!(outcome, PutOutcome::Stored);

    let mut hit = pageview("https://example.com/");
    hit["id"] = json!(id);
    assert_eq!(app.send_retried(&hit, 2).await.len(), 1);
    // And traffic after it is stored as usual.
    let mut next = pageview("https://example.com/next");
    next["id"] = json!(uuid_v7(Utc::now()));
    assert_eq!(app.send_retried(&next, 1).await.len(), 1);
}

#[tokio::test]
async fn store_outage_is_503_with_retry_after() {
    let mut app = spawn_app_with_private_moto().await;
    // Warm the site and salt caches, as a running function would have them.
    assert_eq!(
        app.send_hit(pageview("https://example.com/")).await.status(),
        StatusCode::NO_CONTENT
    );
    app.stop_moto();
    let response = app.send_hit(pageview("https://example.com/")).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u32>()
            .unwrap()
            > 0
    );
    let body: Value = response.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("unavailable"));
}
