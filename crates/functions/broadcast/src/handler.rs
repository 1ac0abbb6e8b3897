use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::dynamodb::EventRecord;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use lambda_runtime::{Error, LambdaEvent};
use pulse_core::StoredEvent;
use pulse_core::live::{BroadcastConfig, Broadcaster, ConnectionCloser, ConnectionSender, ConnectionStore};
use pulse_dynamodb::DynamoStore;
use pulse_dynamodb::management::ApiGatewaySender;
use pulse_dynamodb::stream::{raw_events, registry_changes};
use pulse_lambda::metrics::Metrics;
use pulse_lambda::{ConfigError, Environment};

use crate::Config;

/// Everything the handler needs, built once per cold start.
pub struct BroadcastApp<S, C> {
    pub broadcaster: Broadcaster<S, C>,
}

impl<S: ConnectionStore, C: ConnectionSender + ConnectionCloser> BroadcastApp<S, C> {
    pub fn new(store: S, channel: C, config: BroadcastConfig) -> Self {
        Self {
            broadcaster: Broadcaster::new(store, channel, config),
        }
    }
}

impl pulse_lambda::FunctionApp for BroadcastApp<DynamoStore, ApiGatewaySender> {
    async fn build(environment: &Environment<'_>) -> Result<Self, ConfigError> {
        let config = Config::from_lookup(environment.lookup())?;
        Ok(Self::new(
            environment.store(&config.tables).await,
            ApiGatewaySender::new(environment.sdk_config().await, &config.websocket_endpoint),
            BroadcastConfig::default(),
        ))
    }
}

/// Sends the batch's events, one message per connection of each site. A failed delivery is logged and
/// dropped, so Lambda does not redeliver the batch and nobody gets duplicates. The one exception: when
/// a site's connections could not be listed, nothing was sent to anyone, and the batch is reported
/// failed from its first record so that Lambda delivers it again (up to the mapping's retries).
pub async fn function_handler<S, C>(
    app: &BroadcastApp<S, C>,
    event: LambdaEvent<Event>,
) -> Result<DynamoDbEventResponse, Error>
where
    S: ConnectionStore,
    C: ConnectionSender + ConnectionCloser,
{
    let revoked = revoke(app, &event.payload.records).await;
    let events: Vec<StoredEvent> = raw_events(&event.payload.records)
        .into_iter()
        .map(|r| r.event)
        .collect();
    if events.is_empty() {
        if revoked > 0 {
            Metrics::new("broadcast")
                .add("ConnectionsRevoked", revoked as u64)
                .emit();
        }
        return Ok(DynamoDbEventResponse::default());
    }
    // Stops before the invocation's deadline: a timeout would redeliver the whole batch, and every
    // dashboard already served would get it twice.
    let report = app.broadcaster.push(&events, event.context.deadline).await;
    tracing::info!(
        events = events.len(),
        messages = report.messages_sent,
        gone = report.gone,
        failed = report.failed,
        expired = report.expired,
        "batch broadcast"
    );
    Metrics::new("broadcast")
        .add("ConnectionsRevoked", revoked as u64)
        .add("MessagesSent", report.messages_sent as u64)
        .add("ConnectionsGone", report.gone as u64)
        .add("DeliveriesFailed", report.failed as u64)
        .add("DeliveriesExpired", report.expired as u64)
        .add("BatchesRedelivered", u64::from(report.unlisted))
        .emit();
    let mut response = DynamoDbEventResponse::default();
    if report.unlisted {
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = event
            .payload
            .records
            .iter()
            .find_map(|record| record.change.sequence_number.clone());
        response.batch_item_failures.push(failure);
    }
    Ok(response)
}

/// Closes the dashboards that a registry change in the batch no longer admits (a rotated token, a
/// deleted site): revocation needs no operator, and a dashboard holding the old token stops receiving
/// within the stream's delay. Done before the batch's events are sent, so a revoked dashboard gets none
/// of them. A failure is logged, not retried (the batch is not redelivered for it); `pulse-admin
/// --stack` closes the same connections.
async fn revoke<S, C>(app: &BroadcastApp<S, C>, records: &[EventRecord]) -> usize
where
    S: ConnectionStore,
    C: ConnectionSender + ConnectionCloser,
{
    let mut revoked = 0;
    for change in registry_changes(records) {
        match app.broadcaster.revoke(&change.site_id, change.now.as_ref()).await {
            Ok(closed) => revoked += closed,
            Err(err) => tracing::error!(site = %change.site_id, error = %err, "could not close revoked dashboards"),
        }
    }
    revoked
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use pulse_core::SiteId;
    use pulse_core::live::{ConnectionId, SendError};
    use pulse_core::memory::MemoryStore;
    use serde_json::Value;

    use super::*;

    /// Records what it sends; `gone` connections answer 410, `throttled` ones 429 once.
    #[derive(Default)]
    struct RecordingSender {
        sent: Mutex<BTreeMap<String, Vec<Value>>>,
        gone: Vec<String>,
        throttled_once: Mutex<Vec<String>>,
        closed: Mutex<Vec<String>>,
    }

    impl ConnectionSender for RecordingSender {
        async fn send(&self, connection: &ConnectionId, message: &[u8]) -> Result<(), SendError> {
            if self.gone.iter().any(|g| g == connection.as_str()) {
                return Err(SendError::Gone);
            }
            let mut throttled = self.throttled_once.lock().unwrap();
            if let Some(i) = throttled.iter().position(|t| t == connection.as_str()) {
                throttled.remove(i);
                return Err(SendError::Throttled);
            }
            let message = serde_json::from_slice(message).unwrap();
            self.sent
                .lock()
                .unwrap()
                .entry(connection.to_string())
                .or_default()
                .push(message);
            Ok(())
        }
    }

    impl ConnectionCloser for RecordingSender {
        async fn close(&self, connection: &ConnectionId) -> Result<(), SendError> {
            self.closed.lock().unwrap().push(connection.to_string());
            Ok(())
        }
    }

    /// The connections the store still holds.
    fn remaining(store: &MemoryStore) -> Vec<String> {
        store
            .connections
            .lock()
            .unwrap()
            .keys()
            .map(|c| c.to_string())
            .collect()
    }

    /// A store holding these (connection, site) pairs.
    fn store_with(connections: &[(&str, &str)]) -> MemoryStore {
        let store = MemoryStore::default();
        for (connection, site) in connections {
            store
                .connections
                .lock()
                .unwrap()
                .insert(ConnectionId::parse(connection).unwrap(), SiteId::parse(site).unwrap());
        }
        store
    }

    async fn run(
        connections: &[(&str, &str)],
        sender: RecordingSender,
    ) -> (BroadcastApp<MemoryStore, RecordingSender>, DynamoDbEventResponse) {
        let app = BroadcastApp::new(store_with(connections), sender, BroadcastConfig::default());
        let event: Event = serde_json::from_str(&pulse_test_support::event("broadcast/stream-batch")).unwrap();
        let response = function_handler(&app, LambdaEvent::new(event, Default::default()))
            .await
            .unwrap();
        (app, response)
    }

    #[tokio::test]
    async fn each_connection_gets_one_message_with_its_sites_events() {
        let (app, response) = run(
            &[("a1", "demo"), ("a2", "demo"), ("b1", "docs-site"), ("c1", "other")],
            RecordingSender::default(),
        )
        .await;
        assert!(response.batch_item_failures.is_empty());
        let sent = app.broadcaster.channel().sent.lock().unwrap();
        for demo in ["a1", "a2"] {
            assert_eq!(sent[demo].len(), 1, "one message for the batch");
            let message = &sent[demo][0];
            assert_eq!(message["type"], "events");
            assert_eq!(message["siteId"], "demo");
            let types: Vec<&str> = message["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["type"].as_str().unwrap())
                .collect();
            assert_eq!(types, ["pageview", "pageview", "event", "pageview"]);
            assert_eq!(message["events"][0]["path"], "/pricing");
            assert_eq!(message["events"][2]["name"], "signup");
        }
        assert_eq!(sent["b1"][0]["events"][0]["type"], "outbound");
        assert_eq!(sent["b1"][0]["events"][0]["url"], "https://github.com/example/repo");
        assert!(
            !sent.contains_key("c1"),
            "a connection of another site receives nothing"
        );
    }

    /// A store that cannot list a site's connections (throttled, overloaded) is asked again; while it
    /// still cannot, nothing is sent to anyone and the batch is reported failed from its first record,
    /// so Lambda delivers it again and every dashboard gets it once.
    #[tokio::test]
    async fn a_batch_whose_connections_cannot_be_listed_is_delivered_again() {
        let app = BroadcastApp::new(
            store_with(&[("a1", "demo"), ("b1", "docs-site")]),
            RecordingSender::default(),
            BroadcastConfig::default(),
        );
        let event: Event = serde_json::from_str(&pulse_test_support::event("broadcast/stream-batch")).unwrap();
        let store = app.broadcaster.store();
        store.unavailable.store(true, std::sync::atomic::Ordering::Relaxed);
        let response = function_handler(&app, LambdaEvent::new(event.clone(), Default::default()))
            .await
            .unwrap();
        let failed: Vec<_> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_deref())
            .collect();
        assert_eq!(failed, [Some("4100000000000000000001")]);
        assert!(
            app.broadcaster.channel().sent.lock().unwrap().is_empty(),
            "nothing sent to anyone"
        );

        // Delivered again while the store recovers between two attempts: each dashboard gets it once.
        let recovering = async {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            store.unavailable.store(false, std::sync::atomic::Ordering::Relaxed);
        };
        let (response, ()) = tokio::join!(
            function_handler(&app, LambdaEvent::new(event, Default::default())),
            recovering
        );
        assert!(response.unwrap().batch_item_failures.is_empty());
        let sent = app.broadcaster.channel().sent.lock().unwrap();
        assert_eq!((sent["a1"].len(), sent["b1"].len()), (1, 1));
    }

    #[tokio::test]
    async fn gone_connections_are_forgotten_and_throttling_is_retried() {
        let sender = RecordingSender {
            gone: vec!["a1".into()],
            throttled_once: Mutex::new(vec!["a2".into()]),
            ..RecordingSender::default()
        };
        let (app, response) = run(&[("a1", "demo"), ("a2", "demo")], sender).await;
        assert!(
            response.batch_item_failures.is_empty(),
            "delivery problems never fail the batch"
        );
        assert_eq!(remaining(app.broadcaster.store()), ["a2"]);
        assert_eq!(
            app.broadcaster.channel().sent.lock().unwrap()["a2"].len(),
            1,
            "retried after the throttle, sent once"
        );
    }

    /// A rotated token closes the dashboards admitted with the old one and keeps those of the new one; a
    /// deleted site loses all of its dashboards; a site that did not change keeps its own.
    #[tokio::test]
    async fn a_rotation_or_a_deletion_in_the_stream_closes_the_revoked_dashboards() {
        let store = store_with(&[("old", "demo"), ("new", "demo"), ("d1", "docs-site"), ("o1", "other")]);
        let admitted = [
            ("old", "pt_demo-token"),
            ("new", "pt_rotated-token"),
            ("d1", "pt_docs"),
            ("o1", "pt_o"),
        ];
        for (connection, token) in admitted {
            let hash = pulse_core::TokenHash::of(token);
            store
                .admitted_with
                .lock()
                .unwrap()
                .insert(ConnectionId::parse(connection).unwrap(), hash);
        }
        let app = BroadcastApp::new(store, RecordingSender::default(), BroadcastConfig::default());
        let event: Event = serde_json::from_str(&pulse_test_support::event("broadcast/registry-changes")).unwrap();
        let response = function_handler(&app, LambdaEvent::new(event, Default::default()))
            .await
            .unwrap();
        assert!(response.batch_item_failures.is_empty());
        let mut closed = app.broadcaster.channel().closed.lock().unwrap().clone();
        closed.sort();
        assert_eq!(closed, ["d1", "old"]);
        assert_eq!(remaining(app.broadcaster.store()), ["new", "o1"]);
    }

    /// Answers the connection named `stuck` only after an hour; the others at once.
    struct StuckSender {
        stuck: &'static str,
        sent: Mutex<Vec<String>>,
    }

    impl ConnectionCloser for StuckSender {
        async fn close(&self, _connection: &ConnectionId) -> Result<(), SendError> {
            Ok(())
        }
    }

    impl ConnectionSender for StuckSender {
        async fn send(&self, connection: &ConnectionId, _message: &[u8]) -> Result<(), SendError> {
            if connection.as_str() == self.stuck {
                tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
            }
            self.sent.lock().unwrap().push(connection.to_string());
            Ok(())
        }
    }

    /// A delivery that hangs does not run the invocation into its timeout (which would redeliver the
    /// batch to every dashboard already served): the broadcast stops at its deadline and succeeds.
    #[tokio::test]
    async fn the_broadcast_stops_before_the_invocations_deadline() {
        let app = BroadcastApp::new(
            store_with(&[("a1", "demo"), ("a2", "demo"), ("b1", "docs-site")]),
            StuckSender {
                stuck: "a2",
                sent: Mutex::default(),
            },
            BroadcastConfig::default(),
        );
        let event: Event = serde_json::from_str(&pulse_test_support::event("broadcast/stream-batch")).unwrap();
        let mut context = lambda_runtime::Context::default();
        let deadline = std::time::SystemTime::now() + std::time::Duration::from_millis(1500);
        context.deadline = deadline.duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
        let started = std::time::Instant::now();
        let response = function_handler(&app, LambdaEvent::new(event, context)).await.unwrap();
        assert!(
            started.elapsed() < std::time::Duration::from_millis(1400),
            "{:?}",
            started.elapsed()
        );
        assert!(response.batch_item_failures.is_empty());
        let mut sent = app.broadcaster.channel().sent.lock().unwrap().clone();
        sent.sort();
        assert_eq!(sent, ["a1", "b1"], "the others were served before the deadline");
    }
}
