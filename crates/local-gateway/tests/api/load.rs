//! The zero-loss load run, small: a few visitors for a few seconds, two dashboards.

use std::time::Duration;

use local_gateway::LocalStack;
use local_gateway::load::{self, LoadOptions};

use crate::helpers::{MotoServer, moto_endpoint};

#[tokio::test]
async fn concurrent_visitors_lose_nothing() {
    let table = format!("test-{}", pulse_core::EventId::random());
    let stack = LocalStack::start(&moto_endpoint(), &table).await.unwrap();
    let options = LoadOptions {
        visitors: 8,
        duration: Duration::from_secs(4),
        dashboards: 2,
        settle: Duration::from_secs(30),
        spreads: 1,
    };
    let report = load::run(&stack, &options).await.unwrap();
    assert!(report.accepted >= 8, "only {} hits accepted", report.accepted);
    assert_eq!(report.refused, 0);
    assert!(report.problems.is_empty(), "{:#?}", report.problems);
}

/// The same proof for a spread site on a DynamoDB whose partition keys take 10 WCU a second: its hits
/// are spread over 16 keys, the rollups folded per spread and merged by the view, and still every
/// accepted hit is stored once, counted once and pushed once to each of six dashboards.
#[tokio::test]
async fn a_spread_site_under_partition_limits_loses_nothing() {
    let moto = MotoServer::start_with_env(&[("LOCAL_DYNAMODB_PARTITION_WCU", "10")]);
    let table = format!("test-{}", pulse_core::EventId::random());
    let stack = LocalStack::start(&moto.endpoint(), &table).await.unwrap();
    let options = LoadOptions {
        visitors: 12,
        duration: Duration::from_secs(5),
        dashboards: 6,
        settle: Duration::from_secs(30),
        spreads: 16,
    };
    let report = load::run(&stack, &options).await.unwrap();
    assert!(report.accepted >= 12, "only {} hits accepted", report.accepted);
    assert_eq!(report.refused, 0);
    assert!(report.problems.is_empty(), "{:#?}", report.problems);
    assert_eq!(report.push_delays.len(), 6 * report.accepted);
}
