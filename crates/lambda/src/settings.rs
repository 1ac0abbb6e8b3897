//! Reading the functions' settings from a lookup: the environment in Lambda, a closure in the local
//! gateway and in tests. Empty values count as unset.

use std::ops::RangeInclusive;
use std::time::Duration;

use pulse_core::origin::OriginSecret;
use pulse_core::time::RequestBudget;
use pulse_dynamodb::DynamoStore;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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
    #[error("{name} must be empty or a path such as /api/analytics (segments of A-Z a-z 0-9 . _ ~ -), got '{value}'")]
    NotABasePath { name: &'static str, value: String },
    /// The value itself stays out of the message: it is a secret.
    #[error("{name} must be empty or 32 to 256 characters of A-Z, a-z, 0-9 and ._~+/=-")]
    NotASecret { name: &'static str },
}

/// The process environment, as a lookup.
pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

pub struct Settings<F> {
    lookup: F,
}

impl<F: Fn(&str) -> Option<String>> Settings<F> {
    /// `REQUEST_BUDGET_MS` (default 8 s of the template's 10 s function timeout): how long a request
    /// handler may wait on the store before it answers 503 with `Retry-After` itself; the invocation's
    /// deadline shortens it further ([`RequestBudget::before`]).
    pub fn request_budget(&self) -> Result<RequestBudget, ConfigError> {
        let millis = self.number("REQUEST_BUDGET_MS", 100..=900_000, 8_000)?;
        Ok(RequestBudget::new(Duration::from_millis(millis)))
    }

    pub fn new(lookup: F) -> Self {
        Self { lookup }
    }

    pub fn optional(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|value| !value.is_empty())
    }

    pub fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.optional(name).ok_or(ConfigError::Missing(name))
    }

    pub fn number(&self, name: &'static str, range: RangeInclusive<u64>, default: u64) -> Result<u64, ConfigError> {
        let Some(value) = self.optional(name) else {
            return Ok(default);
        };
        value
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|v| range.contains(v))
            .ok_or(ConfigError::OutOfRange {
                name,
                min: *range.start(),
                max: *range.end(),
                value,
            })
    }

    /// A path prefix for every HTTP route, such as `/api/analytics` (no trailing slash); empty when unset.
    pub fn base_path(&self, name: &'static str) -> Result<String, ConfigError> {
        let Some(value) = self.optional(name) else {
            return Ok(String::new());
        };
        let valid = value.strip_prefix('/').is_some_and(|rest| {
            rest.split('/').all(|segment| {
                !segment.is_empty()
                    && segment != "."
                    && segment != ".."
                    && segment
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'-'))
            })
        });
        if valid {
            Ok(value)
        } else {
            Err(ConfigError::NotABasePath { name, value })
        }
    }

    /// A shared secret sent in a header (`X-Origin-Verify`): `None` when unset or empty, else 32 to 256
    /// characters that are safe in a header value.
    pub fn secret(&self, name: &'static str) -> Result<Option<String>, ConfigError> {
        let Some(value) = self.optional(name).filter(|value| !value.is_empty()) else {
            return Ok(None);
        };
        let safe = value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'+' | b'/' | b'=' | b'-'));
        if safe && (32..=256).contains(&value.len()) {
            Ok(Some(value))
        } else {
            Err(ConfigError::NotASecret { name })
        }
    }

    pub fn seconds(
        &self,
        name: &'static str,
        range: RangeInclusive<u64>,
        default: Duration,
    ) -> Result<Duration, ConfigError> {
        self.number(name, range, default.as_secs()).map(Duration::from_secs)
    }
}

/// The two tables a function reaches: `TABLE_NAME`, and `ROLLUP_TABLE_NAME` (else
/// [`pulse_dynamodb::schema::default_rollup_table`] of it, the local stack's convention; the template sets
/// both).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    pub events: String,
    /// The short-lived table: rollups, salts, rate counters (no stream, no backups).
    pub rollups: String,
}

impl Tables {
    pub fn from_settings<F: Fn(&str) -> Option<String>>(settings: &Settings<F>) -> Result<Self, ConfigError> {
        let events = settings.required("TABLE_NAME")?;
        let rollups = settings
            .optional("ROLLUP_TABLE_NAME")
            .unwrap_or_else(|| pulse_dynamodb::schema::default_rollup_table(&events));
        Ok(Self { events, rollups })
    }

    /// The store on these tables, calling DynamoDB with `client`.
    pub fn store(&self, client: aws_sdk_dynamodb::Client) -> DynamoStore {
        DynamoStore::new(client, &self.events).with_rollup_table(&self.rollups)
    }
}

/// Configuration of the functions that read a site's numbers for a reader (the realtime API, the
/// WebSocket `$connect`): the table, and how long a warm function trusts a site's token hash and
/// `public` flag.
#[derive(Debug, Clone)]
pub struct ReaderConfig {
    pub tables: Tables,
    pub site_cache_ttl: Duration,
    pub request_budget: RequestBudget,
    /// `ORIGIN_VERIFY_SECRET`: when set, requests without it are refused (see [`pulse_core::origin`]).
    pub origin_verify_secret: Option<OriginSecret>,
}

/// `ORIGIN_VERIFY_SECRET`, and `ORIGIN_VERIFY_SECRET_PREVIOUS` accepted beside it during a rotation
/// (alone it means nothing: no secret, no check).
pub fn origin_secret<F: Fn(&str) -> Option<String>>(
    settings: &Settings<F>,
) -> Result<Option<OriginSecret>, ConfigError> {
    let previous = settings.secret("ORIGIN_VERIFY_SECRET_PREVIOUS")?;
    Ok(settings
        .secret("ORIGIN_VERIFY_SECRET")?
        .map(|current| OriginSecret::new(current, previous)))
}

impl ReaderConfig {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let settings = Settings::new(lookup);
        Ok(Self {
            tables: Tables::from_settings(&settings)?,
            site_cache_ttl: settings.seconds("SITE_CACHE_SECONDS", 0..=3_600, Duration::from_secs(60))?,
            request_budget: settings.request_budget()?,
            origin_verify_secret: origin_secret(&settings)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_required_optional_and_bounded_values() {
        let settings = Settings::new(|name: &str| match name {
            "SET" => Some("42".into()),
            "EMPTY" => Some(String::new()),
            "WORD" => Some("many".into()),
            _ => None,
        });
        assert_eq!(settings.required("SET"), Ok("42".into()));
        assert_eq!(settings.required("EMPTY"), Err(ConfigError::Missing("EMPTY")));
        assert_eq!(settings.number("SET", 1..=100, 7), Ok(42));
        assert_eq!(settings.number("UNSET", 1..=100, 7), Ok(7));
        assert!(matches!(
            settings.number("SET", 1..=10, 7),
            Err(ConfigError::OutOfRange { .. })
        ));
        assert!(matches!(
            settings.number("WORD", 1..=10, 7),
            Err(ConfigError::OutOfRange { .. })
        ));
        assert_eq!(
            settings.seconds("SET", 0..=60, Duration::ZERO),
            Ok(Duration::from_secs(42))
        );
    }

    #[test]
    fn base_paths_are_checked() {
        let base = |value: &str| {
            let value = value.to_owned();
            Settings::new(move |_: &str| Some(value.clone())).base_path("BASE_PATH")
        };
        assert_eq!(base(""), Ok(String::new()));
        assert_eq!(base("/api/analytics"), Ok("/api/analytics".into()));
        for bad in ["api", "/api/", "//x", "/a/../b", "/a b", "/a?b", "/a#b", "/%2e"] {
            assert!(matches!(base(bad), Err(ConfigError::NotABasePath { .. })), "{bad}");
        }
    }
}
