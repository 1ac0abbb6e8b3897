//! The `collect` function: `POST /collect` from the tracker.
//!
//! [`handler::function_handler`] only translates between HTTP and the domain: the use case lives in
//! `pulse_core::collect`, storage in `pulse_dynamodb`.

pub mod config;
pub mod handler;

pub use config::Config;
pub use handler::{CollectApp, function_handler};

/// The app as Lambda runs it.
pub type LambdaApp = CollectApp<pulse_dynamodb::DynamoStore>;
