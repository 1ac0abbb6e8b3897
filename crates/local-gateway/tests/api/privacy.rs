//! What the product keeps of a visitor: outbound links without their query (unless the site opts in).

use std::time::Duration;

use futures::StreamExt;
use pulse_core::SiteId;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{TestApp, s, spawn_app};
use crate::live::Socket;

const LINK: &str = "https://other.example/x?token=abc&email=a@b.c#frag";

/// A second site on its own domain, with its read token.
async fn add_site(app: &TestApp, id: &str, keep_outbound_query: bool) -> String {
    let token = pulse_core::ReadToken::generate();
    app.store
        .create_site(&pulse_core::Site {
            id: SiteId::parse(id).unwrap(),
            domains: vec![format!("{id}.example")],
            public: false,
            token_hash: token.hash(),
            goals: Vec::new(),
            keep_outbound_query,
        })
        .await
        .unwrap();
    token.expose().to_owned()
}

/// The next `count` events pushed to `socket`, whatever their site.
async fn pushed(socket: &mut Socket, count: usize) -> Vec<Value> {
    let mut events = Vec::new();
    while events.len() < count {
        let message = tokio::time::timeout(Duration::from_secs(15), socket.next())
            .await
            .expect("pushed in time")
            .expect("socket open")
            .expect("a frame");
        if let Message::Text(text) = message {
            let message: Value = serde_json::from_str(&text).unwrap();
            events.extend(message["events"].as_array().into_iter().flatten().cloned());
        }
    }
    events
}

/// Our tracker's outbound click and ts-analytics' `outbound_click` event, to `site`'s page.
fn outbound_hits(site: &str, host: &str) -> [Value; 2] {
    let page = format!("https://{host}/docs");
    [
        json!({"s": site, "e": "outbound", "u": page, "p": {"url": LINK}}),
        json!({"s": site, "e": "event", "en": "outbound_click", "u": page,
            "p": {"url": LINK, "hostname": "other.example"}}),
    ]
}

#[tokio::test]
async fn outbound_urls_keep_scheme_host_and_path_unless_the_site_opts_in() {
    let app = spawn_app().await;
    let token = add_site(&app, "links", true).await;
    let mut plain = app.dashboard().await;
    let mut opted_in = app.dashboard_for("links", Some(&token)).await;
    for hit in outbound_hits("demo", "example.com")
        .into_iter()
        .chain(outbound_hits("links", "links.example"))
    {
        assert_eq!(app.send_hit(hit).await.status(), StatusCode::NO_CONTENT);
    }
    let reduced = "https://other.example/x";
    let with_query = "https://other.example/x?token=abc&email=a@b.c";
    for (socket, url) in [(&mut plain, reduced), (&mut opted_in, with_query)] {
        let events = pushed(socket, 2).await;
        let urls: Vec<&str> = events.iter().map(|event| event["url"].as_str().unwrap()).collect();
        assert_eq!(urls, [url, url], "{events:?}");
    }
    let stored = app.events().await;
    assert_eq!(stored.len(), 4);
    for event in &stored {
        assert_eq!(s(event, "kind"), "outbound");
        let expected = if s(event, "site") == "links" {
            with_query
        } else {
            reduced
        };
        assert_eq!(s(event, "url"), expected);
    }
}
