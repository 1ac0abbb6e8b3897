use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use pulse_core::realtime::aggregate::{RollupKey, RollupStore, SaveOutcome};
use pulse_core::realtime::{Minute, MinuteRollup};
use pulse_core::{EventKind, RealtimeStore, SiteId, StoreError, StoredEvent};

use crate::{DynamoStore, keys, unavailable};

/// The rollup item: the rollup's attributes plus its keys and `ttl`.
pub fn rollup_item(
    key: &RollupKey,
    rollup: &MinuteRollup,
    expires_at: DateTime<Utc>,
) -> Result<HashMap<String, AttributeValue>, StoreError> {
    let mut item: HashMap<String, AttributeValue> =
        serde_dynamo::to_item(rollup).map_err(|e| StoreError::Malformed(e.to_string()))?;
    item.insert("pk".into(), AttributeValue::S(keys::site_pk(&key.site)));
    item.insert("sk".into(), AttributeValue::S(keys::rollup_sk(key.minute, key.shard)));
    item.insert("ttl".into(), AttributeValue::N(expires_at.timestamp().to_string()));
    Ok(item)
}

impl RollupStore for DynamoStore {
    async fn load_rollup(&self, key: &RollupKey) -> Result<Option<MinuteRollup>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(keys::site_pk(&key.site)))
            .key("sk", AttributeValue::S(keys::rollup_sk(key.minute, key.shard)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        output.item.map(|item| decode(item, "rollup")).transpose()
    }

    async fn save_rollup(
        &self,
        key: &RollupKey,
        rollup: &MinuteRollup,
        expected: Option<u64>,
        expires_at: DateTime<Utc>,
    ) -> Result<SaveOutcome, StoreError> {
        let item = rollup_item(key, rollup, expires_at)?;
        let request = self.client.put_item().table_name(&self.table).set_item(Some(item));
        let request = match expected {
            None => request.condition_expression("attribute_not_exists(pk)"),
            Some(version) => request
                .condition_expression("ver = :expected")
                .expression_attribute_values(":expected", AttributeValue::N(version.to_string())),
        };
        match request.send().await {
            Ok(_) => Ok(SaveOutcome::Saved),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(SaveOutcome::Conflict)
            }
            Err(err) => Err(unavailable(err)),
        }
    }
}

impl RealtimeStore for DynamoStore {
    /// One paginated Query over `RT#{first}` … `RT#{last}#~`: only the window's items, whatever TTL has
    /// or has not deleted yet.
    async fn rollups(
        &self,
        site: &SiteId,
        first: Minute,
        last: Minute,
    ) -> Result<Vec<(Minute, MinuteRollup)>, StoreError> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :first AND :last")
            .expression_attribute_values(":pk", AttributeValue::S(keys::site_pk(site)))
            .expression_attribute_values(":first", AttributeValue::S(keys::rollup_sk_from(first)))
            .expression_attribute_values(":last", AttributeValue::S(keys::rollup_sk_through(last)))
            .into_paginator()
            .items()
            .send();
        let mut rollups = Vec::new();
        while let Some(item) = pages.next().await {
            let item = item.map_err(unavailable)?;
            let minute = item
                .get("sk")
                .and_then(|sk| sk.as_s().ok())
                .and_then(|sk| keys::rollup_minute(sk))
                .ok_or_else(|| StoreError::Malformed("rollup sort key".into()))?;
            rollups.push((minute, decode(item, "rollup")?));
        }
        Ok(rollups)
    }

    /// Two Queries, newest first, `limit` items each: page views, and other events.
    async fn recent_events(
        &self,
        site: &SiteId,
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let (pageviews, others) = tokio::join!(
            self.newest_events(site, EventKind::Pageview, since, limit),
            self.newest_events(site, EventKind::Event, since, limit),
        );
        let mut events = pageviews?;
        events.extend(others?);
        Ok(events)
    }
}

impl DynamoStore {
    async fn newest_events(
        &self,
        site: &SiteId,
        kind: EventKind,
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let (from, through) = keys::event_sk_range(kind, since);
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :through")
            .expression_attribute_values(":pk", AttributeValue::S(keys::site_pk(site)))
            .expression_attribute_values(":from", AttributeValue::S(from))
            .expression_attribute_values(":through", AttributeValue::S(through))
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(unavailable)?;
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
