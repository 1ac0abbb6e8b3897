//! The `realtime` function: `GET /sites/{siteId}/realtime`. [`handler::function_handler`] translates
//! HTTP to `pulse_core::realtime::service` and back.

pub mod config;
pub mod handler;

pub use config::Config;
pub use handler::{RealtimeApp, function_handler};
