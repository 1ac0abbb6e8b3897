//! The `broadcast` function: a DynamoDB Streams consumer that sends each batch's new events to every
//! dashboard connected to their site, and closes those a registry change revoked. The fan-out lives in
//! `pulse_core::live`; `pulse_dynamodb::management` adapts API Gateway's `@connections` API to it.

pub mod config;
pub mod handler;

pub use config::Config;
pub use handler::{BroadcastApp, function_handler};

/// The app as Lambda runs it.
pub type LambdaApp = BroadcastApp<pulse_dynamodb::DynamoStore, pulse_dynamodb::management::ApiGatewaySender>;
