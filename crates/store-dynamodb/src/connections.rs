use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use chrono::{DateTime, Utc};
use pulse_core::live::{ConnectionId, ConnectionStore};
use pulse_core::{SiteId, StoreError};

use crate::{DynamoStore, keys, store_error};

impl ConnectionStore for DynamoStore {
    /// Two items in one transaction: `LIVE#{site}` / `CONN#{id}` (found by a site's Query) and
    /// `CONN#{id}` / `CONN` (found by `$disconnect`, which only knows the connection id).
    async fn add_connection(
        &self,
        site: &SiteId,
        connection: &ConnectionId,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let ttl = AttributeValue::N(expires_at.timestamp().to_string());
        let connected_at = AttributeValue::S(pulse_core::time::iso_millis(Utc::now()));
        let by_site = Put::builder()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(keys::live_pk(site)))
            .item("sk", AttributeValue::S(keys::connection_sk(connection)))
            .item("connected_at", connected_at.clone())
            .item("ttl", ttl.clone())
            .build()
            .expect("table and item are set");
        let by_connection = Put::builder()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(keys::connection_pk(connection)))
            .item("sk", AttributeValue::S(keys::CONNECTION_SK.into()))
            .item("site", AttributeValue::S(site.as_str().into()))
            .item("connected_at", connected_at)
            .item("ttl", ttl)
            .build()
            .expect("table and item are set");
        self.client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(by_site).build())
            .transact_items(TransactWriteItem::builder().put(by_connection).build())
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
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
        let Some(site) = reverse
            .item
            .as_ref()
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
        Ok(())
    }

    /// One paginated Query of `CONN#…` under the site; items past their TTL that DynamoDB has not
    /// deleted yet are left out.
    async fn site_connections(&self, site: &SiteId) -> Result<Vec<ConnectionId>, StoreError> {
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
            let connection = item
                .get("sk")
                .and_then(|sk| sk.as_s().ok())
                .and_then(|sk| keys::connection_of_sk(sk))
                .ok_or_else(|| StoreError::Malformed("connection sort key".into()))?;
            connections.push(connection);
        }
        Ok(connections)
    }
}
