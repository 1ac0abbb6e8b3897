use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{Days, NaiveDate};
use pulse_core::enrich::Salt;
use pulse_core::{SaltStore, StoreError};

use crate::{DynamoStore, keys, store_error};

/// Salts are kept one day past their own so that late readers around midnight still find them; then TTL
/// deletes them and that day's visitor ids can no longer be linked to anything.
const SALT_KEEP_DAYS: u64 = 2;

impl SaltStore for DynamoStore {
    async fn daily_salt(&self, day: NaiveDate) -> Result<Salt, StoreError> {
        if let Some(salt) = self.read_salt(day).await? {
            return Ok(salt);
        }
        // Create it once: the condition lets exactly one concurrent writer win; losers read the winner's.
        let candidate = Salt::random();
        let expires = day
            .checked_add_days(Days::new(SALT_KEEP_DAYS))
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|d| d.and_utc().timestamp())
            .unwrap_or(i64::MAX);
        let created = self
            .client
            .put_item()
            .table_name(&self.rollup_table)
            .item("pk", AttributeValue::S(keys::SALT_PK.into()))
            .item("sk", AttributeValue::S(keys::salt_sk(day)))
            .item("salt", AttributeValue::S(candidate.to_hex()))
            .item("ttl", AttributeValue::N(expires.to_string()))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match created {
            Ok(_) => Ok(candidate),
            Err(err) if crate::condition_failed(&err) => self
                .read_salt(day)
                .await?
                .ok_or_else(|| StoreError::Malformed("salt vanished after a conflicting create".into())),
            Err(err) => Err(store_error(err)),
        }
    }
}

impl DynamoStore {
    async fn read_salt(&self, day: NaiveDate) -> Result<Option<Salt>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.rollup_table)
            .key("pk", AttributeValue::S(keys::SALT_PK.into()))
            .key("sk", AttributeValue::S(keys::salt_sk(day)))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        let salt = item
            .get("salt")
            .and_then(|v| v.as_s().ok())
            .and_then(|hex| Salt::from_hex(hex))
            .ok_or_else(|| StoreError::Malformed(format!("salt item {}", keys::salt_sk(day))))?;
        Ok(Some(salt))
    }
}
