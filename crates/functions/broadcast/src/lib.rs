//! The `broadcast` function: a DynamoDB Streams consumer that sends each batch's new events to every
//! dashboard connected to their site. The fan-out lives in `pulse_core::live`; [`sender`] adapts API
//! Gateway's `@connections` API to it.

pub mod config;
pub mod handler;
pub mod sender;

pub use config::Config;
pub use handler::{BroadcastApp, function_handler};
