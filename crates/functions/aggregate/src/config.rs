use pulse_core::realtime::aggregate::AggregateConfig;
use pulse_lambda::{ConfigError, Settings, Tables};

/// Configuration read once at cold start.
#[derive(Debug, Clone)]
pub struct Config {
    /// The rollup table is the only one this function writes.
    pub tables: Tables,
    pub aggregate: AggregateConfig,
}

impl Config {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let settings = Settings::new(lookup);
        let defaults = AggregateConfig::default();
        Ok(Self {
            tables: Tables::from_settings(&settings)?,
            aggregate: AggregateConfig {
                // Windows reach 30 minutes back; a rollup must outlive that.
                rollup_ttl: settings.seconds("REALTIME_TTL_SECONDS", 1_860..=86_400, defaults.rollup_ttl)?,
                ..defaults
            },
        })
    }
}
