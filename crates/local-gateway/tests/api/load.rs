//! The zero-loss load run, small: a few visitors for a few seconds, two dashboards.

use std::time::Duration;

use local_gateway::LocalStack;
use local_gateway::load::{self, LoadOptions};

use crate::helpers::moto_endpoint;

#[tokio::test]
async fn concurrent_visitors_lose_nothing() {
    let table = format!("test-{}", pulse_core::EventId::random());
    let stack = LocalStack::start(&moto_endpoint(), &table).await.unwrap();
    let options = LoadOptions {
        visitors: 8,
        duration: Duration::from_secs(4),
        dashboards: 2,
        settle: Duration::from_secs(30),
    };
    let report = load::run(&stack, &options).await.unwrap();
    assert!(report.accepted >= 8, "only {} hits accepted", report.accepted);
    assert_eq!(report.refused, 0);
    assert!(report.problems.is_empty(), "{:#?}", report.problems);
}
