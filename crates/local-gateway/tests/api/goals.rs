//! Goals end to end: defined on the site, matched by collect, counted by the fold, read back in the
//! realtime view and pushed to dashboards.

use pulse_core::goal::{Goal, GoalName, GoalRule};
use pulse_core::{SiteDirectory, SiteId};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{FIREFOX, spawn_app, uuid_v7};
use crate::live::next_events;

const CHROME: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

fn goal(name: &str, rule: GoalRule, value: Option<f64>) -> Goal {
    Goal {
        name: GoalName::parse(name).unwrap(),
        rule,
        value,
    }
}

#[tokio::test]
async fn conversions_are_counted_once_read_back_and_pushed() {
    let app = spawn_app().await;
    let demo = SiteId::parse("demo").unwrap();
    let goals = [
        goal(
            "signup",
            GoalRule::Page {
                path: "/signup/done".into(),
            },
            Some(10.0),
        ),
        goal(
            "pro plan",
            GoalRule::Event {
                name: "button_click".into(),
                property: Some(("plan".into(), "pro".into())),
            },
            None,
        ),
    ];
    app.store.set_goals(&demo, &goals).await.unwrap();
    assert_eq!(app.store.find_site(&demo).await.unwrap().unwrap().goals, goals);
    let mut socket = app.dashboard().await;

    let send = |user_agent: &'static str, hit: Value| {
        let app = &app;
        async move {
            let response = app.post_collect(hit.to_string(), "text/plain", user_agent).await;
            assert_eq!(response.status(), StatusCode::NO_CONTENT);
        }
    };
    // Visitor one converts on a page and retries that hit: one conversion.
    let signup = json!({"s": "demo", "e": "pageview", "u": "https://example.com/signup/done", "id": uuid_v7(chrono::Utc::now())});
    send(FIREFOX, signup.clone()).await;
    send(FIREFOX, signup).await;
    // Visitor two: a page view, a matching event with its own value, and one whose property differs.
    send(
        CHROME,
        json!({"s": "demo", "e": "pageview", "u": "https://example.com/pricing"}),
    )
    .await;
    send(
        CHROME,
        json!({"s": "demo", "e": "event", "u": "https://example.com/pricing",
        "p": {"name": "button_click", "value": 49, "plan": "pro"}}),
    )
    .await;
    send(
        CHROME,
        json!({"s": "demo", "e": "event", "u": "https://example.com/pricing",
        "p": {"name": "button_click", "plan": "free"}}),
    )
    .await;

    // Pushed: four events and two goal entries, each goal right after the event that completed it.
    let pushed = next_events(&mut socket, 6).await;
    let kinds: Vec<&str> = pushed.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "goal").count(), 2, "{pushed:?}");
    let signup_entry = pushed.iter().position(|e| e["goal"] == "signup").unwrap();
    assert_eq!(pushed[signup_entry - 1]["path"], "/signup/done");
    assert_eq!(pushed[signup_entry]["path"], "/signup/done");
    assert_eq!(pushed[signup_entry]["value"], 10.0);
    let pro = pushed.iter().find(|e| e["goal"] == "pro plan").unwrap();
    assert_eq!((&pro["name"], &pro["value"]), (&json!("button_click"), &json!(49.0)));

    let view = app
        .realtime_when("?minutes=5&events=20", |view| {
            view["goals"].as_array().is_some_and(|goals| goals.len() == 2) && view["currentVisitors"] == 2
        })
        .await;
    assert_eq!(
        view["goals"],
        json!([
            {"goal": "pro plan", "conversions": 1, "visitors": 1, "value": 49.0, "conversionRate": 0.5},
            {"goal": "signup", "conversions": 1, "visitors": 1, "value": 10.0, "conversionRate": 0.5},
        ])
    );
    // The feed: newest first, each goal entry just above its event.
    let feed = view["recentEvents"].as_array().unwrap();
    let goal_at = feed
        .iter()
        .position(|e| e["type"] == "goal" && e["goal"] == "pro plan")
        .unwrap();
    assert_eq!(feed[goal_at + 1]["type"], "event");
    assert_eq!(feed[goal_at + 1]["name"], "button_click");
    assert_eq!(
        feed[goal_at]["id"],
        format!("{}:pro plan", feed[goal_at + 1]["id"].as_str().unwrap())
    );
    assert_eq!(feed.len(), 6);
}
