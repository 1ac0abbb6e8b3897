//! DynamoDB adapter: implements the `pulse-core` store ports on the single table, and knows the table's
//! key layout ([`keys`]) and definition ([`schema`]).

mod connections;
mod events;
pub mod keys;
mod rollups;
mod salts;
pub mod schema;
mod sites;
pub mod stream;

use std::time::Duration;

use aws_config::SdkConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use pulse_core::StoreError;

pub use events::event_item;
pub use rollups::{counts_item, part_item};
pub use sites::SiteAdminError;

/// The adapter: one client and the table name, shared by every port.
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
    /// The short-lived table without a stream or backups: the realtime rollups, and the daily salts
    /// (kept out of point-in-time recovery, so a restore cannot bring back a day's salt).
    rollup_table: String,
}

impl DynamoStore {
    /// The store on `table`, with the rollups in [`pulse_core::config::default_rollup_table`] of it.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        let table = table.into();
        Self {
            client,
            rollup_table: pulse_core::config::default_rollup_table(&table),
            table,
        }
    }

    pub fn with_rollup_table(mut self, rollup_table: impl Into<String>) -> Self {
        self.rollup_table = rollup_table.into();
        self
    }

    pub fn rollup_table(&self) -> &str {
        &self.rollup_table
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}

/// The SDK configuration from the standard sources (environment, profile, instance role), including
/// `AWS_ENDPOINT_URL_DYNAMODB` for a local DynamoDB. Timeouts are short because every caller is a request
/// handler: failing fast (and answering 503) beats holding a tracker's connection open.
pub async fn sdk_config() -> SdkConfig {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(1))
        .operation_attempt_timeout(Duration::from_secs(2))
        .operation_timeout(Duration::from_secs(5))
        .build();
    aws_config::from_env().timeout_config(timeouts).load().await
}

/// An SDK failure as the use cases see it: a request DynamoDB refuses as invalid (an item over 400 KB,
/// a malformed expression) fails the same way every time, so it is [`StoreError::Rejected`]; anything
/// else (throttling, network, timeouts, server errors) may pass later and is
/// [`StoreError::Unavailable`]. The source is kept for the logs.
pub(crate) fn store_error<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata,
    SdkError<E, R>: std::error::Error + Send + Sync + 'static,
{
    let permanent = err
        .as_service_error()
        .and_then(ProvideErrorMetadata::code)
        .is_some_and(|code| code == "ValidationException");
    if permanent {
        StoreError::Rejected(Box::new(err))
    } else {
        StoreError::Unavailable(Box::new(err))
    }
}
