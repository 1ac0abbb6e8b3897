use pulse_core::config::{ConfigError, Settings};

/// Configuration read once at cold start.
#[derive(Debug, Clone)]
pub struct Config {
    pub table_name: String,
    /// The WebSocket API's management endpoint: `https://{api}.execute-api.{region}.amazonaws.com/{stage}`.
    pub websocket_endpoint: String,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(pulse_core::config::env)
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let settings = Settings::new(lookup);
        Ok(Self {
            table_name: settings.required("TABLE_NAME")?,
            websocket_endpoint: settings.required("WEBSOCKET_ENDPOINT")?,
        })
    }
}
