use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use chrono::{DateTime, Utc};
use pulse_core::live::{Admission, ConnectionId, ConnectionStore, LiveConnection};
use pulse_core::{SiteId, StoreError, TokenHash};

use crate::{DynamoStore, keys, store_error};

/// How often a connect whose chosen slot was taken by a concurrent one looks again.
const SLOT_ATTEMPTS: usize = 5;

impl ConnectionStore for DynamoStore {
    /// Three items in one transaction: a free slot `LIVE#{site}` / `SLOT#{n}` (put only if it is free or
    /// expired: the cap is exact however many connect at once), `LIVE#{site}` / `CONN#{id}` (found by a
    /// site's Query) and `CONN#{id}` / `CONN` (found by `$disconnect`, which only knows the id).
    async fn add_connection(
        &self,
        site: &SiteId,
        connection: &ConnectionId,
        admitted_with: Option<&TokenHash>,
        cap: usize,
        expires_at: DateTime<Utc>,
    ) -> Result<Admission, StoreError> {
        for _ in 0..SLOT_ATTEMPTS {
            let now = Utc::now().timestamp();
            let taken = self.taken_slots(site, now).await?;
            let Some(slot) = (0..cap).find(|slot| !taken.contains(slot)) else {
                return Ok(Admission::Full);
            };
            match self
                .put_connection(site, connection, admitted_with, slot, now, expires_at)
                .await
            {
                Ok(()) => return Ok(Admission::Admitted),
                // Another connect took the slot between the Query and the write: look again.
                Err(err) if slot_was_taken(&err) => continue,
                Err(err) => return Err(store_error(err)),
            }
        }
        Err(StoreError::Unavailable(
            "connection slots kept being taken by concurrent connects".into(),
        ))
    }

    async fn remove_connection(&self, connection: &ConnectionId) -> Result<(), StoreError> {
        let reverse = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(keys::connection_pk(connection)))
            .key("sk", AttributeValue::S(keys::CONNECTION_SK.into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        let item = reverse.item.as_ref();
        let Some(site) = item
            .and_then(|item| item.get("site"))
            .and_then(|site| site.as_s().ok())
            .and_then(|site| SiteId::parse(site).ok())
        else {
            return Ok(());
        };
        let delete = |pk: String, sk: String| {
            let delete = Delete::builder()
                .table_name(&self.table)
                .key("pk", AttributeValue::S(pk))
                .key("sk", AttributeValue::S(sk))
                .build()
                .expect("table and key are set");
            TransactWriteItem::builder().delete(delete).build()
        };
        self.client
            .transact_write_items()
            .transact_items(delete(keys::live_pk(&site), keys::connection_sk(connection)))
            .transact_items(delete(keys::connection_pk(connection), keys::CONNECTION_SK.into()))
            .send()
            .await
            .map_err(store_error)?;
        // Apart, and only while this connection holds it: a slot that expired may hold another already.
        let slot = item
            .and_then(|item| item.get("slot"))
            .and_then(|slot| slot.as_n().ok())
            .and_then(|slot| slot.parse::<usize>().ok());
        if let Some(slot) = slot {
            let freed = self
                .client
                .delete_item()
                .table_name(&self.table)
                .key("pk", AttributeValue::S(keys::live_pk(&site)))
                .key("sk", AttributeValue::S(keys::slot_sk(slot)))
                .condition_expression("holder = :connection")
                .expression_attribute_values(":connection", AttributeValue::S(connection.as_str().into()))
                .send()
                .await;
            match freed {
                Ok(_) => {}
                Err(err) if crate::condition_failed(&err) => {}
                Err(err) => return Err(store_error(err)),
            }
        }
        Ok(())
    }

    /// One paginated Query of `CONN#…` under the site; items past their TTL that DynamoDB has not
    /// deleted yet are left out.
    async fn site_connections(&self, site: &SiteId) -> Result<Vec<LiveConnection>, StoreError> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :conn)")
            .filter_expression("#ttl > :now")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":pk", AttributeValue::S(keys::live_pk(site)))
            .expression_attribute_values(":conn", AttributeValue::S(keys::CONNECTION_PREFIX.into()))
            .expression_attribute_values(":now", AttributeValue::N(Utc::now().timestamp().to_string()))
            .into_paginator()
            .items()
            .send();
        let mut connections = Vec::new();
        while let Some(item) = pages.next().await {
            let item = item.map_err(store_error)?;
            let id = item
                .get("sk")
                .and_then(|sk| sk.as_s().ok())
                .and_then(|sk| keys::connection_of_sk(sk))
                .ok_or_else(|| StoreError::Malformed("connection sort key".into()))?;
            let admitted_with = item
                .get("token_hash")
                .and_then(|hash| hash.as_s().ok())
                .map(|hash| TokenHash::from_stored(hash.clone()));
            connections.push(LiveConnection { id, admitted_with });
        }
        Ok(connections)
    }
}

impl DynamoStore {
    /// The slots of a site held by a connection that has not expired (one paginated Query).
    async fn taken_slots(&self, site: &SiteId, now: i64) -> Result<BTreeSet<usize>, StoreError> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :slot)")
            .filter_expression("#ttl > :now")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":pk", AttributeValue::S(keys::live_pk(site)))
            .expression_attribute_values(":slot", AttributeValue::S(keys::SLOT_PREFIX.into()))
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        let mut taken = BTreeSet::new();
        while let Some(item) = pages.next().await {
            let item = item.map_err(store_error)?;
            let slot = item
                .get("sk")
                .and_then(|sk| sk.as_s().ok())
                .and_then(|sk| sk.strip_prefix(keys::SLOT_PREFIX))
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| StoreError::Malformed("connection slot sort key".into()))?;
            taken.insert(slot);
        }
        Ok(taken)
    }

    async fn put_connection(
        &self,
        site: &SiteId,
        connection: &ConnectionId,
        admitted_with: Option<&TokenHash>,
        slot: usize,
        now: i64,
        expires_at: DateTime<Utc>,
    ) -> Result<
        (),
        aws_sdk_dynamodb::error::SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError>,
    > {
        let ttl = AttributeValue::N(expires_at.timestamp().to_string());
        let connected_at = AttributeValue::S(pulse_core::time::iso_millis(Utc::now()));
        let slot_number = AttributeValue::N(slot.to_string());
        let slot_item = Put::builder()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(keys::live_pk(site)))
            .item("sk", AttributeValue::S(keys::slot_sk(slot)))
            .item("holder", AttributeValue::S(connection.as_str().into()))
            .item("ttl", ttl.clone())
            .condition_expression("attribute_not_exists(pk) OR #ttl <= :now")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .build()
            .expect("table and item are set");
        let mut by_site = Put::builder()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(keys::live_pk(site)))
            .item("sk", AttributeValue::S(keys::connection_sk(connection)))
            .item("connected_at", connected_at.clone())
            .item("ttl", ttl.clone());
        if let Some(hash) = admitted_with {
            by_site = by_site.item("token_hash", AttributeValue::S(hash.as_str().into()));
        }
        let by_connection = Put::builder()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(keys::connection_pk(connection)))
            .item("sk", AttributeValue::S(keys::CONNECTION_SK.into()))
            .item("site", AttributeValue::S(site.as_str().into()))
            .item("slot", slot_number)
            .item("connected_at", connected_at)
            .item("ttl", ttl)
            .build()
            .expect("table and item are set");
        self.client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(slot_item).build())
            .transact_items(
                TransactWriteItem::builder()
                    .put(by_site.build().expect("table and item are set"))
                    .build(),
            )
            .transact_items(TransactWriteItem::builder().put(by_connection).build())
            .send()
            .await?;
        Ok(())
    }
}

/// A transaction cancelled because the slot's condition failed (and nothing else).
fn slot_was_taken(
    err: &aws_sdk_dynamodb::error::SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError>,
) -> bool {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    match err.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => cancelled
            .cancellation_reasons()
            .first()
            .and_then(|reason| reason.code())
            .is_some_and(|code| code == "ConditionalCheckFailed"),
        _ => false,
    }
}
