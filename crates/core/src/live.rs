//! Live push: dashboard connections and the broadcast of new events to them.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{self, StreamExt};
use serde::Serialize;

use crate::event::StoredEvent;
use crate::ports::StoreError;
use crate::realtime::view::FeedEvent;
use crate::site::{SiteId, TokenHash};

/// API Gateway's WebSocket connection id (base64-like, e.g. `L0SM9cOFvHcCIhw=`). It becomes a key
/// fragment (`CONN#{id}`), so only [`ConnectionId::parse`] makes one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(String);

impl ConnectionId {
    pub fn parse(raw: &str) -> Option<Self> {
        let valid = !raw.is_empty()
            && raw.len() <= 128
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'_' | b'-'));
        valid.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A dashboard's connection as a site's Query finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveConnection {
    pub id: ConnectionId,
    /// The hash of the token it was admitted with; `None` when it was admitted as a public site's reader
    /// without one. Revocation compares it with the site's current token.
    pub admitted_with: Option<TokenHash>,
}

/// What recording a connection came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Admitted,
    /// The site holds its cap of connections already.
    Full,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// The connection no longer exists (410).
    Gone,
    /// Throttled (429): worth a bounded retry.
    Throttled,
    /// Anything else: logged, not retried.
    Failed(String),
}

pub use crate::ports::{ConnectionCloser, ConnectionSender, ConnectionStore};
pub use crate::revocation::{DisconnectError, disconnect_site, revoke_stale_connections};

/// API Gateway refuses WebSocket frames over 128 KB; a little room is kept for the envelope.
pub const MAX_MESSAGE_BYTES: usize = 120 * 1024;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EventsMessage<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    site_id: &'a SiteId,
    events: &'a [FeedEvent],
}

/// The messages for one site's share of a batch: `{"type":"events","siteId":…,"events":[…]}`, split so
/// that none passes [`MAX_MESSAGE_BYTES`]. Events keep their stream order.
pub fn site_messages(site: &SiteId, events: &[FeedEvent]) -> Vec<Vec<u8>> {
    let encode = |chunk: &[FeedEvent]| {
        serde_json::to_vec(&EventsMessage {
            kind: "events",
            site_id: site,
            events: chunk,
        })
        .expect("feed events serialise")
    };
    // Each event's encoded size, once: a chunk's size is the envelope plus its events and commas.
    let envelope = encode(&[]).len();
    let sizes: Vec<usize> = events
        .iter()
        .map(|event| serde_json::to_vec(event).expect("feed events serialise").len())
        .collect();
    let mut messages = Vec::new();
    let (mut start, mut size) = (0, envelope);
    for (index, event_size) in sizes.iter().enumerate() {
        let separator = usize::from(index > start);
        if separator == 1 && size + separator + event_size > MAX_MESSAGE_BYTES {
            messages.push(encode(&events[start..index]));
            (start, size) = (index, envelope + event_size);
        } else {
            size += separator + event_size;
        }
    }
    if start < events.len() {
        messages.push(encode(&events[start..]));
    }
    messages
}

#[derive(Debug, Clone)]
pub struct BroadcastConfig {
    /// Deliveries in flight at once, across connections.
    pub concurrency: usize,
    /// Attempts per message when throttled.
    pub throttle_attempts: u32,
    pub throttle_backoff: Duration,
    /// Longest a batch's broadcast may take, cut to the invocation's deadline less a margin.
    pub budget: crate::time::RequestBudget,
}

impl Default for BroadcastConfig {
    fn default() -> Self {
        Self {
            concurrency: 32,
            throttle_attempts: 4,
            throttle_backoff: Duration::from_millis(50),
            // The template's 30 s function timeout, less the margin to answer.
            budget: crate::time::RequestBudget::new(Duration::from_secs(25)),
        }
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BroadcastReport {
    pub messages_sent: usize,
    pub gone: usize,
    pub failed: usize,
    /// Connections not served when the budget ran out.
    pub expired: usize,
    /// A site's connections could not be listed, even after retries: nothing of the batch was sent
    /// to anyone, so it can be delivered again without a duplicate (and should be).
    pub unlisted: bool,
}

/// Live push as a use case, built like the others from its store, the connections' channel (the
/// management API) and its config: sends new events to the dashboards of their site, and closes the
/// dashboards a registry change no longer admits.
pub struct Broadcaster<S, C> {
    store: S,
    channel: C,
    config: BroadcastConfig,
}

impl<S: ConnectionStore, C: ConnectionSender + ConnectionCloser> Broadcaster<S, C> {
    pub fn new(store: S, channel: C, config: BroadcastConfig) -> Self {
        Self { store, channel, config }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn channel(&self) -> &C {
        &self.channel
    }

    /// Sends `events` (see [`broadcast`]) within the configured budget, cut to the invocation's
    /// deadline (milliseconds since the epoch; 0 outside Lambda).
    pub async fn push(&self, events: &[StoredEvent], deadline_epoch_millis: u64) -> BroadcastReport {
        let budget = self.config.budget.before(deadline_epoch_millis);
        broadcast(&self.store, &self.channel, &self.config, events, budget).await
    }

    /// Closes the dashboards of `site_id` that `site` (as it is now; `None` once deleted) no longer
    /// admits (see [`revoke_stale_connections`]).
    pub async fn revoke(&self, site_id: &SiteId, site: Option<&crate::site::Site>) -> Result<usize, DisconnectError> {
        revoke_stale_connections(&self.store, &self.channel, site_id, site).await
    }
}

/// Sends each connection of each site one message per batch (more only when split for size). A failed
/// delivery never fails the batch: Lambda would redeliver it and everyone else would get duplicates. For
/// the same reason the broadcast stops when `budget` is spent, before the invocation times out: the
/// connections not served by then miss this batch (the realtime view still has it), and nobody gets a
/// second copy. A site whose connections cannot be listed (a throttled or overloaded store, after
/// retries) sends nothing to anyone and reports [`BroadcastReport::unlisted`]: that batch can be
/// delivered again, and is.
pub async fn broadcast<S: ConnectionStore, C: ConnectionSender>(
    store: &S,
    sender: &C,
    config: &BroadcastConfig,
    events: &[StoredEvent],
    budget: Duration,
) -> BroadcastReport {
    let mut report = BroadcastReport::default();
    let mut progress = Progress::default();
    let all = broadcast_all(store, sender, config, events, &mut report, &mut progress);
    if tokio::time::timeout(budget, all).await.is_err() {
        report.expired = progress.connections - progress.done;
        tracing::warn!(
            expired = report.expired,
            ?budget,
            "broadcast budget spent; the rest of the batch is dropped"
        );
    }
    report
}

/// How far a broadcast got: connections to serve, and those served (delivered, gone or failed).
#[derive(Default)]
struct Progress {
    connections: usize,
    done: usize,
}

async fn broadcast_all<S: ConnectionStore, C: ConnectionSender>(
    store: &S,
    sender: &C,
    config: &BroadcastConfig,
    events: &[StoredEvent],
    report: &mut BroadcastReport,
    progress: &mut Progress,
) {
    let mut by_site: BTreeMap<&SiteId, Vec<FeedEvent>> = BTreeMap::new();
    for event in events {
        by_site
            .entry(&event.site)
            .or_default()
            .extend(FeedEvent::entries_of(event));
    }
    // Every site's connections are listed before anything is sent: a listing that fails leaves the
    // batch undelivered to all, so it can be delivered again without giving anyone a second copy.
    let mut deliveries = Vec::new();
    for (site, feed) in &by_site {
        let connections = match list_connections(store, config, site).await {
            Ok(connections) => connections,
            Err(err) => {
                tracing::warn!(site = %site, error = %err, "could not list connections; the batch is to be delivered again");
                report.unlisted = true;
                return;
            }
        };
        if connections.is_empty() {
            continue;
        }
        // Shared, not copied, across a site's connections.
        let messages = Arc::new(site_messages(site, feed));
        for connection in connections {
            deliveries.push((connection.id, messages.clone()));
        }
    }
    progress.connections = deliveries.len();

    // Owned items: a closure over borrowed ones is not general enough to be `Send` across lifetimes.
    let mut outcomes = stream::iter(deliveries)
        .map(|(connection, messages)| async move { deliver(store, sender, config, &connection, &messages).await })
        .buffer_unordered(config.concurrency.max(1));
    while let Some(outcome) = outcomes.next().await {
        report.messages_sent += outcome.sent;
        report.gone += usize::from(outcome.gone);
        report.failed += usize::from(outcome.failed);
        progress.done += 1;
    }
}

/// A site's connections, a transient failure retried with backoff as a throttled send is.
async fn list_connections<S: ConnectionStore>(
    store: &S,
    config: &BroadcastConfig,
    site: &SiteId,
) -> Result<Vec<LiveConnection>, StoreError> {
    let mut attempt = 1;
    loop {
        match store.site_connections(site).await {
            Err(err) if err.is_transient() && attempt < config.throttle_attempts => {
                tokio::time::sleep(config.throttle_backoff * 2u32.pow(attempt - 1)).await;
                attempt += 1;
            }
            listed => return listed,
        }
    }
}

struct Delivery {
    sent: usize,
    gone: bool,
    failed: bool,
}

async fn deliver<S: ConnectionStore, C: ConnectionSender>(
    store: &S,
    sender: &C,
    config: &BroadcastConfig,
    connection: &ConnectionId,
    messages: &[Vec<u8>],
) -> Delivery {
    let mut delivery = Delivery {
        sent: 0,
        gone: false,
        failed: false,
    };
    for message in messages {
        let mut attempt = 1;
        loop {
            match sender.send(connection, message).await {
                Ok(()) => {
                    delivery.sent += 1;
                    break;
                }
                Err(SendError::Gone) => {
                    // The dashboard left without a $disconnect: forget this connection only.
                    if let Err(err) = store.remove_connection(connection).await {
                        tracing::warn!(error = %err, "could not remove a gone connection");
                    }
                    delivery.gone = true;
                    return delivery;
                }
                Err(SendError::Throttled) if attempt < config.throttle_attempts => {
                    tokio::time::sleep(config.throttle_backoff * 2u32.pow(attempt - 1)).await;
                    attempt += 1;
                }
                Err(err) => {
                    tracing::warn!(error = ?err, "delivery failed; message dropped for this connection");
                    delivery.failed = true;
                    break;
                }
            }
        }
    }
    delivery
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pageview(path: &str) -> FeedEvent {
        FeedEvent::Pageview {
            id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".into(),
            path: path.into(),
            timestamp: "2026-01-15T10:30:12.345Z".into(),
            country: None,
            device: "desktop".into(),
            browser: None,
            referrer: None,
        }
    }

    #[test]
    fn connection_ids_are_checked_before_they_reach_a_key() {
        assert!(ConnectionId::parse("L0SM9cOFvHcCIhw=").is_some());
        assert!(ConnectionId::parse("a#b").is_none());
        assert!(ConnectionId::parse("").is_none());
        assert!(ConnectionId::parse(&"a".repeat(129)).is_none());
    }

    #[test]
    fn one_message_per_site_unless_it_would_pass_the_frame_limit() {
        let site = SiteId::parse("demo").unwrap();
        let few: Vec<FeedEvent> = (0..3).map(|i| pageview(&format!("/{i}"))).collect();
        let messages = site_messages(&site, &few);
        assert_eq!(messages.len(), 1);
        let parsed: serde_json::Value = serde_json::from_slice(&messages[0]).unwrap();
        assert_eq!(parsed["type"], "events");
        assert_eq!(parsed["siteId"], "demo");
        assert_eq!(parsed["events"].as_array().unwrap().len(), 3);

        let many: Vec<FeedEvent> = (0..200)
            .map(|i| pageview(&format!("/{i}/{}", "x".repeat(2000))))
            .collect();
        let messages = site_messages(&site, &many);
        assert!(messages.len() > 1);
        assert!(messages.iter().all(|m| m.len() <= MAX_MESSAGE_BYTES));
        // Every message but the last is as full as the limit allows (the next event would not fit).
        assert!(
            messages[..messages.len() - 1]
                .iter()
                .all(|m| m.len() + 2_100 > MAX_MESSAGE_BYTES)
        );
        let paths: Vec<String> = messages
            .iter()
            .flat_map(|m| {
                serde_json::from_slice::<serde_json::Value>(m).unwrap()["events"]
                    .as_array()
                    .unwrap()
                    .clone()
            })
            .map(|e| e["path"].as_str().unwrap().split('/').nth(1).unwrap().to_owned())
            .collect();
        assert_eq!(
            paths,
            (0..200).map(|i| i.to_string()).collect::<Vec<_>>(),
            "all events, in order"
        );
    }
}
