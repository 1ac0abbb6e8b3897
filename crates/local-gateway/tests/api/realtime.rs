use chrono::Utc;
use pulse_core::{EventId, EventKind, EventStore, SiteId};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{FIREFOX, Item, TestApp, s, spawn_app, uuid_v7};

const CHROME: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const SAFARI: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";

impl TestApp {
    async fn hit(&self, user_agent: &str, country: Option<&str>, hit: Value) {
        let mut request = self
            .http
            .post(format!("{}/collect", self.address))
            .header("content-type", "text/plain")
            .header("user-agent", user_agent)
            .body(hit.to_string());
        if let Some(country) = country {
            request = request.header("cloudfront-viewer-country", country);
        }
        assert_eq!(request.send().await.unwrap().status(), StatusCode::NO_CONTENT);
    }

    async fn rollup_items(&self) -> Vec<Item> {
        let mut items: Vec<Item> = self.scan(self.store.rollup_table()).await;
        items.sort_by(|a, b| s(a, "sk").cmp(s(b, "sk")));
        items
    }
}

fn page(path: &str, referrer: Option<&str>) -> Value {
    let mut hit = json!({"s": "demo", "e": "pageview", "u": format!("https://example.com{path}")});
    if let Some(referrer) = referrer {
        hit["r"] = json!(referrer);
    }
    hit
}

#[tokio::test]
async fn a_known_trace_reads_back_exactly() {
    let app = spawn_app().await;
    // Visitor A (Firefox, DE, from HN): /, then /pricing, then a signup there.
    app.hit(
        FIREFOX,
        Some("DE"),
        page("/", Some("https://news.ycombinator.com/item?id=1")),
    )
    .await;
    app.hit(FIREFOX, Some("DE"), page("/pricing", Some("https://example.com/")))
        .await;
    app.hit(
        FIREFOX,
        Some("DE"),
        json!({"s": "demo", "e": "event", "u": "https://example.com/pricing", "p": {"name": "signup"}}),
    )
    .await;
    // Visitor B (Chrome, US, from Google): /docs.
    app.hit(CHROME, Some("US"), page("/docs", Some("https://www.google.com/")))
        .await;
    // Visitor C (Safari on iPhone, no country, direct): /, then an outbound click.
    app.hit(SAFARI, None, page("/", None)).await;
    app.hit(
        SAFARI,
        None,
        json!({"s": "demo", "e": "outbound", "u": "https://example.com/", "p": {"url": "https://github.com/x"}}),
    )
    .await;

    let view = app
        .realtime_when("", |v| v["pageViews"] == 4 && v["currentVisitors"] == 3)
        .await;
    assert_eq!(view["siteId"], "demo");
    assert_eq!(view["minutes"], 5);
    assert_eq!(view["currentVisitors"], 3);
    assert_eq!(view["pageViews"], 4);
    assert_eq!(
        view["activePages"],
        json!([{"path": "/", "visitors": 1}, {"path": "/docs", "visitors": 1}, {"path": "/pricing", "visitors": 1}])
    );
    assert_eq!(
        view["countries"],
        json!([{"country": "DE", "visitors": 1}, {"country": "US", "visitors": 1}])
    );
    assert_eq!(
        view["referrers"],
        json!([{"referrer": "news.ycombinator.com", "visitors": 1}, {"referrer": "www.google.com", "visitors": 1}])
    );
    let timeline = view["timeline"].as_array().unwrap();
    assert_eq!(timeline.len(), 5);
    let minutes: Vec<&str> = timeline.iter().map(|p| p["minute"].as_str().unwrap()).collect();
    assert!(minutes.windows(2).all(|w| w[0] < w[1]), "oldest first: {minutes:?}");
    assert_eq!(
        timeline.iter().map(|p| p["pageViews"].as_u64().unwrap()).sum::<u64>(),
        4
    );
    assert!(timeline.iter().all(|p| p["visitors"].as_u64().unwrap() <= 3));
    let feed: Vec<&str> = view["recentEvents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        feed,
        ["outbound", "pageview", "pageview", "event", "pageview", "pageview"]
    );
    assert_eq!(view["recentEvents"][0]["url"], "https://github.com/x");
    assert_eq!(view["recentEvents"][3]["name"], "signup");
    assert_eq!(view["recentEvents"][2]["country"], "US");
    assert_eq!(view["recentEvents"][2]["browser"], "Chrome");

    // Limits cut the lists, not the totals.
    let cut = app
        .realtime("?limit=1&events=2", Some(&app.token))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(cut["activePages"].as_array().unwrap().len(), 1);
    assert_eq!(cut["recentEvents"].as_array().unwrap().len(), 2);
    assert_eq!(cut["currentVisitors"], 3);
}

#[tokio::test]
async fn an_event_six_minutes_ago_is_outside_a_five_minute_window() {
    let app = spawn_app().await;
    let six_minutes_ago = Utc::now() - chrono::Duration::minutes(6);
    let mut old = pulse_core::memory::sample_event(EventKind::Pageview, EventId::random().as_str(), six_minutes_ago);
    old.visitor = "0123456789abcdef0123456789abcdef".into();
    old.path = "/old".into();
    old.country = Some("FR".into());
    app.store
        .put_event(&old, Utc::now() + chrono::Duration::days(1))
        .await
        .unwrap();
    app.hit(FIREFOX, Some("DE"), page("/now", None)).await;

    let wide = app.realtime_when("?minutes=8", |v| v["pageViews"] == 2).await;
    assert_eq!(wide["currentVisitors"], 2);
    let narrow = app
        .realtime("?minutes=5", Some(&app.token))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(narrow["pageViews"], 1);
    assert_eq!(narrow["currentVisitors"], 1);
    assert_eq!(narrow["activePages"], json!([{"path": "/now", "visitors": 1}]));
    assert_eq!(narrow["countries"], json!([{"country": "DE", "visitors": 1}]));
    assert!(
        narrow["recentEvents"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["path"] == "/now")
    );
}

#[tokio::test]
async fn unauthorised_unknown_and_invalid_requests() {
    let app = spawn_app().await;
    let no_token = app.realtime("", None).await;
    assert_eq!(no_token.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(no_token.headers()["www-authenticate"], "Bearer");
    assert_eq!(
        app.realtime("", Some("pt_wrong")).await.status(),
        StatusCode::UNAUTHORIZED
    );

    let unknown = app
        .http
        .get(format!("{}/sites/nobody/realtime", app.address))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    // The same answer as a wrong token: site ids cannot be enumerated.
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.headers()["www-authenticate"], "Bearer");

    for (query, field) in [
        ("?minutes=0", "minutes"),
        ("?minutes=31", "minutes"),
        ("?limit=101", "limit"),
        ("?events=-1", "events"),
        ("?minutes=abc", "minutes"),
    ] {
        let response = app.realtime(query, Some(&app.token)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["field"], field, "{query}");
    }
    let ok = app.realtime("?minutes=30&limit=100&events=0", Some(&app.token)).await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.headers()["cache-control"], "no-store");
    assert_eq!(ok.headers()["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn the_same_stream_batch_twice_leaves_every_rollup_unchanged() {
    let app = spawn_app().await;
    for path in ["/a", "/b", "/c"] {
        app.hit(FIREFOX, Some("DE"), page(path, None)).await;
    }
    app.hit(CHROME, Some("US"), page("/d", None)).await;
    app.realtime_when("", |v| v["pageViews"] == 4).await;
    let before = app.rollup_items().await;
    assert!(!before.is_empty());

    // Redeliver what the stream delivered, as Lambda's at-least-once delivery may: rebuild the batch from
    // the stream and hand it to the aggregate handler twice more.
    let batch = crate::helpers::stream_batch(&app).await;
    // Unfiltered: besides the 4 page views it holds the site and salt records, which the handler must
    // ignore. Rollups live in their own table, without a stream: none of their writes is in it.
    let records = batch["Records"].as_array().unwrap();
    let sort_key = |r: &Value| r["dynamodb"]["Keys"]["sk"]["S"].as_str().unwrap_or_default().to_owned();
    assert_eq!(records.iter().filter(|r| sort_key(r).starts_with("PV#")).count(), 4);
    assert!(records.iter().any(|r| sort_key(r).starts_with("SITE#")));
    assert!(!records.iter().any(|r| sort_key(r).starts_with("RT#")));
    for _ in 0..2 {
        let response = crate::helpers::invoke_aggregate(&app, batch.clone()).await;
        assert_eq!(response["batchItemFailures"], json!([]));
    }
    assert_eq!(app.rollup_items().await, before);
}

/// A ULID of `at`: 48 bits of milliseconds, then 80 random bits, in Crockford's base 32.
fn ulid(at: chrono::DateTime<Utc>) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let random = EventId::random();
    let mut bits: u128 = (at.timestamp_millis() as u128) << 80;
    bits |= random
        .as_str()
        .bytes()
        .fold(0u128, |acc, b| acc.wrapping_mul(31).wrapping_add(b as u128))
        & ((1 << 80) - 1);
    (0..26)
        .rev()
        .map(|i| ALPHABET[((bits >> (i * 5)) & 31) as usize] as char)
        .collect()
}

/// Every accepted event is in the feed, newest first by receive time, whatever its id's format and the
/// client's clock: a UUIDv4 (`crypto.randomUUID()`), a ULID, any other string, UUIDv7s from a clock an
/// hour behind or minutes ahead, no id at all. A retry of one of them adds nothing, and a goal completed
/// by an event whose id carries no time shows too.
#[tokio::test]
async fn every_accepted_event_is_in_the_feed_whatever_its_id_and_clock() {
    let app = spawn_app().await;
    let demo = SiteId::parse("demo").unwrap();
    let goal = pulse_core::goal::Goal {
        name: pulse_core::goal::GoalName::parse("purchase").unwrap(),
        rule: pulse_core::goal::GoalRule::Event {
            name: "buy".into(),
            property: None,
        },
        value: None,
    };
    app.store.set_goals(&demo, &[goal]).await.unwrap();
    let now = Utc::now();
    let v4 = "1b4e28ba-2fa1-41d2-883f-0016d3cca427";
    let hits = [
        json!({"s": "demo", "e": "pageview", "u": "https://example.com/v4", "id": v4}),
        json!({"s": "demo", "e": "pageview", "u": "https://example.com/ulid", "id": ulid(now)}),
        json!({"s": "demo", "e": "pageview", "u": "https://example.com/arbitrary", "id": "evt_01HZX3"}),
        json!({"s": "demo", "e": "pageview", "u": "https://example.com/behind", "id": uuid_v7(now - chrono::Duration::hours(1))}),
        json!({"s": "demo", "e": "pageview", "u": "https://example.com/ahead", "id": uuid_v7(now + chrono::Duration::minutes(3))}),
        json!({"s": "demo", "e": "pageview", "u": "https://example.com/fresh", "id": uuid_v7(now)}),
        json!({"s": "demo", "e": "pageview", "u": "https://example.com/none"}),
        json!({"s": "demo", "e": "event", "u": "https://example.com/cart", "en": "buy", "id": "4f1c2a9e-8b3d-4c6e-9a7f-2d5b8e1c3a60"}),
    ];
    for hit in &hits {
        assert_eq!(app.send_hit(hit.clone()).await.status(), StatusCode::NO_CONTENT);
    }
    // The UUIDv4 hit again, as a tracker's retry: stored once.
    assert_eq!(app.send_hit(hits[0].clone()).await.status(), StatusCode::NO_CONTENT);
    let view = app
        .realtime_when("?window=5&events=20", |view| view["pageViews"] == 7)
        .await;
    let feed: Vec<(String, String)> = view["recentEvents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let label = e["path"].as_str().or(e["goal"].as_str()).unwrap_or_default();
            (e["type"].as_str().unwrap().to_owned(), label.to_owned())
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("goal", "purchase"),
        ("event", "/cart"),
        ("pageview", "/none"),
        ("pageview", "/fresh"),
        ("pageview", "/ahead"),
        ("pageview", "/behind"),
        ("pageview", "/arbitrary"),
        ("pageview", "/ulid"),
        ("pageview", "/v4"),
    ]
    .map(|(kind, label)| (kind.to_owned(), label.to_owned()))
    .to_vec();
    assert_eq!(feed, expected, "{view}");
}
