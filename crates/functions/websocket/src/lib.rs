//! The WebSocket API's routes. Browsers cannot set headers on a WebSocket, so `$connect` takes the site
//! and its read token from the query string: `wss://…/live?siteId=…&token=…`.

pub mod connect;
pub mod default_route;
pub mod disconnect;
mod response;

/// Configuration read once at cold start: the table, and how long a site lookup is trusted.
pub use pulse_core::config::ReaderConfig as Config;
