use pulse_core::config::{ConfigError, Settings};
use pulse_core::realtime::aggregate::AggregateConfig;

/// Configuration read once at cold start.
#[derive(Debug, Clone)]
pub struct Config {
    pub table_name: String,
    /// The rollups' own table (`ROLLUP_TABLE_NAME`): the only one this function writes.
    pub rollup_table_name: String,
    pub aggregate: AggregateConfig,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(pulse_core::config::env)
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let settings = Settings::new(lookup);
        let defaults = AggregateConfig::default();
        let table_name = settings.required("TABLE_NAME")?;
        Ok(Self {
            rollup_table_name: pulse_core::config::rollup_table_name(&settings, &table_name),
            table_name,
            aggregate: AggregateConfig {
                // Windows reach 30 minutes back; a rollup must outlive that.
                rollup_ttl: settings.seconds("REALTIME_TTL_SECONDS", 1_860..=86_400, defaults.rollup_ttl)?,
                ..defaults
            },
        })
    }
}
