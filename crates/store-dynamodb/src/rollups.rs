use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use pulse_core::realtime::aggregate::{RollupKey, RollupStore, SaveOutcome};
use pulse_core::realtime::{
    BucketTotals, FingerprintBucket, Minute, MinuteCounts, MinuteRollup, VisitorPart, bucket, codec,
};
use pulse_core::spread::Spread;
use pulse_core::{EventKind, RealtimeStore, SiteId, StoreError, StoredEvent};

use crate::keys::RollupSlot;
use crate::{DynamoStore, keys, store_error};

type Item = HashMap<String, AttributeValue>;

/// The counts item of a minute: `pv`, `ev`, `g`, the buckets' totals `b`, `ver`, plus its keys and
/// `ttl`.
pub fn counts_item(key: &RollupKey, counts: &MinuteCounts, expires_at: DateTime<Utc>) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(counts).map_err(|e| StoreError::Malformed(e.to_string()))?;
    add_keys(&mut item, key, keys::rollup_counts_sk(key.minute), expires_at);
    Ok(item)
}

/// A visitor part item: `d` (the part's compact encoding, binary) and `ver`, plus its keys and `ttl`.
pub fn part_item(key: &RollupKey, index: usize, part: &VisitorPart, expires_at: DateTime<Utc>) -> Item {
    let mut item = Item::from([
        (
            "d".to_owned(),
            AttributeValue::B(Blob::new(codec::encode(part, key.minute))),
        ),
        ("ver".to_owned(), AttributeValue::N(part.version.to_string())),
    ]);
    add_keys(&mut item, key, keys::rollup_part_sk(key.minute, index), expires_at);
    item
}

/// A fingerprint bucket item: `f` (the fingerprints, binary), their totals `pv`, `ev`, `g` and `ver`,
/// plus its keys and `ttl`.
fn bucket_item(
    key: &RollupKey,
    index: u8,
    bucket: &FingerprintBucket,
    expires_at: DateTime<Utc>,
) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(&bucket.totals).map_err(|e| StoreError::Malformed(e.to_string()))?;
    item.insert(
        "f".into(),
        AttributeValue::B(Blob::new(bucket::encode_fingerprints(&bucket.fingerprints))),
    );
    add_keys(&mut item, key, keys::rollup_bucket_sk(key.minute, index), expires_at);
    Ok(item)
}

fn add_keys(item: &mut Item, key: &RollupKey, sk: String, expires_at: DateTime<Utc>) {
    item.insert("pk".into(), AttributeValue::S(keys::spread_pk(&key.site, key.spread)));
    item.insert("sk".into(), AttributeValue::S(sk));
    item.insert("ttl".into(), AttributeValue::N(expires_at.timestamp().to_string()));
}

impl RollupStore for DynamoStore {
    async fn load_minute(&self, key: &RollupKey) -> Result<Option<MinuteRollup>, StoreError> {
        let mut minutes = self
            .read_rollups(&key.site, key.spread, key.minute, key.minute, true)
            .await?;
        Ok(minutes.remove(&key.minute))
    }

    async fn save_part(
        &self,
        key: &RollupKey,
        index: usize,
        part: &VisitorPart,
        expected: Option<u64>,
        expires_at: DateTime<Utc>,
    ) -> Result<SaveOutcome, StoreError> {
        self.put_versioned(part_item(key, index, part, expires_at), expected)
            .await
    }

    /// One consistent GetItem.
    async fn load_bucket(&self, key: &RollupKey, index: u8) -> Result<Option<FingerprintBucket>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.rollup_table)
            .key("pk", AttributeValue::S(keys::spread_pk(&key.site, key.spread)))
            .key("sk", AttributeValue::S(keys::rollup_bucket_sk(key.minute, index)))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        output.item.map(decode_bucket).transpose()
    }

    async fn save_bucket(
        &self,
        key: &RollupKey,
        index: u8,
        bucket: &FingerprintBucket,
        expected: Option<u64>,
        expires_at: DateTime<Utc>,
    ) -> Result<SaveOutcome, StoreError> {
        self.put_versioned(bucket_item(key, index, bucket, expires_at)?, expected)
            .await
    }

    async fn save_counts(
        &self,
        key: &RollupKey,
        counts: &MinuteCounts,
        expected: Option<u64>,
        expires_at: DateTime<Utc>,
    ) -> Result<SaveOutcome, StoreError> {
        self.put_versioned(counts_item(key, counts, expires_at)?, expected)
            .await
    }
}

fn decode_bucket(mut item: Item) -> Result<FingerprintBucket, StoreError> {
    let fingerprints = match item.remove("f") {
        Some(AttributeValue::B(bytes)) => {
            bucket::decode_fingerprints(bytes.as_ref()).map_err(|e| StoreError::Malformed(e.to_string()))?
        }
        _ => return Err(StoreError::Malformed("fingerprint bucket data".into())),
    };
    let totals: BucketTotals = decode(item, "fingerprint bucket")?;
    if totals.version == 0 {
        return Err(StoreError::Malformed("fingerprint bucket version".into()));
    }
    Ok(FingerprintBucket { fingerprints, totals })
}

impl DynamoStore {
    /// A PutItem conditional on the stored item's `ver` (or on there being none).
    async fn put_versioned(&self, item: Item, expected: Option<u64>) -> Result<SaveOutcome, StoreError> {
        let request = self
            .client
            .put_item()
            .table_name(&self.rollup_table)
            .set_item(Some(item));
        let request = match expected {
            None => request.condition_expression("attribute_not_exists(pk)"),
            Some(version) => request
                .condition_expression("ver = :expected")
                .expression_attribute_values(":expected", AttributeValue::N(version.to_string())),
        };
        match request.send().await {
            Ok(_) => Ok(SaveOutcome::Saved),
            Err(err) if crate::condition_failed(&err) => Ok(SaveOutcome::Conflict),
            Err(err) => Err(store_error(err)),
        }
    }

    /// One paginated Query over `RT#{first}` … `RT#{last}#~`: every minute's counts and parts in the
    /// range, whatever TTL has or has not deleted yet.
    async fn read_rollups(
        &self,
        site: &SiteId,
        spread: Spread,
        first: Minute,
        last: Minute,
        consistent: bool,
    ) -> Result<BTreeMap<Minute, MinuteRollup>, StoreError> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.rollup_table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :first AND :last")
            .expression_attribute_values(":pk", AttributeValue::S(keys::spread_pk(site, spread)))
            .expression_attribute_values(":first", AttributeValue::S(keys::rollup_sk_from(first)))
            .expression_attribute_values(":last", AttributeValue::S(keys::rollup_sk_through(last)))
            .consistent_read(consistent)
            .into_paginator()
            .items()
            .send();
        let mut minutes: BTreeMap<Minute, MinuteRollup> = BTreeMap::new();
        while let Some(item) = pages.next().await {
            let item = item.map_err(store_error)?;
            let (minute, slot) = item
                .get("sk")
                .and_then(|sk| sk.as_s().ok())
                .and_then(|sk| keys::rollup_slot(sk))
                .ok_or_else(|| StoreError::Malformed("rollup sort key".into()))?;
            let rollup = minutes.entry(minute).or_default();
            match slot {
                RollupSlot::Counts => rollup.counts = decode(item, "rollup counts")?,
                RollupSlot::Part(index) => {
                    let part = decode_part(&item, minute)?;
                    if rollup.parts.len() <= index {
                        rollup.parts.resize_with(index + 1, VisitorPart::default);
                    }
                    rollup.parts[index] = part;
                }
            }
        }
        Ok(minutes)
    }
}

fn decode_part(item: &Item, minute: Minute) -> Result<VisitorPart, StoreError> {
    let version = item
        .get("ver")
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| StoreError::Malformed("visitor part version".into()))?;
    let bytes = item
        .get("d")
        .and_then(|d| d.as_b().ok())
        .ok_or_else(|| StoreError::Malformed("visitor part data".into()))?;
    let part = codec::decode(bytes.as_ref(), minute).map_err(|e| StoreError::Malformed(e.to_string()))?;
    Ok(VisitorPart { version, ..part })
}

impl RealtimeStore for DynamoStore {
    /// Per spread, one paginated Query over the window's counts and parts, all at once (eventually
    /// consistent: a reader may see a batch a moment late, never half of one's counts).
    async fn rollups(
        &self,
        site: &SiteId,
        spreads: &[Spread],
        first: Minute,
        last: Minute,
    ) -> Result<Vec<(Minute, MinuteRollup)>, StoreError> {
        let per_spread = futures::future::try_join_all(
            spreads
                .iter()
                .map(|&spread| self.read_rollups(site, spread, first, last, false)),
        )
        .await?;
        Ok(per_spread.into_iter().flatten().collect())
    }

    /// Per kind (page views, other events) and spread, newest first and `limit` items each, two Queries
    /// (all at once): the table by sort key, and the feed index for the events whose sort key is far
    /// from their receive time (client ids without a time, client clocks behind). Merged by receive
    /// time.
    async fn recent_events(
        &self,
        site: &SiteId,
        spreads: &[Spread],
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let newest = |kind, source| {
            futures::future::try_join_all(
                spreads
                    .iter()
                    .map(move |&spread| self.newest_events(site, spread, kind, since, limit, source)),
            )
        };
        let (by_slot_pageviews, by_slot_others, by_receipt_pageviews, by_receipt_others) = tokio::join!(
            newest(EventKind::Pageview, FeedSource::SortKey),
            newest(EventKind::Event, FeedSource::SortKey),
            newest(EventKind::Pageview, FeedSource::FeedIndex),
            newest(EventKind::Event, FeedSource::FeedIndex),
        );
        let mut events = Vec::new();
        for (by_slot, by_receipt) in [
            (by_slot_pageviews, by_receipt_pageviews),
            (by_slot_others, by_receipt_others),
        ] {
            let mut kind: Vec<StoredEvent> = by_slot?
                .into_iter()
                .chain(by_receipt?)
                .flatten()
                .filter(|e| e.ts >= since)
                .collect();
            kind.sort_by(|a, b| b.ts.cmp(&a.ts).then_with(|| b.id.as_str().cmp(a.id.as_str())));
            // An event near its slot may carry a feed key too (a slot just inside the tolerance).
            kind.dedup_by(|a, b| a.id == b.id);
            kind.truncate(limit);
            events.extend(kind);
        }
        Ok(events)
    }
}

/// Where the feed reads a kind's newest events.
#[derive(Debug, Clone, Copy)]
enum FeedSource {
    /// The table, by slot time.
    SortKey,
    /// The sparse feed index, by receive time.
    FeedIndex,
}

impl DynamoStore {
    async fn newest_events(
        &self,
        site: &SiteId,
        spread: Spread,
        kind: EventKind,
        since: DateTime<Utc>,
        limit: usize,
        source: FeedSource,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let query = self.client.query().table_name(&self.table);
        let ((from, through), query) = match source {
            FeedSource::SortKey => (
                keys::event_sk_range(kind, since),
                query.key_condition_expression("pk = :pk AND sk BETWEEN :from AND :through"),
            ),
            FeedSource::FeedIndex => (
                keys::feed_key_range(kind, since),
                query
                    .index_name(keys::FEED_INDEX)
                    .key_condition_expression(format!("pk = :pk AND {} BETWEEN :from AND :through", keys::FEED_KEY)),
            ),
        };
        let output = query
            .expression_attribute_values(":pk", AttributeValue::S(keys::spread_pk(site, spread)))
            .expression_attribute_values(":from", AttributeValue::S(from))
            .expression_attribute_values(":through", AttributeValue::S(through))
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(store_error)?;
        output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| decode(item, "event"))
            .collect()
    }
}

fn decode<T: serde::de::DeserializeOwned>(item: HashMap<String, AttributeValue>, what: &str) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Malformed(format!("{what} item: {e}")))
}
