use pulse_lambda::{ConfigError, Settings, Tables};

/// Configuration read once at cold start.
#[derive(Debug, Clone)]
pub struct Config {
    pub tables: Tables,
    /// The WebSocket API's management endpoint: `https://{api}.execute-api.{region}.amazonaws.com/{stage}`.
    pub websocket_endpoint: String,
}

impl Config {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let settings = Settings::new(lookup);
        Ok(Self {
            tables: Tables::from_settings(&settings)?,
            websocket_endpoint: settings.required("WEBSOCKET_ENDPOINT")?,
        })
    }
}
