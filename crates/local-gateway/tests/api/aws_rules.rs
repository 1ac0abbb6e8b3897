//! What AWS refuses, the local stack refuses too: each function calls DynamoDB as itself and every call is
//! checked against its policy in template.yaml (infra/local/local_aws), numbers outside DynamoDB's range
//! never reach a write, and the routes a switching site relies on answer.

use std::collections::BTreeSet;
use std::time::Duration;

use pulse_core::SiteId;
use pulse_core::goal::{Goal, GoalName, GoalRule};
use pulse_dynamodb::policy::{self, FUNCTIONS_WITH_POLICIES};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{FIREFOX, MotoServer, TestApp, s, spawn_app, spawn_app_at, spawn_app_with_policy, uuid_v7};
use crate::live::urlencode;

/// The demo site's goal `purchase`: any `buy` event.
async fn set_purchase_goal(app: &TestApp) {
    let goal = Goal {
        name: GoalName::parse("purchase").unwrap(),
        rule: GoalRule::Event {
            name: "buy".into(),
            property: None,
        },
        value: None,
    };
    app.store
        .set_goals(&SiteId::parse("demo").unwrap(), &[goal])
        .await
        .unwrap();
}

/// Every call a user's day makes: hits with a goal, a dashboard that gets them pushed, the realtime view,
/// a dashboard that vanishes (the broadcast's 410 clean-up), one that closes, and one that the broadcast
/// closes when the owner rotates the token. Returns what went wrong
/// as the user would see it, without stopping: a missing grant shows first as its denial.
async fn a_users_day(app: &TestApp) -> Vec<String> {
    use futures::StreamExt;

    let mut problems = Vec::new();
    set_purchase_goal(app).await;
    let wait = Duration::from_secs(15);
    let open = |app: &TestApp| {
        let url = app.ws_url(&format!("siteId=demo&token={}", app.token));
        async move { tokio_tungstenite::connect_async(url).await.map(|(socket, _)| socket) }
    };
    let (Ok(vanishing), Ok(mut dashboard)) = (open(app).await, open(app).await) else {
        problems.push("a dashboard could not connect".to_owned());
        return problems;
    };
    if !crate::live::holds_within(wait, async || app.gateway.connections.count() == 2).await {
        problems.push("the dashboards were not both connected".to_owned());
    }
    // The first one vanishes without a $disconnect: the broadcast meets its 410 and forgets it.
    if let Some(gone) = app.gateway.connections.ids().into_iter().next() {
        app.gateway.connections.vanish(&gone);
        drop(vanishing);
        let management = format!("{}/@connections/{}", app.address, urlencode(&gone));
        let status = app.http.post(&management).body("hello").send().await.unwrap().status();
        if status != StatusCode::GONE {
            problems.push(format!("@connections answered {status} for a vanished dashboard"));
        }
    }
    let Ok(mut revoked) = open(app).await else {
        problems.push("a third dashboard could not connect".to_owned());
        return problems;
    };

    for hit in [
        json!({"s": "demo", "e": "pageview", "u": "https://example.com/pricing", "id": uuid_v7(chrono::Utc::now())}),
        json!({"s": "demo", "e": "event", "u": "https://example.com/pricing", "en": "buy", "ev": 20}),
    ] {
        let status = app.send_hit(hit).await.status();
        if status != StatusCode::NO_CONTENT {
            problems.push(format!("collect answered {status}"));
        }
    }
    if tokio::time::timeout(wait, dashboard.next()).await.is_err() {
        problems.push("no push reached the open dashboard".to_owned());
    }
    let counted = crate::live::holds_within(wait, async || {
        let view: Value = app
            .realtime("?window=5", Some(&app.token))
            .await
            .json()
            .await
            .unwrap_or_default();
        view["pageViews"] == 1 && view["goals"][0]["conversions"] == 1 && view["goals"][0]["value"] == 20.0
    })
    .await;
    if !counted {
        problems.push("the realtime view never counted the page view and the goal".to_owned());
    }
    let _ = futures::SinkExt::close(&mut dashboard).await;
    let forgotten = crate::live::holds_within(wait, async || {
        app.items()
            .await
            .iter()
            .filter(|item| s(item, "pk").starts_with("CONN#"))
            .count()
            == 1
    })
    .await;
    if !forgotten {
        problems.push("connection items stayed after the dashboards left".to_owned());
    }
    // The owner rotates the token: the broadcast closes the dashboard still holding the old one.
    let new_token = pulse_core::ReadToken::generate();
    let demo = SiteId::parse("demo").unwrap();
    app.store.set_token_hash(&demo, &new_token.hash()).await.unwrap();
    let closed = tokio::time::timeout(wait, async {
        while let Some(Ok(message)) = revoked.next().await {
            if message.is_close() {
                break;
            }
        }
    })
    .await;
    if closed.is_err() {
        problems.push("the dashboard of a rotated token stayed open".to_owned());
    }
    problems
}

/// The DynamoDB and management API actions each function's policy grants, by statement (the failure
/// queue's `sqs:SendMessage` is Lambda's own call, not the function's).
fn granted_actions(function: &str) -> BTreeSet<(String, String)> {
    let deployment = policy::Deployment {
        region: "us-east-1",
        account: local_gateway::identity::LOCAL_ACCOUNT,
        table: "t",
        rollup_table: "r",
    };
    policy::statements(function, &deployment)
        .unwrap()
        .into_iter()
        .flat_map(|statement| {
            let sid = statement.sid.clone();
            statement
                .actions
                .into_iter()
                .filter(|action| action.starts_with("dynamodb:") || action.starts_with("execute-api:"))
                .map(move |action| (sid.clone(), action))
        })
        .collect()
}

/// Least privilege from both sides: no call a function makes is denied (a grant the code needs is
/// missing), and every DynamoDB and management API grant is used (a grant the code does not need).
#[tokio::test]
async fn every_function_calls_only_what_its_policy_grants_and_uses_every_grant() {
    let app = spawn_app().await;
    let seen = a_users_day(&app).await;
    let mut denials = Vec::new();
    let mut unused = Vec::new();
    for function in FUNCTIONS_WITH_POLICIES {
        let log = app.principals.log(function).await.unwrap();
        for denial in &log.denied {
            denials.push(format!("{function} was denied: {}", denial.message));
        }
        let used: BTreeSet<(String, String)> = log.allowed.into_iter().map(|u| (u.sid, u.action)).collect();
        for (sid, action) in granted_actions(function).difference(&used) {
            unused.push(format!(
                "{function} never used {action} of statement {sid}: remove it from template.yaml"
            ));
        }
    }
    // The denials first: they say which grant is missing, and what the user saw follows from them. A
    // grant counts as unused only on a day that went as it should (a denial stops the calls after it).
    let mut problems = denials;
    problems.extend(seen.iter().map(|problem| format!("seen by the user: {problem}")));
    if problems.is_empty() {
        problems = unused;
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Taking away one action the code uses makes the call fail as in AWS, named by function, action and key.
#[tokio::test]
async fn a_grant_taken_away_is_refused_and_named() {
    let app = spawn_app_with_policy(Box::new(|function, mut statements| {
        let taken = match function {
            "AggregateFunction" => "dynamodb:GetItem",
            "BroadcastFunction" => "execute-api:ManageConnections",
            _ => return statements,
        };
        for statement in &mut statements {
            statement.actions.retain(|action| action != taken);
        }
        statements
    }))
    .await;
    let _dashboard = app.dashboard().await;
    let hit = json!({"s": "demo", "e": "pageview", "u": "https://example.com/"});
    assert_eq!(app.send_hit(hit).await.status(), StatusCode::NO_CONTENT);
    let first_denial = |function: &'static str| {
        let app = &app;
        async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
            loop {
                let log = app.principals.log(function).await.unwrap();
                if let Some(denial) = log.denied.into_iter().next() {
                    return denial;
                }
                assert!(tokio::time::Instant::now() < deadline, "{function} was never denied");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    // The management API, which the gateway serves itself, checks the broadcast's policy too.
    let push = first_denial("BroadcastFunction").await;
    assert_eq!(push.action, "execute-api:ManageConnections");
    assert!(
        push.message.contains("assumed-role/BroadcastFunction/"),
        "{}",
        push.message
    );
    assert!(push.resource.contains("/POST/@connections/"), "{}", push.resource);
    let denial = first_denial("AggregateFunction").await;
    assert_eq!(denial.action, "dynamodb:GetItem");
    assert_eq!(denial.leading_keys, ["SITE#demo"]);
    for named in [
        "AggregateFunction",
        "dynamodb:GetItem",
        "SITE#demo",
        app.store.rollup_table(),
    ] {
        assert!(denial.message.contains(named), "{named} in {}", denial.message);
    }
    // The denial is permanent: the minute is skipped, not retried forever, and the view stays empty.
    let view: Value = app.realtime("?window=5", Some(&app.token)).await.json().await.unwrap();
    assert_eq!(view["pageViews"], 0);
}

/// DynamoDB stores magnitudes from 1e-130 to below 1e126. A visitor's out-of-range value is a 400 naming
/// its field; in-range values whose sum passes the limit saturate, and the minute keeps counting.
#[tokio::test]
async fn out_of_range_numbers_are_refused_and_sums_keep_the_minute_moving() {
    let app = spawn_app().await;
    set_purchase_goal(&app).await;
    let buy = |value: &str| {
        let body = format!(r#"{{"s":"demo","e":"event","u":"https://example.com/","en":"buy","ev":{value}}}"#);
        app.post_collect(body, "application/json", FIREFOX)
    };
    for out_of_range in ["1e126", "-1e126", "1e-131"] {
        let response = buy(out_of_range).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{out_of_range}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["field"], "ev", "{out_of_range}: {body}");
    }
    for _ in 0..2 {
        assert_eq!(buy("9e125").await.status(), StatusCode::NO_CONTENT);
    }
    let view = app
        .realtime_when("?window=5", |view| view["goals"][0]["conversions"] == 2)
        .await;
    assert_eq!(view["goals"][0]["value"], pulse_core::number::MAX_MAGNITUDE);
    // Later traffic in the same minute is still counted.
    for path in ["/a", "/b", "/c"] {
        let hit = json!({"s": "demo", "e": "pageview", "u": format!("https://example.com{path}")});
        assert_eq!(app.send_hit(hit).await.status(), StatusCode::NO_CONTENT);
    }
    assert_eq!(buy("1.5").await.status(), StatusCode::NO_CONTENT);
    app.realtime_when("?window=5", |view| {
        view["pageViews"] == 3 && view["goals"][0]["conversions"] == 3
    })
    .await;
}

/// ts-analytics' minimal tracker in stealth mode posts to `{api}/t`: the same hits as `/collect`.
#[tokio::test]
async fn the_stealth_trackers_route_collects_like_collect() {
    let app = spawn_app().await;
    let hit = json!({"s": "demo", "e": "pageview", "u": "https://example.com/stealth"});
    let response = app
        .http
        .post(format!("{}/t", app.address))
        .header("content-type", "text/plain")
        .header("user-agent", FIREFOX)
        .body(hit.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let view = app.realtime_when("?window=5", |view| view["pageViews"] == 1).await;
    assert_eq!(view["activePages"][0]["path"], "/stealth", "{view}");
}

/// API Gateway's per-route throttling: past the burst a route answers 429 before any function runs, and
/// each route has its own bucket.
#[tokio::test]
async fn a_route_past_its_throttling_limit_answers_429() {
    let settings = vec![
        ("HTTP_API_RATE_LIMIT", "0.5".to_owned()),
        ("HTTP_API_BURST_LIMIT", "2".to_owned()),
    ];
    let app = spawn_app_at(crate::helpers::moto_endpoint(), settings).await;
    let hit = || json!({"s": "demo", "e": "pageview", "u": "https://example.com/"});
    assert_eq!(app.send_hit(hit()).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.send_hit(hit()).await.status(), StatusCode::NO_CONTENT);
    let refused = app.send_hit(hit()).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.json::<Value>().await.unwrap()["message"], "Too Many Requests");
    assert_eq!(app.realtime("", Some(&app.token)).await.status(), StatusCode::OK);
    assert_eq!(app.events().await.len(), 2, "the refused hit never reached collect");
}

/// API Gateway closes a WebSocket idle for its idle timeout (10 minutes; shortened here), and `$disconnect`
/// removes its items; a client message keeps it open.
#[tokio::test]
async fn an_idle_dashboard_is_closed_and_forgotten() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let settings = vec![("WS_IDLE_TIMEOUT_SECONDS", "1.5".to_owned())];
    let app = spawn_app_at(crate::helpers::moto_endpoint(), settings).await;
    let mut socket = app.dashboard().await;
    let opened = tokio::time::Instant::now();
    // Pings within the timeout keep it open.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        socket.send(Message::Text(r#"{"action":"ping"}"#.into())).await.unwrap();
        let pong = socket.next().await.unwrap().unwrap();
        assert!(pong.to_text().unwrap().contains("pong"), "{pong:?}");
    }
    let closed = loop {
        match tokio::time::timeout(Duration::from_secs(5), socket.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => break frame,
            Ok(Some(Ok(_))) => continue,
            other => panic!("the idle socket was not closed: {other:?}"),
        }
    };
    assert_eq!(closed.map(|frame| u16::from(frame.code)), Some(1001));
    assert!(opened.elapsed() >= Duration::from_millis(2100 + 1400));
    crate::live::wait_until(async || !app.items().await.iter().any(|item| s(item, "pk").starts_with("CONN#"))).await;
}

/// A client message over the WebSocket API's 128 KB closes the connection, as API Gateway does.
#[tokio::test]
async fn a_message_over_128_kb_closes_the_dashboard() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let app = spawn_app().await;
    let mut socket = app.dashboard().await;
    let _ = socket.send(Message::Text("x".repeat(129 * 1024).into())).await;
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the connection stayed open");
    crate::live::wait_until(async || !app.items().await.iter().any(|item| s(item, "pk").starts_with("CONN#"))).await;
}

/// Per-partition throughput, scaled down (AWS gives a partition key 1,000 WCU a second; here 10): a burst
/// of hits to one site is throttled by DynamoDB, the SDK's retries absorb what they can, collect answers
/// the rest 503 with `Retry-After` (never a 5xx of its own, never a lost hit), and the tracker's retry
/// with the same `id` stores each hit exactly once.
#[tokio::test]
async fn a_throttled_partition_answers_503_and_the_trackers_retries_store_each_hit_once() {
    let moto = MotoServer::start_with_env(&[("LOCAL_DYNAMODB_PARTITION_WCU", "10")]);
    let settings = vec![("REQUEST_BUDGET_MS", "1500".to_owned())];
    let app = crate::helpers::spawn_app_on_private(moto, settings).await;
    let hits: Vec<Value> = (0..40)
        .map(|n| {
            json!({"s": "demo", "e": "pageview", "u": format!("https://example.com/p{n}"),
                   "id": uuid_v7(chrono::Utc::now())})
        })
        .collect();
    let send_all = |hits: Vec<Value>| {
        let app = &app;
        async move {
            let answers = futures::future::join_all(hits.iter().map(|hit| app.send_hit(hit.clone()))).await;
            let mut retry = Vec::new();
            let mut unavailable = 0;
            for (hit, answer) in hits.into_iter().zip(answers) {
                match answer.status() {
                    StatusCode::NO_CONTENT => {}
                    StatusCode::SERVICE_UNAVAILABLE => {
                        assert!(answer.headers().contains_key("retry-after"));
                        unavailable += 1;
                        retry.push(hit);
                    }
                    other => panic!("collect answered {other}: {:?}", answer.text().await),
                }
            }
            (retry, unavailable)
        }
    };
    let (mut pending, first_unavailable) = send_all(hits).await;
    assert!(
        first_unavailable > 0,
        "40 hits at once on 10 WCU should be throttled past the budget"
    );
    // The tracker's retry: the same hit, the same id, a moment later.
    for _ in 0..20 {
        if pending.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        pending = send_all(pending).await.0;
    }
    assert!(pending.is_empty(), "{} hits never stored", pending.len());
    assert_eq!(app.events().await.len(), 40, "every hit stored exactly once");
}
