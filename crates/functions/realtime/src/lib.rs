//! The `realtime` function: `GET /sites/{siteId}/realtime`. [`handler::function_handler`] translates
//! HTTP to `pulse_core::realtime::service` and back.

pub mod handler;

pub use handler::{RealtimeApp, function_handler};

/// The app as Lambda runs it.
pub type LambdaApp = RealtimeApp<pulse_dynamodb::DynamoStore>;
/// Configuration read once at cold start: the table, and how long a site lookup is trusted.
pub use pulse_lambda::settings::ReaderConfig as Config;
