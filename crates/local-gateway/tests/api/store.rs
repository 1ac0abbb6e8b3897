use chrono::NaiveDate;
use futures::future::join_all;
use pulse_core::{SaltStore, SiteDirectory, SiteId};
use pulse_dynamodb::SiteAdminError;

use crate::helpers::{s, spawn_app};

#[tokio::test]
async fn concurrent_first_requests_of_the_day_agree_on_one_salt() {
    let app = spawn_app().await;
    let day = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
    // Polled together so the creates race, as concurrent cold starts would.
    let salts = join_all((0..8).map(|_| app.store.daily_salt(day))).await;
    let first = salts[0].as_ref().unwrap();
    assert!(salts.iter().all(|salt| salt.as_ref().unwrap() == first));
    // In the table without backups or a stream, never in the events table.
    assert!(!app.items().await.iter().any(|i| s(i, "pk") == "SALT"));
    let items = app.scan(app.store.rollup_table()).await;
    let stored: Vec<_> = items.iter().filter(|i| s(i, "pk") == "SALT").collect();
    assert_eq!(stored.len(), 1);
    assert_eq!(s(stored[0], "sk"), "DAY#2026-03-01");
    // A new day gets a new salt.
    let next = app.store.daily_salt(day.succ_opt().unwrap()).await.unwrap();
    assert_ne!(&next, first);
}

#[tokio::test]
async fn site_registry_round_trip() {
    let app = spawn_app().await;
    let demo = SiteId::parse("demo").unwrap();
    let site = app.store.find_site(&demo).await.unwrap().expect("demo exists");
    assert!(site.token_hash.verifies(&app.token));
    assert!(
        !site.token_hash.as_str().contains(&app.token),
        "only the hash is stored"
    );

    let new_token = pulse_core::ReadToken::generate();
    app.store.set_token_hash(&demo, &new_token.hash()).await.unwrap();
    let site = app.store.find_site(&demo).await.unwrap().unwrap();
    assert!(site.token_hash.verifies(new_token.expose()));
    assert!(!site.token_hash.verifies(&app.token));

    assert!(matches!(
        app.store.create_site(&site).await,
        Err(SiteAdminError::AlreadyExists(_))
    ));
    assert_eq!(app.store.list_sites().await.unwrap(), vec![site]);
    app.store.delete_site(&demo).await.unwrap();
    assert!(app.store.find_site(&demo).await.unwrap().is_none());
    assert!(matches!(
        app.store.delete_site(&demo).await,
        Err(SiteAdminError::NotFound(_))
    ));
}

/// DynamoDB's refusal of an item over 400 KB is permanent: the adapter says so, and the fold skips it
/// instead of retrying it forever.
#[tokio::test]
async fn an_item_over_the_size_limit_is_a_permanent_refusal() {
    use pulse_core::realtime::aggregate::{RollupKey, RollupStore};
    use pulse_core::realtime::{Minute, Stamp, Stamped, VisitorKey, VisitorPart, VisitorState};

    let app = spawn_app().await;
    let minute = Minute::of(chrono::Utc::now());
    let mut part = VisitorPart::default();
    part.visitors.insert(
        VisitorKey(1),
        VisitorState {
            page: Some(Stamped {
                at: Stamp {
                    millis: minute.start().timestamp_millis(),
                },
                value: format!("/{}", "x".repeat(450 * 1024)),
            }),
            ..Default::default()
        },
    );
    let key = RollupKey {
        site: SiteId::parse("demo").unwrap(),
        minute,
        spread: Default::default(),
    };
    let refused = app
        .store
        .save_part(&key, 0, &part, None, chrono::Utc::now())
        .await
        .expect_err("an item over 400 KB is refused");
    assert!(matches!(refused, pulse_core::StoreError::Rejected(_)), "{refused:?}");
    assert!(!refused.is_transient());
}
