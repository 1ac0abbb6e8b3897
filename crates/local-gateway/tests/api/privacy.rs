//! What the product keeps of a visitor and a site: outbound links without their query (unless the site
//! opts in), and a site purge that leaves nothing of it in either table.

use std::collections::BTreeSet;
use std::time::Duration;

use futures::StreamExt;
use pulse_core::realtime::Minute;
use pulse_core::spread::{MAX_SPREADS, Spread, Spreads};
use pulse_core::{RealtimeStore, SiteId};
use pulse_dynamodb::Purged;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{Item, TestApp, s, spawn_app};
use crate::live::{Socket, wait_until};

const LINK: &str = "https://other.example/x?token=abc&email=a@b.c#frag";

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
    let token = app.add_site("links", true).await;
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

/// Whether an item names `site`: in a key (`SITE#…`, a spread's `SITE#…#k`, `LIVE#…`, the registry's
/// sort key) or as a value (`site`, `site_id`).
fn names(item: &Item, site: &str) -> bool {
    let (suffix, infix) = (format!("#{site}"), format!("#{site}#"));
    item.values()
        .filter_map(|value| value.as_s().ok())
        .any(|value| value == site || value.ends_with(&suffix) || value.contains(&infix))
}

/// The keys of every item that names `site`, in the events table, its feed index and the rollup table.
async fn items_of(app: &TestApp, site: &str) -> BTreeSet<(&'static str, String, String)> {
    let mut found = BTreeSet::new();
    let feed = app
        .store
        .client()
        .scan()
        .table_name(app.store.table())
        .index_name(pulse_dynamodb::keys::FEED_INDEX)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    for (place, items) in [
        ("events", app.items().await),
        ("feed", feed),
        ("rollups", app.scan(app.store.rollup_table()).await),
    ] {
        let keys = items
            .iter()
            .filter(|item| names(item, site))
            .map(|item| (place, s(item, "pk").to_owned(), s(item, "sk").to_owned()));
        found.extend(keys);
    }
    found
}

/// Page views, one with a client id that carries no time (`ID#`, in the feed index), a custom event and
/// an outbound click.
async fn traffic(app: &TestApp, site: &str, host: &str) {
    let page = format!("https://{host}/pricing");
    for hit in [
        json!({"s": site, "e": "pageview", "u": page}),
        json!({"s": site, "e": "pageview", "u": page, "id": format!("evt_{site}")}),
        json!({"s": site, "e": "event", "u": page, "p": {"name": "signup"}}),
        json!({"s": site, "e": "outbound", "u": page, "p": {"url": LINK}}),
    ] {
        assert_eq!(app.send_hit(hit).await.status(), StatusCode::NO_CONTENT);
    }
}

/// The site's page views and other events in its rollups around now.
fn every_spread() -> Vec<Spread> {
    (0..MAX_SPREADS).map(|index| Spread::try_from(index).unwrap()).collect()
}

async fn folded(app: &TestApp, site: &str) -> (u64, u64) {
    let now = Minute::of(chrono::Utc::now());
    let rollups = app
        .store
        .rollups(
            &SiteId::parse(site).unwrap(),
            &every_spread(),
            now.plus(-2),
            now.plus(1),
        )
        .await
        .unwrap();
    rollups.iter().fold((0, 0), |(pv, ev), (_, rollup)| {
        (pv + rollup.counts.pageviews, ev + rollup.counts.events)
    })
}

/// Real traffic through the whole stack for two sites (raw events, the aggregate's rollups and
/// fingerprint buckets, the day's salt, open dashboards), then one site purged: nothing of it is left
/// anywhere, everything of the other site is, and a second purge finds nothing and fails nothing.
#[tokio::test]
async fn purging_a_site_removes_every_item_of_it_and_nothing_else() {
    let app = spawn_app().await;
    let shop_token = app.add_site("shop", false).await;
    // The purged site is a busy one: its items are under several of its spreads' keys.
    let now = chrono::Utc::now();
    let spreads = Spreads::default()
        .change_at(MAX_SPREADS, Minute::of(now).plus(-1), now)
        .unwrap();
    app.store
        .set_spreads(&SiteId::parse("demo").unwrap(), &spreads)
        .await
        .unwrap();
    let _demo_dashboard = app.dashboard().await;
    let _shop_dashboard = app.dashboard_for("shop", Some(&shop_token)).await;
    traffic(&app, "demo", "example.com").await;
    traffic(&app, "shop", "shop.example").await;
    wait_until(async || folded(&app, "demo").await == (2, 2) && folded(&app, "shop").await == (2, 2)).await;

    let demo = items_of(&app, "demo").await;
    let places: BTreeSet<&str> = demo.iter().map(|(place, _, _)| *place).collect();
    assert_eq!(places, BTreeSet::from(["events", "feed", "rollups"]), "{demo:?}");
    let event_keys: BTreeSet<&str> = demo
        .iter()
        .filter(|(place, _, _)| *place == "events")
        .map(|(_, pk, _)| pk.as_str())
        .filter(|pk| pk.starts_with("SITE#"))
        .collect();
    assert!(event_keys.len() >= 2, "{event_keys:?}");
    let shop = items_of(&app, "shop").await;

    let site = SiteId::parse("demo").unwrap();
    let purged = app.store.purge_site(&site).await.unwrap();
    assert_eq!((purged.raw_events, purged.connections), (4, 1));
    // Other: the dashboard's cap slot and a hit counter for each second the traffic spanned.
    assert!(purged.other >= 2, "{purged:?}");
    assert!(purged.rollups >= 2 && purged.fingerprint_buckets >= 1, "{purged:?}");
    assert!(purged.registry);
    // The stream's records of the deletes reach no consumer that writes: nothing comes back.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(items_of(&app, "demo").await, BTreeSet::new());
    assert_eq!(items_of(&app, "shop").await, shop);
    let salts = app.scan(app.store.rollup_table()).await;
    assert!(
        salts.iter().any(|item| s(item, "pk") == "SALT"),
        "the day's salt is no site's"
    );

    assert_eq!(app.store.purge_site(&site).await.unwrap(), Purged::default());
}
