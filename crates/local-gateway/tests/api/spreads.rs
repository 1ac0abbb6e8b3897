//! A busy site's writes spread over several partition keys (`pulse-admin site spread`): on a local
//! DynamoDB whose partition keys take 10 WCU a second, one site's hits at four times that rate are all
//! stored at the first attempt, once each, under many keys, and the view counts them exactly, also
//! when the tracker's retries of some of them arrive among new traffic.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::Utc;
use pulse_core::SiteId;
use pulse_core::realtime::Minute;
use pulse_core::spread::Spreads;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{MotoServer, TestApp, s, spawn_app_on_private, uuid_v7};

const VISITORS: usize = 12;

/// A visitor of its own per `visitor`: the visitor id is a digest of the address and user agent.
fn user_agent(visitor: usize) -> String {
    format!("Mozilla/5.0 (X11; Linux x86_64; rv:1{visitor:02}.0) Gecko/20100101 Firefox/1{visitor:02}.0")
}

fn hit(n: usize) -> (usize, Value) {
    let body = json!({"s": "demo", "e": "pageview", "u": format!("https://example.com/p{}", n % 5),
                      "id": uuid_v7(Utc::now())});
    (n % VISITORS, body)
}

/// Sends the hits at once; every one must be stored at the first attempt.
async fn send_all(app: &TestApp, hits: &[(usize, Value)]) {
    let answers = futures::future::join_all(hits.iter().map(|(visitor, body)| async move {
        app.post_collect(body.to_string(), "application/json", &user_agent(*visitor))
            .await
    }))
    .await;
    for answer in answers {
        assert_eq!(answer.status(), StatusCode::NO_CONTENT, "{:?}", answer.text().await);
    }
}

#[tokio::test]
async fn a_spread_site_takes_four_times_a_partitions_writes_and_counts_them_exactly() {
    let moto = MotoServer::start_with_env(&[("LOCAL_DYNAMODB_PARTITION_WCU", "10")]);
    let app = spawn_app_on_private(moto, Vec::new()).await;
    let now = Utc::now();
    let spreads = Spreads::default().change_at(16, Minute::of(now).plus(-1), now).unwrap();
    app.store
        .set_spreads(&SiteId::parse("demo").unwrap(), &spreads)
        .await
        .unwrap();

    // Three seconds of 40 hits each, where one key takes 10 writes a second.
    let mut sent = Vec::new();
    for second in 0..3 {
        let started = Instant::now();
        let batch: Vec<(usize, Value)> = (0..40).map(|n| hit(second * 40 + n)).collect();
        send_all(&app, &batch).await;
        sent.extend(batch);
        tokio::time::sleep(Duration::from_secs(1).saturating_sub(started.elapsed())).await;
    }

    let events = app.events().await;
    assert_eq!(events.len(), 120, "every hit stored once");
    let keys: HashSet<&str> = events.iter().map(|item| s(item, "pk")).collect();
    assert!(keys.len() >= 10, "spread over {} keys: {keys:?}", keys.len());
    assert!(keys.iter().all(|pk| *pk == "SITE#demo" || pk.starts_with("SITE#demo#")));

    let view = app.realtime_when("?minutes=5", |view| view["pageViews"] == 120).await;
    assert_eq!(view["currentVisitors"], VISITORS);
    let pages: u64 = view["activePages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|page| page["visitors"].as_u64().unwrap())
        .sum();
    assert_eq!(pages, VISITORS as u64, "{view}");
    // Each spread's minute is folded into rollup items of its own.
    let rollups = app.scan(app.store.rollup_table()).await;
    let rollup_keys: HashSet<&str> = rollups
        .iter()
        .filter(|item| s(item, "sk").starts_with("RT#"))
        .map(|item| s(item, "pk"))
        .collect();
    assert!(rollup_keys.len() >= 10, "{rollup_keys:?}");

    // The tracker's retries of the first second's hits, among ten new ones: only the new are counted.
    let mut again: Vec<(usize, Value)> = sent[..40].to_vec();
    again.extend((120..130).map(hit));
    send_all(&app, &again).await;
    app.realtime_when("?minutes=5", |view| view["pageViews"] == 130).await;
    assert_eq!(app.events().await.len(), 130);
    // Given time for a double count to show, there is none.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let view = app.realtime_when("?minutes=5", |_| true).await;
    assert_eq!(view["pageViews"], 130, "{view}");
}
