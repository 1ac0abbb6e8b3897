use std::collections::HashMap;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use chrono::{DateTime, Utc};
use pulse_core::{EventStore, PutOutcome, StoreError, StoredEvent};

use crate::{DynamoStore, keys, unavailable};

/// The raw event item: every attribute of the event plus its keys and `ttl`.
pub fn event_item(
    event: &StoredEvent,
    expires_at: DateTime<Utc>,
) -> Result<HashMap<String, AttributeValue>, StoreError> {
    let mut item: HashMap<String, AttributeValue> =
        serde_dynamo::to_item(event).map_err(|e| StoreError::Malformed(e.to_string()))?;
    item.insert("pk".into(), AttributeValue::S(keys::site_pk(&event.site)));
    item.insert(
        "sk".into(),
        AttributeValue::S(keys::event_sk(event.kind, event.ts, &event.id)),
    );
    item.insert("ttl".into(), AttributeValue::N(expires_at.timestamp().to_string()));
    Ok(item)
}

impl EventStore for DynamoStore {
    async fn put_event(&self, event: &StoredEvent, expires_at: DateTime<Utc>) -> Result<PutOutcome, StoreError> {
        let item = event_item(event, expires_at)?;
        let pk = keys::site_pk(&event.site);
        let ttl = AttributeValue::N(expires_at.timestamp().to_string());

        if !event.client_id {
            // A random id cannot collide, and without a condition an SDK retry of a put whose response
            // was lost rewrites the same item instead of failing: the write stays idempotent.
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .send()
                .await
                .map_err(unavailable)?;
            return Ok(PutOutcome::Stored);
        }

        // A client id makes retries idempotent across time: the marker item and the event are written in
        // one transaction (one request), and the marker's condition fails for a retry.
        let marker = Put::builder()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(pk))
            .item("sk", AttributeValue::S(keys::client_id_sk(&event.id)))
            .item("ttl", ttl)
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .expect("table, item and condition are set");
        let put_event = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .build()
            .expect("table and item are set");
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(marker).build())
            .transact_items(TransactWriteItem::builder().put(put_event).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(PutOutcome::Stored),
            Err(err) if is_duplicate(&err) => Ok(PutOutcome::Duplicate),
            Err(err) => Err(unavailable(err)),
        }
    }
}

fn is_duplicate<R>(err: &SdkError<TransactWriteItemsError, R>) -> bool {
    let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = err.as_service_error() else {
        return false;
    };
    cancelled
        .cancellation_reasons()
        .first()
        .and_then(|reason| reason.code())
        .is_some_and(|code| code == "ConditionalCheckFailed")
}
