//! `site delete --purge` against moto: every item of the purged site goes, from both tables and the feed
//! index; every item of another site stays; running it again, or after a plain delete, finishes the job.

mod common;

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{Duration, Utc};
use common::{admin, fresh_table, stderr, stdout};
use pulse_core::live::{ConnectionId, ConnectionStore};
use pulse_core::realtime::aggregate::{AggregateConfig, StreamEvent, fold_batch};
use pulse_core::realtime::{SequenceNumber, SequenceRange};
use pulse_core::{EventId, EventKind, EventStore, SiteId};
use pulse_dynamodb::DynamoStore;

type Item = HashMap<String, AttributeValue>;

/// Raw events of every kind (one under `ID#` with a feed key), their rollups folded as the aggregate
/// does (counts, a visitor part, a fingerprint bucket), and two open dashboards.
async fn traffic(store: &DynamoStore, site: &str) {
    let now = Utc::now();
    let site_id = SiteId::parse(site).unwrap();
    let kinds = [
        EventKind::Pageview,
        EventKind::Pageview,
        EventKind::Event,
        EventKind::Outbound,
    ];
    let mut records = Vec::new();
    for (index, kind) in kinds.into_iter().enumerate() {
        let mut event = pulse_core::memory::sample_event(kind, &format!("{site}-{index}"), now);
        event.site = site_id.clone();
        event.visitor = format!("visitor-{index}");
        if index == 1 {
            // A client id that carries no time: keyed `ID#…` and found by the feed index.
            event.id = EventId::parse(&format!("{site}-no-time")).unwrap();
            event.client_id = true;
        }
        store.put_event(&event, now + Duration::hours(1)).await.unwrap();
        let sequence = SequenceNumber::parse(&(index + 1).to_string()).unwrap();
        records.push(StreamEvent { sequence, event });
    }
    let range = SequenceRange {
        first: records[0].sequence.clone(),
        last: records[3].sequence.clone(),
    };
    let report = fold_batch(store, &AggregateConfig::default(), &range, records, now).await;
    assert!(report.failed.is_empty() && report.rejected == 0, "{report:?}");
    for index in 0..2 {
        let connection = ConnectionId::parse(&format!("{site}Conn{index}=")).unwrap();
        store
            .add_connection(&site_id, &connection, None, 200, now + Duration::hours(2))
            .await
            .unwrap();
    }
}

/// Every item of the events table, its feed index and the rollup table, by where it was found.
async fn everything(store: &DynamoStore) -> Vec<(&'static str, Item)> {
    let mut all = Vec::new();
    for (name, table, index) in [
        ("events", store.table(), None),
        ("feed", store.table(), Some(pulse_dynamodb::keys::FEED_INDEX)),
        ("rollups", store.rollup_table(), None),
    ] {
        let mut start = None;
        loop {
            let page = store
                .client()
                .scan()
                .table_name(table)
                .set_index_name(index.map(str::to_owned))
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap();
            all.extend(page.items.unwrap_or_default().into_iter().map(|item| (name, item)));
            start = page.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
    }
    all
}

/// Whether any string attribute names `site`: a key (`SITE#…`, `LIVE#…`, the registry's sort key, a
/// connection id made from the site's name), `site` and `site_id`, event ids.
fn names(item: &Item, site: &str) -> bool {
    item.values().any(|value| value.as_s().is_ok_and(|s| s.contains(site)))
}

/// The keys of the items that name `site`, with where they were found.
async fn items_of(store: &DynamoStore, site: &str) -> BTreeSet<(&'static str, String, String)> {
    let key = |item: &Item, name: &str| item[name].as_s().unwrap().clone();
    everything(store)
        .await
        .into_iter()
        .filter(|(_, item)| names(item, site))
        .map(|(place, item)| (place, key(&item, "pk"), key(&item, "sk")))
        .collect()
}

#[tokio::test]
async fn purging_a_site_removes_every_item_of_it_and_nothing_else() {
    let (table, store) = fresh_table().await;
    for site in ["gone", "kept", "stale"] {
        stdout(&admin(
            &table,
            &["site", "create", "--id", site, "--domain", &format!("{site}.example")],
        ));
        stdout(&admin(
            &table,
            &["goal", "add", "--site", site, "--name", "signup", "--page", "/done"],
        ));
        traffic(&store, site).await;
    }
    let before = |site| items_of(&store, site);
    let gone_before = before("gone").await;
    let places: BTreeSet<&str> = gone_before.iter().map(|(place, _, _)| *place).collect();
    assert_eq!(places, BTreeSet::from(["events", "feed", "rollups"]), "{gone_before:?}");
    let kept = before("kept").await;
    assert_eq!(kept.len(), gone_before.len());

    // No broadcast runs here to close the dashboards: no wait for it.
    let purge = [
        "site",
        "delete",
        "--id",
        "gone",
        "--purge",
        "--wait-for-dashboards",
        "0",
    ];
    let purged = stderr(&admin(&table, &purge));
    assert!(
        // Other: the two connections' cap slots.
        purged.contains("4 raw events, 2 connections, 2 rollup items, 1 fingerprint buckets, 2 other items")
            && purged.contains("registry item (with its goals) removed")
            && purged.contains("run the purge again"),
        "{purged}"
    );
    assert_eq!(items_of(&store, "gone").await, BTreeSet::new());
    assert_eq!(items_of(&store, "kept").await, kept);

    // Again: nothing left, no error.
    let again = stderr(&admin(&table, &purge));
    assert!(
        again.contains("0 raw events, 0 connections, 0 rollup items")
            && again.contains("registry item was already gone"),
        "{again}"
    );

    // A plain delete leaves the data to TTL; a purge afterwards removes what is left.
    let help = stdout(&admin(&table, &["site", "delete", "--help"]));
    assert!(help.contains("data stays until TTL"), "{help}");
    stdout(&admin(&table, &["site", "delete", "--id", "stale"]));
    let left = items_of(&store, "stale").await;
    assert!(
        left.iter().any(|(_, pk, _)| pk == "SITE#stale") && !left.iter().any(|(_, pk, _)| pk == "SITES"),
        "{left:?}"
    );
    let leftovers = stderr(&admin(
        &table,
        &[
            "site",
            "delete",
            "--id",
            "stale",
            "--purge",
            "--wait-for-dashboards",
            "0",
        ],
    ));
    assert!(
        leftovers.contains("4 raw events") && leftovers.contains("already gone"),
        "{leftovers}"
    );
    assert_eq!(items_of(&store, "stale").await, BTreeSet::new());
    assert_eq!(items_of(&store, "kept").await, kept);
    let list = stdout(&admin(&table, &["site", "list"]));
    assert!(list.lines().any(|line| line.starts_with("kept ")), "{list}");
    assert!(!list.contains("gone") && !list.contains("stale"), "{list}");
}
