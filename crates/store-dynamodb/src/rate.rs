use aws_sdk_dynamodb::types::AttributeValue;
use pulse_core::rate::RateCounter;
use pulse_core::{SiteId, StoreError};

use crate::{DynamoStore, keys, store_error};

/// A second's counter is kept a little past its second (for a look when investigating), then TTL
/// removes it.
const COUNTER_KEEP_SECONDS: i64 = 300;

impl RateCounter for DynamoStore {
    /// One conditional `ADD` on `RATE#{site}` / `{second}` in the short-lived table: 1 WCU a claim.
    async fn claim(&self, site: &SiteId, second: i64, tokens: u32, limit: u32) -> Result<bool, StoreError> {
        let Some(most_before) = limit.checked_sub(tokens) else {
            return Ok(false);
        };
        let claimed = self
            .client
            .update_item()
            .table_name(&self.rollup_table)
            .key("pk", AttributeValue::S(keys::rate_pk(site)))
            .key("sk", AttributeValue::S(keys::rate_sk(second)))
            .update_expression("ADD used :tokens SET #ttl = :ttl")
            .condition_expression("attribute_not_exists(used) OR used <= :most_before")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":tokens", AttributeValue::N(tokens.to_string()))
            .expression_attribute_values(":most_before", AttributeValue::N(most_before.to_string()))
            .expression_attribute_values(":ttl", AttributeValue::N((second + COUNTER_KEEP_SECONDS).to_string()))
            .send()
            .await;
        match claimed {
            Ok(_) => Ok(true),
            Err(err) if crate::condition_failed(&err) => Ok(false),
            Err(err) => Err(store_error(err)),
        }
    }
}
