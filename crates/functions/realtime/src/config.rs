use std::time::Duration;

/// Configuration read once at cold start.
#[derive(Debug, Clone)]
pub struct Config {
    pub table_name: String,
    /// How long a warm function trusts a site lookup (its token hash and `public` flag).
    pub site_cache_ttl: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("SITE_CACHE_SECONDS must be a whole number of seconds, got '{0}'")]
    NotSeconds(String),
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let table_name = lookup("TABLE_NAME")
            .filter(|t| !t.is_empty())
            .ok_or(ConfigError::Missing("TABLE_NAME"))?;
        let site_cache_ttl = match lookup("SITE_CACHE_SECONDS").filter(|v| !v.is_empty()) {
            None => Duration::from_secs(60),
            Some(value) => value
                .parse()
                .map(Duration::from_secs)
                .map_err(|_| ConfigError::NotSeconds(value))?,
        };
        Ok(Self {
            table_name,
            site_cache_ttl,
        })
    }
}
