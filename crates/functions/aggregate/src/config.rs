use std::time::Duration;

use pulse_core::realtime::aggregate::AggregateConfig;

/// Configuration read once at cold start.
#[derive(Debug, Clone)]
pub struct Config {
    pub table_name: String,
    pub aggregate: AggregateConfig,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("{name} must be a whole number from {min} to {max}, got '{value}'")]
    OutOfRange {
        name: &'static str,
        min: u64,
        max: u64,
        value: String,
    },
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let table_name = lookup("TABLE_NAME")
            .filter(|t| !t.is_empty())
            .ok_or(ConfigError::Missing("TABLE_NAME"))?;
        let number = |name: &'static str, min: u64, max: u64, default: u64| match lookup(name)
            .filter(|v| !v.is_empty())
        {
            None => Ok(default),
            Some(value) => value
                .parse::<u64>()
                .ok()
                .filter(|v| (min..=max).contains(v))
                .ok_or(ConfigError::OutOfRange {
                    name,
                    min,
                    max,
                    value,
                }),
        };
        let defaults = AggregateConfig::default();
        Ok(Self {
            table_name,
            aggregate: AggregateConfig {
                // Windows reach 30 minutes back; a rollup must outlive that.
                rollup_ttl: Duration::from_secs(number(
                    "REALTIME_TTL_SECONDS",
                    1_860,
                    86_400,
                    defaults.rollup_ttl.as_secs(),
                )?),
                shards: number("REALTIME_SHARDS", 1, 16, defaults.shards.into())? as u8,
                max_attempts: defaults.max_attempts,
            },
        })
    }
}
