//! The WebSocket API's routes. Browsers cannot set headers on a WebSocket, so `$connect` takes the site
//! and its read token from the query string: `wss://…/live?siteId=…&token=…`.

pub mod config;
pub mod connect;
pub mod default_route;
pub mod disconnect;
mod response;

pub use config::Config;
