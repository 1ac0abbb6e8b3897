//! What API Gateway and Lambda enforce in AWS, enforced by the local gateway where it stands in for them:
//! - the HTTP API's per-route throttling (the template's `HttpApiRateLimit` / `HttpApiBurstLimit`):
//!   past it a route answers 429 before any function runs;
//! - each function's `Timeout` from the template: a handler still running then is cut off and the client
//!   gets API Gateway's 500, as when Lambda reports the timeout; HTTP integrations also stop at 30 s (503);
//! - the invocation's deadline in the Lambda context, as the runtime gives it;
//! - the WebSocket API's frame (32 KB) and message (128 KB) sizes, its 10-minute idle timeout and its
//!   2-hour connection limit (both configurable, so that a test can shorten them).
//!
//! `MemorySize` is not enforced: the functions run inside this process.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_norway::Value as Yaml;

/// API Gateway's integration timeout for HTTP APIs.
pub const HTTP_INTEGRATION_TIMEOUT: Duration = Duration::from_secs(30);
/// WebSocket API: the largest frame and message a client may send.
pub const WS_MAX_FRAME_BYTES: usize = 32 * 1024;
pub const WS_MAX_MESSAGE_BYTES: usize = 128 * 1024;
/// WebSocket API: the largest message `@connections` posts.
pub const WS_MAX_POST_BYTES: usize = 128 * 1024;

#[derive(Debug, Clone)]
pub struct Limits {
    /// Steady requests per second per HTTP route, and the burst above it.
    pub http_rate_limit: f64,
    pub http_burst_limit: f64,
    /// Each function's `Timeout`, by its binary name.
    pub function_timeouts: HashMap<String, Duration>,
    /// A WebSocket with no client message for this long is closed.
    pub ws_idle_timeout: Duration,
    /// A WebSocket open this long is closed.
    pub ws_max_connection: Duration,
}

impl Limits {
    /// The template's values, overridden by `HTTP_API_RATE_LIMIT`, `HTTP_API_BURST_LIMIT`,
    /// `WS_IDLE_TIMEOUT_SECONDS` and `WS_MAX_CONNECTION_SECONDS` from `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let template: Yaml = pulse_dynamodb::template::parse()?;
        let default_of = |parameter: &str| template["Parameters"][parameter]["Default"].as_f64();
        let number = |name: &str, default: Option<f64>| -> anyhow::Result<f64> {
            match lookup(name) {
                Some(value) => value
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|v| *v > 0.0)
                    .ok_or_else(|| anyhow::anyhow!("{name} must be a positive number, got '{value}'")),
                None => default.ok_or_else(|| anyhow::anyhow!("template.yaml has no default for {name}")),
            }
        };
        Ok(Self {
            http_rate_limit: number("HTTP_API_RATE_LIMIT", default_of("HttpApiRateLimit"))?,
            http_burst_limit: number("HTTP_API_BURST_LIMIT", default_of("HttpApiBurstLimit"))?,
            function_timeouts: function_timeouts(&template),
            ws_idle_timeout: Duration::from_secs_f64(number("WS_IDLE_TIMEOUT_SECONDS", Some(600.0))?),
            ws_max_connection: Duration::from_secs_f64(number("WS_MAX_CONNECTION_SECONDS", Some(7200.0))?),
        })
    }

    /// `function`'s timeout (the template's global one for a function without its own).
    pub fn timeout_of(&self, function: &str) -> Duration {
        self.function_timeouts
            .get(function)
            .copied()
            .unwrap_or(Duration::from_secs(3))
    }
}

/// Each function's `Timeout` (or the `Globals` one) by its `BuildProperties.Binary`.
fn function_timeouts(template: &Yaml) -> HashMap<String, Duration> {
    let global = template["Globals"]["Function"]["Timeout"].as_u64();
    template["Resources"]
        .as_mapping()
        .into_iter()
        .flatten()
        .filter(|(_, resource)| resource["Type"].as_str() == Some("AWS::Serverless::Function"))
        .filter_map(|(_, resource)| {
            let binary = resource["Metadata"]["BuildProperties"]["Binary"].as_str()?;
            // Lambda's default when neither is set.
            let seconds = resource["Properties"]["Timeout"].as_u64().or(global).unwrap_or(3);
            Some((binary.to_owned(), Duration::from_secs(seconds)))
        })
        .collect()
}

/// API Gateway's per-route token buckets: `burst` requests at once, refilled at `rate` a second.
#[derive(Debug, Default)]
pub struct Throttle {
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl Throttle {
    /// Takes one request from `route`'s bucket; false when it is empty (API Gateway's 429).
    pub fn admit(&self, route: &str, limits: &Limits) -> bool {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().expect("throttle lock");
        let (tokens, refilled_at) = buckets
            .entry(route.to_owned())
            .or_insert((limits.http_burst_limit, now));
        let elapsed = now.duration_since(*refilled_at).as_secs_f64();
        *tokens = (*tokens + elapsed * limits.http_rate_limit).min(limits.http_burst_limit);
        *refilled_at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_templates_limits_are_read() {
        let limits = Limits::from_lookup(|_| None).unwrap();
        assert_eq!(limits.http_rate_limit, 1000.0);
        assert_eq!(limits.http_burst_limit, 2000.0);
        assert_eq!(limits.timeout_of("collect"), Duration::from_secs(10));
        assert_eq!(limits.timeout_of("aggregate"), Duration::from_secs(60));
        assert_eq!(limits.timeout_of("broadcast"), Duration::from_secs(30));
        assert_eq!(limits.ws_idle_timeout, Duration::from_secs(600));
        assert_eq!(limits.ws_max_connection, Duration::from_secs(7200));
        let shortened = Limits::from_lookup(|name| (name == "WS_IDLE_TIMEOUT_SECONDS").then(|| "0.5".into())).unwrap();
        assert_eq!(shortened.ws_idle_timeout, Duration::from_millis(500));
        assert!(Limits::from_lookup(|name| (name == "HTTP_API_RATE_LIMIT").then(|| "-1".into())).is_err());
    }

    #[test]
    fn a_route_admits_its_burst_then_its_rate() {
        let limits = Limits {
            http_rate_limit: 1.0,
            http_burst_limit: 2.0,
            ..Limits::from_lookup(|_| None).unwrap()
        };
        let throttle = Throttle::default();
        assert!(throttle.admit("ANY /collect", &limits));
        assert!(throttle.admit("ANY /collect", &limits));
        assert!(!throttle.admit("ANY /collect", &limits), "past the burst");
        assert!(
            throttle.admit("GET /sites/{siteId}/realtime", &limits),
            "each route has its own"
        );
    }
}
