//! The `aggregate` function: a DynamoDB Streams consumer that folds raw events into per-minute realtime
//! rollups. [`handler::function_handler`] decodes the batch; the fold and its exactly-once guard live in
//! `pulse_core::realtime::aggregate`.

pub mod config;
pub mod handler;

pub use config::Config;
pub use handler::{AggregateApp, function_handler};

/// The app as Lambda runs it.
pub type LambdaApp = AggregateApp<pulse_dynamodb::DynamoStore>;
