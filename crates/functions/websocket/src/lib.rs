//! The WebSocket API's routes. Browsers cannot set headers on a WebSocket, so `$connect` takes the site
//! and its read token from the query string: `wss://…/live?siteId=…&token=…`.

pub mod connect;
pub mod default_route;
pub mod disconnect;
mod response;

use pulse_lambda::settings::{ConfigError, ReaderConfig, Settings};

/// Configuration read once at cold start: the table, how long a site lookup is trusted, and how many
/// dashboards one site may hold open.
#[derive(Debug, Clone)]
pub struct Config {
    pub reader: ReaderConfig,
    /// `MAX_CONNECTIONS_PER_SITE`: past it, `$connect` refuses; every connection costs a message per
    /// broadcast batch, so one site cannot make the broadcast slow for every other.
    pub max_connections_per_site: usize,
}

impl Config {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let reader = ReaderConfig::from_lookup(&lookup)?;
        let max = Settings::new(lookup).number("MAX_CONNECTIONS_PER_SITE", 1..=100_000, 200)?;
        Ok(Self {
            reader,
            max_connections_per_site: max as usize,
        })
    }
}
