//! collect against a failing DynamoDB: a fault-injecting proxy in front of moto delays, fails,
//! throttles, refuses or resets. Each transient fault gets collect's 503 with `Retry-After` within the
//! request budget (never a timeout of the platform's), a permanent refusal a 500 without it, and once
//! DynamoDB is back the tracker's retries store every hit exactly once.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fault_proxy::{Fault, FaultProxy};
use crate::helpers::{moto_endpoint, s, spawn_app_at};

fn hit(id: &str) -> Value {
    json!({"s": "demo", "e": "pageview", "u": "https://example.com/pricing", "id": id})
}

#[tokio::test]
async fn a_failing_store_gets_503_within_the_budget_and_retries_store_each_hit_once() {
    let proxy = FaultProxy::start(&moto_endpoint()).await;
    let app = spawn_app_at(proxy.endpoint.clone(), vec![("REQUEST_BUDGET_MS", "1500".into())]).await;

    // Cold caches: the site lookup, the day's salt and the write each answer just inside the SDK's
    // 2-second attempt timeout, so without the budget they would add up to ~5.4 s.
    proxy.set(Fault::Delay(Duration::from_millis(1_800)));
    let started = Instant::now();
    let response = app.send_hit(hit("evt_slow")).await;
    let took = started.elapsed();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "5");
    assert!(took < Duration::from_secs(3), "answered after {took:?}");
    let body: Value = response.json().await.unwrap();
    assert!(body["error"].is_string(), "{body}");

    let mut failed = vec!["evt_slow"];
    for (fault, id) in [
        (Fault::ServerError, "evt_500"),
        (Fault::Throttle, "evt_throttled"),
        (Fault::Reset, "evt_reset"),
    ] {
        proxy.set(fault);
        let response = app.send_hit(hit(id)).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{fault:?}");
        assert_eq!(response.headers()["retry-after"], "5", "{fault:?}");
        failed.push(id);
    }

    proxy.set(Fault::Reject);
    let response = app.send_hit(hit("evt_rejected")).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(response.headers().get("retry-after").is_none());
    failed.push("evt_rejected");

    // DynamoDB is back: the tracker sends each failed hit again, and a new one.
    proxy.set(Fault::None);
    // The slow write may still land on its own: the retry must then be a duplicate, not a second event.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for id in failed.iter().chain(&["evt_after"]) {
        assert_eq!(app.send_hit(hit(id)).await.status(), StatusCode::NO_CONTENT, "{id}");
    }
    let events = app.events().await;
    for id in failed.iter().chain(&["evt_after"]) {
        let copies = events.iter().filter(|event| s(event, "id") == *id).count();
        assert_eq!(copies, 1, "{id} stored {copies} times");
    }
    assert_eq!(events.len(), failed.len() + 1);
}

/// The realtime API under the same budget: a slow store is its own 503, well before the function's
/// timeout, and the next poll after DynamoDB is back gets the view.
#[tokio::test]
async fn a_slow_store_gets_the_realtime_503_within_the_budget() {
    let proxy = FaultProxy::start(&moto_endpoint()).await;
    let app = spawn_app_at(proxy.endpoint.clone(), vec![("REQUEST_BUDGET_MS", "1500".into())]).await;
    let realtime = || {
        app.http
            .get(format!("{}/sites/demo/realtime?minutes=5", app.address))
            .header("authorization", format!("Bearer {}", app.token))
            .send()
    };
    proxy.set(Fault::Delay(Duration::from_millis(1_800)));
    let started = Instant::now();
    let response = realtime().await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "5");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "answered after {:?}",
        started.elapsed()
    );
    proxy.set(Fault::None);
    assert_eq!(realtime().await.unwrap().status(), StatusCode::OK);
}

/// `$connect` under the same budget: a slow store refuses the connection with 503 in time, and the
/// dashboard's reconnect after DynamoDB is back is admitted.
#[tokio::test]
async fn a_slow_store_refuses_a_dashboard_with_503_within_the_budget() {
    let proxy = FaultProxy::start(&moto_endpoint()).await;
    let app = spawn_app_at(proxy.endpoint.clone(), vec![("REQUEST_BUDGET_MS", "1500".into())]).await;
    let query = format!("siteId=demo&token={}", app.token);
    proxy.set(Fault::Delay(Duration::from_millis(1_800)));
    let started = Instant::now();
    assert_eq!(app.refused_status(&query).await, 503);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "answered after {:?}",
        started.elapsed()
    );
    proxy.set(Fault::None);
    let _socket = app.dashboard().await;
}
