use std::collections::HashSet;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::helpers::{FIREFOX, TestApp, s, spawn_app};

pub(crate) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

impl TestApp {
    pub(crate) fn ws_url(&self, query: &str) -> String {
        format!("{}/ws?{query}", self.address.replace("http://", "ws://"))
    }

    pub(crate) async fn dashboard(&self) -> Socket {
        self.dashboard_for("demo", Some(&self.token.clone())).await
    }

    pub(crate) async fn dashboard_for(&self, site: &str, token: Option<&str>) -> Socket {
        let query = match token {
            Some(token) => format!("siteId={site}&token={token}"),
            None => format!("siteId={site}"),
        };
        let (socket, _) = tokio_tungstenite::connect_async(self.ws_url(&query))
            .await
            .expect("connection accepted");
        socket
    }

    /// The HTTP status of a refused handshake.
    pub(crate) async fn refused_status(&self, query: &str) -> u16 {
        let mut request = self.ws_url(query).into_client_request().unwrap();
        request
            .headers_mut()
            .insert("user-agent", HeaderValue::from_static("test"));
        match tokio_tungstenite::connect_async(request).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
            Err(other) => panic!("unexpected error: {other}"),
            Ok(_) => panic!("the connection should have been refused"),
        }
    }

    async fn connection_items(&self) -> usize {
        self.items()
            .await
            .iter()
            .filter(|i| s(i, "sk").starts_with("CONN#") || s(i, "pk").starts_with("CONN#"))
            .count()
    }

    async fn send_page(&self, path: &str) {
        let hit = json!({"s": "demo", "e": "pageview", "u": format!("https://example.com{path}")});
        let response = self.post_collect(hit.to_string(), "application/json", FIREFOX).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
    }
}

/// Every event received within `wait` (text frames of type "events").
async fn events_within(socket: &mut Socket, wait: Duration) -> Vec<Value> {
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(Some(Ok(message))) = tokio::time::timeout_at(deadline, socket.next()).await {
        if let Message::Text(text) = message {
            let message: Value = serde_json::from_str(&text).unwrap();
            if message["type"] == "events" {
                events.extend(message["events"].as_array().unwrap().iter().cloned());
            }
        }
    }
    events
}

/// Reads until `count` events have arrived (or fails after 15 s).
pub(crate) async fn next_events(socket: &mut Socket, count: usize) -> Vec<Value> {
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while events.len() < count {
        let message = tokio::time::timeout_at(deadline, socket.next())
            .await
            .unwrap_or_else(|_| panic!("only {} of {count} events arrived: {events:?}", events.len()))
            .expect("socket open")
            .expect("a frame");
        if let Message::Text(text) = message {
            let message: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(message["type"], "events", "{message}");
            assert_eq!(message["siteId"], "demo");
            events.extend(message["events"].as_array().unwrap().iter().cloned());
        }
    }
    events
}

pub(crate) async fn wait_until(condition: impl AsyncFnMut() -> bool) {
    assert!(
        holds_within(Duration::from_secs(10), condition).await,
        "condition not met in time"
    );
}

/// Whether `condition` comes to hold within `wait`.
pub(crate) async fn holds_within(wait: Duration, mut condition: impl AsyncFnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    while !condition().await {
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    true
}

#[tokio::test]
async fn connect_checks_the_site_and_token() {
    let app = spawn_app().await;
    let _good = app.dashboard().await;
    assert_eq!(
        app.connection_items().await,
        2,
        "the site's item and the connection's own item"
    );
    assert_eq!(app.refused_status("siteId=demo&token=pt_wrong").await, 401);
    assert_eq!(app.refused_status("siteId=demo").await, 401);
    assert_eq!(app.refused_status("siteId=nobody&token=x").await, 401);
    assert_eq!(app.refused_status("siteId=a%23b").await, 400);
    assert_eq!(
        app.connection_items().await,
        2,
        "refused connections leave nothing behind"
    );
}

#[tokio::test]
async fn ping_gets_pong_and_garbage_gets_an_error_without_closing() {
    let app = spawn_app().await;
    let mut socket = app.dashboard().await;
    socket.send(Message::text(r#"{"action":"ping"}"#)).await.unwrap();
    let reply = socket.next().await.unwrap().unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(reply.to_text().unwrap()).unwrap(),
        json!({"type": "pong"})
    );
    socket.send(Message::text("not json")).await.unwrap();
    let reply: Value = serde_json::from_str(socket.next().await.unwrap().unwrap().to_text().unwrap()).unwrap();
    assert_eq!(reply["type"], "error");
    socket.send(Message::text(r#"{"action":"ping"}"#)).await.unwrap();
    let reply = socket.next().await.unwrap().unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(reply.to_text().unwrap()).unwrap(),
        json!({"type": "pong"})
    );
}

#[tokio::test]
async fn page_views_and_custom_events_arrive_with_their_content() {
    let app = spawn_app().await;
    let mut socket = app.dashboard().await;
    let hit = json!({"s": "demo", "e": "pageview", "u": "https://example.com/pricing?x=1", "r": "https://news.ycombinator.com/"});
    assert_eq!(app.send_hit(hit).await.status(), StatusCode::NO_CONTENT);
    let events = next_events(&mut socket, 1).await;
    assert_eq!(events[0]["type"], "pageview");
    assert_eq!(events[0]["path"], "/pricing");
    assert_eq!(events[0]["country"], "NL");
    assert_eq!(events[0]["browser"], "Firefox");
    assert_eq!(events[0]["referrer"], "news.ycombinator.com");
    assert!(events[0]["timestamp"].as_str().unwrap().ends_with('Z'));
    // The event's own id, so a dashboard can merge pushes into its polled feed without duplicates.
    let stored = app.events().await;
    assert_eq!(events[0]["id"], s(&stored[0], "id"));

    let custom =
        json!({"s": "demo", "e": "event", "u": "https://example.com/pricing", "p": {"name": "signup", "value": 49}});
    assert_eq!(app.send_hit(custom).await.status(), StatusCode::NO_CONTENT);
    let events = next_events(&mut socket, 1).await;
    assert_eq!(
        events[0],
        json!({"type": "event", "id": events[0]["id"], "name": "signup", "value": 49.0, "path": "/pricing",
            "timestamp": events[0]["timestamp"], "country": "NL", "device": "desktop"})
    );
}

#[tokio::test]
async fn a_hundred_dashboards_each_get_every_event_once_and_other_sites_nothing() {
    let app = spawn_app().await;
    let other_token = pulse_core::ReadToken::generate();
    app.store
        .create_site(&pulse_core::Site::new(
            pulse_core::SiteId::parse("other").unwrap(),
            vec!["other.example".into()],
            other_token.hash(),
        ))
        .await
        .unwrap();
    let mut outsider = app.dashboard_for("other", Some(other_token.expose())).await;
    let mut dashboards = Vec::new();
    for _ in 0..100 {
        dashboards.push(app.dashboard().await);
    }
    let paths: Vec<String> = (0..5).map(|i| format!("/page-{i}")).collect();
    for path in &paths {
        app.send_page(path).await;
    }
    let expected: HashSet<&str> = paths.iter().map(String::as_str).collect();
    let received = futures::future::join_all(dashboards.iter_mut().map(|socket| async move {
        let mut events = next_events(socket, 5).await;
        // Anything extra (a duplicate) would arrive shortly after.
        events.extend(events_within(socket, Duration::from_millis(600)).await);
        events
    }))
    .await;
    for events in received {
        let got: Vec<&str> = events.iter().map(|e| e["path"].as_str().unwrap()).collect();
        assert_eq!(got.len(), 5, "exactly once each: {got:?}");
        assert_eq!(got.into_iter().collect::<HashSet<_>>(), expected);
    }
    assert!(
        events_within(&mut outsider, Duration::from_millis(300))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn closing_the_socket_removes_its_items() {
    let app = spawn_app().await;
    let mut socket = app.dashboard().await;
    assert_eq!(app.connection_items().await, 2);
    socket.close(None).await.unwrap();
    wait_until(async || app.connection_items().await == 0).await;
}

#[tokio::test]
async fn a_vanished_connection_answers_410_and_is_removed_on_the_next_broadcast() {
    let app = spawn_app().await;
    let _socket = app.dashboard().await;
    let mut live = app.dashboard().await;
    wait_until(async || app.gateway.connections.count() == 2).await;
    // One client disappears without a $disconnect: its items stay in the table.
    let vanished = app.gateway.connections.ids().into_iter().next().unwrap();
    assert!(app.gateway.connections.vanish(&vanished));
    let management = format!("{}/@connections/{}", app.address, urlencode(&vanished));
    assert_eq!(
        app.http.post(&management).body("hello").send().await.unwrap().status(),
        StatusCode::GONE
    );
    assert_eq!(app.connection_items().await, 4);

    app.send_page("/after").await;
    // The one still there gets it (unless the vanished one was `live`, in which case `_socket` is).
    let _ = next_events_any(&mut live).await;
    wait_until(async || app.connection_items().await == 2).await;
    let remaining: Vec<String> = app
        .items()
        .await
        .iter()
        .filter(|i| s(i, "sk").starts_with("CONN#"))
        .map(|i| s(i, "sk").to_owned())
        .collect();
    assert_eq!(remaining, [format!("CONN#{}", app.gateway.connections.ids()[0])]);
}

/// Waits briefly for events on a socket that may or may not be the one that vanished.
async fn next_events_any(socket: &mut Socket) -> Vec<Value> {
    events_within(socket, Duration::from_secs(3)).await
}

pub(crate) fn urlencode(raw: &str) -> String {
    url::form_urlencoded::byte_serialize(raw.as_bytes()).collect()
}

/// What a tracker does: a hit, its retry, then more traffic. Every later event must still be aggregated
/// and pushed. A failed transaction makes moto swap in a copy of its tables, which once stalled the local
/// stream poller for good: one is forced here too, and the traffic after it must arrive as well.
#[tokio::test]
async fn a_duplicate_and_a_failed_transaction_then_more_traffic_all_arrive() {
    let app = spawn_app().await;
    let mut socket = app.dashboard().await;
    let id = crate::helpers::uuid_v7(chrono::Utc::now());
    let duplicated = json!({"s": "demo", "e": "pageview", "u": "https://example.com/first", "id": id});
    for _ in 0..2 {
        let response = app.post_collect(duplicated.to_string(), "text/plain", FIREFOX).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
    }
    for i in 0..10 {
        app.send_page(&format!("/after-duplicate-{i}")).await;
    }
    fail_a_transaction(&app).await;
    for i in 0..5 {
        app.send_page(&format!("/after-failed-transaction-{i}")).await;
    }

    let pushed = next_events(&mut socket, 16).await;
    let paths: HashSet<&str> = pushed.iter().map(|e| e["path"].as_str().unwrap()).collect();
    assert_eq!(paths.len(), 16, "every event pushed once: {pushed:?}");
    assert_eq!(pushed.iter().filter(|e| e["id"] == id.as_str()).count(), 1);
    let view = app.realtime_when("?minutes=1", |view| view["pageViews"] == 16).await;
    assert_eq!(view["pageViews"], 16, "{view}");
    // Nothing more arrives: the retry was never pushed a second time.
    assert!(events_within(&mut socket, Duration::from_millis(600)).await.is_empty());
}

async fn fail_a_transaction(app: &TestApp) {
    use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, TransactWriteItem};
    let check = ConditionCheck::builder()
        .table_name(app.store.table())
        .key("pk", AttributeValue::S("SITES".into()))
        .key("sk", AttributeValue::S("SITE#demo".into()))
        .condition_expression("attribute_not_exists(pk)")
        .build()
        .unwrap();
    let result = app
        .dynamodb
        .transact_write_items()
        .transact_items(TransactWriteItem::builder().condition_check(check).build())
        .send()
        .await;
    assert!(result.is_err(), "the site exists, so the condition fails");
}

/// Rotating a token (or deleting the site) closes the site's open dashboards through the management
/// API and forgets them; a dashboard of another site stays. A second run finds nothing to close.
#[tokio::test]
async fn disconnecting_a_site_closes_its_open_dashboards() {
    let app = spawn_app().await;
    let mut first = app.dashboard().await;
    let mut second = app.dashboard().await;
    wait_until(async || app.gateway.connections.count() == 2).await;
    assert_eq!(app.connection_items().await, 4);

    let sdk_config = pulse_dynamodb::sdk_config().await;
    let closer = pulse_dynamodb::management::ApiGatewaySender::new(&sdk_config, &app.address);
    let site = pulse_core::SiteId::parse("demo").unwrap();
    let closed = pulse_core::live::disconnect_site(&app.store, &closer, &site)
        .await
        .unwrap();
    assert_eq!(closed, 2);
    for socket in [&mut first, &mut second] {
        assert!(
            pulse_test_support::websocket::closed_within(socket, Duration::from_secs(5)).await,
            "the socket is still open"
        );
    }
    wait_until(async || app.connection_items().await == 0).await;
    assert_eq!(
        pulse_core::live::disconnect_site(&app.store, &closer, &site)
            .await
            .unwrap(),
        0
    );
}
