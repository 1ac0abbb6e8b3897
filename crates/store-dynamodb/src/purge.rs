//! Erasing a site (`pulse-admin site delete --purge`): every item of the site in both tables, found by
//! Query (never a Scan) and removed with BatchWriteItem, the registry item last. Every step deletes only
//! what it finds, so a purge that stopped half-way (or found the registry item already gone) is finished
//! by running it again.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, ReturnValue, WriteRequest};
use pulse_core::{SiteId, StoreError};

use crate::{DynamoStore, keys, store_error};

type Key = HashMap<String, AttributeValue>;

/// BatchWriteItem's limit.
const BATCH: usize = 25;
/// Attempts at a batch's unprocessed part before giving up (the purge can then be run again).
const MAX_ATTEMPTS: u32 = 10;
/// The first wait before retrying unprocessed deletes; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What a purge removed, per kind.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Purged {
    /// Raw events (`PV#`, `EV#`, `ID#`); the `feed` index holds no items of its own, so its entries go
    /// with them.
    pub raw_events: usize,
    /// Open-dashboard connections, two items each (by site and by connection id).
    pub connections: usize,
    /// Rollup counts and visitor parts (`RT#`).
    pub rollups: usize,
    /// Fingerprint buckets (`FP#`).
    pub fingerprint_buckets: usize,
    /// Items under the site's partitions of a kind this version does not know: removed all the same.
    pub other: usize,
    /// Whether the registry item (with the site's goals and token hash) was still there.
    pub registry: bool,
}

/// The kinds [`Purged`] counts by sort key.
enum Kind {
    RawEvent,
    Rollup,
    FingerprintBucket,
    Other,
}

#[derive(Debug, thiserror::Error)]
pub enum PurgeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{remaining} deletes in {table} were still unprocessed after {MAX_ATTEMPTS} attempts: run the purge again")]
    Unprocessed { table: String, remaining: usize },
}

impl DynamoStore {
    /// Removes every item of `site`: its connections, raw events, rollup-table items (rollups, buckets,
    /// hit counters), then its registry item (the CLI removes it first, so that the broadcast closes the
    /// site's dashboards; here it is last for a purge run on its own). Items written meanwhile (warm functions accept the site's hits for their site cache's
    /// lifetime after the registry item goes, and the aggregate folds what the stream still holds) are
    /// left: a second run after that lifetime removes them.
    pub async fn purge_site(&self, site: &SiteId) -> Result<Purged, PurgeError> {
        let mut purged = Purged::default();
        self.purge_connections(site, &mut purged).await?;
        // Every spread the site may ever have had: a Query of an empty partition costs half a unit.
        for spread_pk in keys::every_spread_pk(site) {
            self.purge_partition(&self.table, &spread_pk, &mut purged, |sk| {
                if keys::is_raw_event_key(&spread_pk, sk) {
                    Kind::RawEvent
                } else {
                    Kind::Other
                }
            })
            .await?;
            self.purge_partition(&self.rollup_table, &spread_pk, &mut purged, |sk| {
                if sk.starts_with(keys::ROLLUP_PREFIX) {
                    Kind::Rollup
                } else if sk.starts_with(keys::FINGERPRINT_PREFIX) {
                    Kind::FingerprintBucket
                } else {
                    Kind::Other
                }
            })
            .await?;
        }
        // Its per-second hit counters (the per-site limit), also in the short-lived table.
        self.purge_partition(&self.rollup_table, &keys::rate_pk(site), &mut purged, |_| Kind::Other)
            .await?;
        // Last, so that a site whose purge did not finish is still listed.
        let registry = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(keys::registry_key(site)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(store_error)?;
        purged.registry = registry.attributes.is_some_and(|item| !item.is_empty());
        Ok(purged)
    }

    /// `LIVE#{site}`: each connection's own item (`CONN#{id}` / `CONN`, which names the site) goes before
    /// the item that leads to it, so an interrupted purge never strands one.
    async fn purge_connections(&self, site: &SiteId, purged: &mut Purged) -> Result<(), PurgeError> {
        let pk = keys::live_pk(site);
        let mut start = None;
        loop {
            let (page, next) = self.page_of_keys(&self.table, &pk, start).await?;
            let reverse: Vec<Key> = page
                .iter()
                .filter_map(|key| keys::connection_of_sk(sort_key(key)))
                .map(|connection| key_of(keys::connection_pk(&connection), keys::CONNECTION_SK.into()))
                .collect();
            purged.connections += reverse.len();
            purged.other += page.len() - reverse.len();
            self.delete_keys(&self.table, reverse).await?;
            self.delete_keys(&self.table, page).await?;
            match next {
                Some(key) => start = Some(key),
                None => return Ok(()),
            }
        }
    }

    /// Deletes every item of partition `pk` in `table`, counting each as the kind its sort key says.
    async fn purge_partition(
        &self,
        table: &str,
        pk: &str,
        purged: &mut Purged,
        kind_of: impl Fn(&str) -> Kind,
    ) -> Result<(), PurgeError> {
        let mut start = None;
        loop {
            let (page, next) = self.page_of_keys(table, pk, start).await?;
            for key in &page {
                let count = match kind_of(sort_key(key)) {
                    Kind::RawEvent => &mut purged.raw_events,
                    Kind::Rollup => &mut purged.rollups,
                    Kind::FingerprintBucket => &mut purged.fingerprint_buckets,
                    Kind::Other => &mut purged.other,
                };
                *count += 1;
            }
            self.delete_keys(table, page).await?;
            match next {
                Some(key) => start = Some(key),
                None => return Ok(()),
            }
        }
    }

    /// One page of a partition's keys (up to 1 MB read), consistent so that a second run right after
    /// finds nothing already deleted. Deleting a page's items does not disturb the next page's start.
    async fn page_of_keys(
        &self,
        table: &str,
        pk: &str,
        start: Option<Key>,
    ) -> Result<(Vec<Key>, Option<Key>), PurgeError> {
        let output = self
            .client
            .query()
            .table_name(table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()))
            .projection_expression("pk, sk")
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(store_error)?;
        Ok((output.items.unwrap_or_default(), output.last_evaluated_key))
    }

    async fn delete_keys(&self, table: &str, keys: Vec<Key>) -> Result<(), PurgeError> {
        for chunk in keys.chunks(BATCH) {
            let requests = chunk.iter().cloned().map(delete_request).collect();
            write_until_processed(table, requests, FIRST_BACKOFF, |requests| async move {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(table, requests)
                    .send()
                    .await
                    .map_err(store_error)?;
                Ok(output
                    .unprocessed_items
                    .and_then(|mut tables| tables.remove(table))
                    .unwrap_or_default())
            })
            .await?;
        }
        Ok(())
    }
}

/// Sends `requests`, then what comes back unprocessed, with a doubling wait between attempts.
/// (DynamoDB returns part of a batch unprocessed when a partition is over its throughput.)
async fn write_until_processed<F, Fut>(
    table: &str,
    mut requests: Vec<WriteRequest>,
    first_backoff: Duration,
    mut send: F,
) -> Result<(), PurgeError>
where
    F: FnMut(Vec<WriteRequest>) -> Fut,
    Fut: Future<Output = Result<Vec<WriteRequest>, StoreError>>,
{
    let mut backoff = first_backoff;
    for attempt in 1..=MAX_ATTEMPTS {
        requests = send(requests).await?;
        if requests.is_empty() {
            return Ok(());
        }
        if attempt < MAX_ATTEMPTS {
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
    Err(PurgeError::Unprocessed {
        table: table.to_owned(),
        remaining: requests.len(),
    })
}

fn delete_request(key: Key) -> WriteRequest {
    let delete = DeleteRequest::builder()
        .set_key(Some(key))
        .build()
        .expect("the key is set");
    WriteRequest::builder().delete_request(delete).build()
}

fn key_of(pk: String, sk: String) -> Key {
    Key::from([
        ("pk".to_owned(), AttributeValue::S(pk)),
        ("sk".to_owned(), AttributeValue::S(sk)),
    ])
}

fn sort_key(key: &Key) -> &str {
    key.get("sk")
        .and_then(|sk| sk.as_s().ok())
        .map(String::as_str)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    fn requests(count: usize) -> Vec<WriteRequest> {
        (0..count)
            .map(|i| delete_request(key_of(format!("SITE#s{i}"), "PV#x".into())))
            .collect()
    }

    /// What DynamoDB leaves unprocessed is sent again, and only that, until nothing is left.
    #[tokio::test]
    async fn unprocessed_deletes_are_retried_until_done() {
        let sent = Mutex::new(Vec::new());
        let result = write_until_processed("t", requests(25), Duration::ZERO, |batch| {
            sent.lock().unwrap().push(batch.len());
            // The first two answers leave all but the first ten, then the first three, unprocessed.
            let left = match batch.len() {
                25 => batch[10..].to_vec(),
                15 => batch[3..].to_vec(),
                _ => Vec::new(),
            };
            async move { Ok(left) }
        })
        .await;
        assert!(result.is_ok());
        assert_eq!(*sent.lock().unwrap(), [25, 15, 12]);
    }

    #[tokio::test]
    async fn a_batch_that_stays_unprocessed_fails_after_the_last_attempt() {
        let attempts = Mutex::new(0);
        let result = write_until_processed("t", requests(2), Duration::ZERO, |batch| {
            *attempts.lock().unwrap() += 1;
            async move { Ok(batch) }
        })
        .await;
        assert!(matches!(result, Err(PurgeError::Unprocessed { remaining: 2, .. })));
        assert_eq!(*attempts.lock().unwrap(), MAX_ATTEMPTS);
    }

    #[tokio::test]
    async fn a_store_error_stops_at_once() {
        let result = write_until_processed("t", requests(1), Duration::ZERO, |_| async {
            Err(StoreError::Malformed("x".into()))
        })
        .await;
        assert!(matches!(result, Err(PurgeError::Store(_))));
    }
}
