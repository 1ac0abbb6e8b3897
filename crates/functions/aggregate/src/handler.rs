use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use chrono::Utc;
use lambda_runtime::{Error, LambdaEvent};
use pulse_dynamodb::DynamoStore;
use pulse_lambda::metrics::Metrics;
use pulse_lambda::{ConfigError, Environment};

use pulse_core::realtime::aggregate::{Aggregator, RollupStore};
use pulse_dynamodb::stream::{batch_range, raw_events};

use crate::Config;

/// Everything the handler needs, built once per cold start.
pub struct AggregateApp<S> {
    pub aggregator: Aggregator<S>,
}

impl<S: RollupStore> AggregateApp<S> {
    pub fn new(store: S, config: &Config) -> Self {
        Self {
            aggregator: Aggregator::new(store, config.aggregate.clone()),
        }
    }
}

impl pulse_lambda::FunctionApp for AggregateApp<DynamoStore> {
    async fn build(environment: &Environment<'_>) -> Result<Self, ConfigError> {
        let config = Config::from_lookup(environment.lookup())?;
        Ok(Self::new(environment.store(&config.tables).await, &config))
    }
}

/// Folds one stream batch into rollups. Records whose rollup could not be written are reported in
/// `batchItemFailures`, so Lambda retries from the first of them; a record that can never be decoded is
/// logged and skipped, never retried.
pub async fn function_handler<S: RollupStore>(
    app: &AggregateApp<S>,
    event: LambdaEvent<Event>,
) -> Result<DynamoDbEventResponse, Error> {
    let records = event.payload.records;
    let Some(batch) = batch_range(&records) else {
        return Ok(DynamoDbEventResponse::default());
    };
    let events = raw_events(&records);
    let received = events.len();
    let report = app.aggregator.fold(&batch, events, Utc::now()).await;
    tracing::info!(
        records = records.len(),
        events = received,
        writes = report.writes,
        failed = report.failed.len(),
        rejected = report.rejected,
        "batch folded"
    );
    Metrics::new("aggregate")
        .add("RollupWrites", report.writes as u64)
        .add("RollupsRejected", report.rejected as u64)
        .add("RollupsFailed", report.failed.len() as u64)
        .emit();
    let mut response = DynamoDbEventResponse::default();
    response.batch_item_failures = report
        .failed
        .into_iter()
        .map(|sequence| {
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = Some(sequence.as_str().to_owned());
            failure
        })
        .collect();
    Ok(response)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use pulse_core::memory::MemoryStore;
    use pulse_core::realtime::aggregate::AggregateConfig;

    use super::*;

    fn batch() -> String {
        pulse_test_support::event("aggregate/stream-batch")
    }

    fn invoke(store: MemoryStore, json: &str) -> (DynamoDbEventResponse, MemoryStore) {
        let event: Event = serde_json::from_str(json).expect("fixture is a DynamoDB stream event");
        let app = AggregateApp {
            aggregator: Aggregator::new(store, AggregateConfig::default()),
        };
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let response = runtime
            .block_on(function_handler(&app, LambdaEvent::new(event, Default::default())))
            .unwrap();
        (response, app.aggregator.into_store())
    }

    #[test]
    fn folds_only_raw_event_inserts() {
        let (response, store) = invoke(MemoryStore::default(), &batch());
        assert!(response.batch_item_failures.is_empty());
        let rollups = store.rollups.lock().unwrap();
        // The fixture: 3 page views and 1 custom event of 2 visitors in one minute, plus an RT# record,
        // a MODIFY and a REMOVE that must not count, and one undecodable page view that is skipped.
        let totals = rollups
            .values()
            .fold((0, 0), |(pv, ev), r| (pv + r.counts.pageviews, ev + r.counts.events));
        assert_eq!(totals, (3, 1));
        let visitors: std::collections::HashSet<_> = rollups.values().flat_map(|r| r.visitors().into_keys()).collect();
        assert_eq!(visitors.len(), 2);
    }

    #[test]
    fn the_same_batch_twice_changes_nothing() {
        let (_, store) = invoke(MemoryStore::default(), &batch());
        let before = store.rollups.lock().unwrap().clone();
        let writes = store.rollup_writes.load(Ordering::Relaxed);
        let (response, store) = invoke(store, &batch());
        assert!(response.batch_item_failures.is_empty());
        assert_eq!(*store.rollups.lock().unwrap(), before);
        assert_eq!(store.rollup_writes.load(Ordering::Relaxed), writes);
    }

    #[test]
    fn a_failed_write_reports_the_first_record_of_its_rollup() {
        let store = MemoryStore::default();
        store.unavailable.store(true, Ordering::Relaxed);
        let (response, _) = invoke(store, &batch());
        let failed: Vec<&str> = response
            .batch_item_failures
            .iter()
            .filter_map(|f| f.item_identifier.as_deref())
            .collect();
        assert_eq!(failed, ["4100000000000000000001"]);
    }
}
