use std::time::Duration;

use pulse_core::CollectConfig;
use pulse_core::origin::OriginSecret;
use pulse_core::time::RequestBudget;
use pulse_lambda::{ConfigError, Settings, Tables};

/// Configuration read once at cold start.
#[derive(Debug, Clone)]
pub struct Config {
    /// The daily salts live in the rollup table: no backups, no stream.
    pub tables: Tables,
    pub collect: CollectConfig,
    /// How long a warm function trusts a site lookup (`SITE_CACHE_SECONDS`).
    pub site_cache_ttl: Duration,
    /// Secret that CloudFront adds as `X-Origin-Verify`. Only a request carrying it may have its client
    /// IP and country taken from CloudFront's viewer headers.
    pub origin_verify_secret: Option<OriginSecret>,
    /// Longest a hit may take (`REQUEST_BUDGET_MS`). Past it the hit gets a 503 with
    /// `Retry-After`, never the platform's own error, and the tracker sends it again (deduplicated).
    pub request_budget: RequestBudget,
}

impl Config {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let settings = Settings::new(lookup);
        let defaults = CollectConfig::default();
        Ok(Self {
            tables: Tables::from_settings(&settings)?,
            collect: CollectConfig {
                raw_event_ttl: settings.seconds("RAW_EVENT_TTL_SECONDS", 3_600..=31_536_000, defaults.raw_event_ttl)?,
                site_hit_rate_limit: Some(settings.number(
                    "SITE_HIT_RATE_LIMIT",
                    0..=100_000,
                    u64::from(pulse_core::collect::DEFAULT_SITE_HIT_RATE_LIMIT),
                )? as u32)
                .filter(|limit| *limit > 0),
            },
            site_cache_ttl: settings.seconds("SITE_CACHE_SECONDS", 0..=3_600, Duration::from_secs(60))?,
            origin_verify_secret: pulse_lambda::settings::origin_secret(&settings)?,
            request_budget: settings.request_budget()?,
        })
    }
}
