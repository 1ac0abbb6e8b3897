use std::collections::HashMap;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use pulse_core::{EventStore, PutOutcome, StoreError, StoredEvent};

use crate::{DynamoStore, keys, store_error};

/// The raw event item: every attribute of the event plus its keys and `ttl`.
pub fn event_item(
    event: &StoredEvent,
    expires_at: DateTime<Utc>,
) -> Result<HashMap<String, AttributeValue>, StoreError> {
    let mut item: HashMap<String, AttributeValue> =
        serde_dynamo::to_item(event).map_err(|e| StoreError::Malformed(e.to_string()))?;
    item.insert(
        "pk".into(),
        AttributeValue::S(keys::spread_pk(&event.site, event.spread)),
    );
    item.insert("sk".into(), AttributeValue::S(keys::event_sk(event)));
    item.insert("ttl".into(), AttributeValue::N(expires_at.timestamp().to_string()));
    if let Some(feed_key) = keys::feed_key(event) {
        item.insert(keys::FEED_KEY.into(), AttributeValue::S(feed_key));
    }
    Ok(item)
}

impl EventStore for DynamoStore {
    /// One conditional PutItem (1 WCU for an event under 1 KB), with or without a client id. The key is a
    /// function of the hit ([`keys::event_sk`]), so a client's retry fails the condition and stores
    /// nothing; so does an SDK retry of a put whose answer was lost, which is equally a duplicate.
    async fn put_event(&self, event: &StoredEvent, expires_at: DateTime<Utc>) -> Result<PutOutcome, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(event_item(event, expires_at)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(PutOutcome::Stored),
            Err(err) if is_condition_failure(&err) => Ok(PutOutcome::Duplicate),
            Err(err) => Err(store_error(err)),
        }
    }
}

fn is_condition_failure<R>(err: &SdkError<PutItemError, R>) -> bool {
    matches!(
        err.as_service_error(),
        Some(PutItemError::ConditionalCheckFailedException(_))
    )
}
