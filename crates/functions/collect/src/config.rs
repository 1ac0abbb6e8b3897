use std::time::Duration;

use pulse_core::CollectConfig;

/// Configuration read once at cold start.
#[derive(Debug, Clone)]
pub struct Config {
    pub table_name: String,
    pub collect: CollectConfig,
    /// Secret that CloudFront adds as `X-Origin-Verify`. Only a request carrying it may have its client
    /// IP and country taken from CloudFront's viewer headers.
    pub origin_verify_secret: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("{name} must be a whole number of seconds, got '{value}'")]
    NotSeconds { name: &'static str, value: String },
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let table_name = lookup("TABLE_NAME")
            .filter(|t| !t.is_empty())
            .ok_or(ConfigError::Missing("TABLE_NAME"))?;
        let defaults = CollectConfig::default();
        let seconds =
            |name: &'static str, default: Duration| match lookup(name).filter(|v| !v.is_empty()) {
                None => Ok(default),
                Some(value) => value
                    .parse::<u64>()
                    .map(Duration::from_secs)
                    .map_err(|_| ConfigError::NotSeconds { name, value }),
            };
        Ok(Self {
            table_name,
            collect: CollectConfig {
                raw_event_ttl: seconds("RAW_EVENT_TTL_SECONDS", defaults.raw_event_ttl)?,
                site_cache_ttl: seconds("SITE_CACHE_SECONDS", defaults.site_cache_ttl)?,
                unknown_site_cache_ttl: defaults.unknown_site_cache_ttl,
            },
            origin_verify_secret: lookup("ORIGIN_VERIFY_SECRET").filter(|s| !s.is_empty()),
        })
    }
}
