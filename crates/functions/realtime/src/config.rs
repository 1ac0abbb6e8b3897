use std::time::Duration;

use pulse_core::config::{ConfigError, Settings};

/// Configuration read once at cold start.
#[derive(Debug, Clone)]
pub struct Config {
    pub table_name: String,
    /// How long a warm function trusts a site lookup (its token hash and `public` flag).
    pub site_cache_ttl: Duration,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(pulse_core::config::env)
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let settings = Settings::new(lookup);
        Ok(Self {
            table_name: settings.required("TABLE_NAME")?,
            site_cache_ttl: settings.seconds("SITE_CACHE_SECONDS", 0..=3_600, Duration::from_secs(60))?,
        })
    }
}
