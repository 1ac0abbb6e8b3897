//! The `web` function: serves the browser files (the tracker script, the dashboard and its modules)
//! from web/public, embedded at build time, `GET /sites/{siteId}/tracker.js` (the tracker for sites that
//! load it the way ts-analytics' snippet does) and `GET /config.json`, the dashboard's settings. The
//! dashboard gets a strict Content-Security-Policy ([`csp`]); the scripts, which other sites embed, do
//! not. The same binary answers in AWS and, through the local gateway, locally, so both serve the same
//! bytes and headers.

pub mod assets;
pub mod csp;
pub mod encode;
pub mod handler;

pub use assets::{Asset, EMBEDDED, SITE_TRACKER};
pub use handler::{WebApp, function_handler};

/// The app as Lambda runs it.
pub type LambdaApp = WebApp;
use pulse_lambda::{ConfigError, Settings};

/// Configuration read once at cold start.
#[derive(Debug, Clone)]
pub struct Config {
    /// The WebSocket API's URL for dashboards, stage included: `wss://{api}.execute-api.{region}.amazonaws.com/{stage}`,
    /// or a path on the dashboard's own host (`/{stage}`) when CloudFront fronts the WebSocket API too.
    pub websocket_url: String,
    /// The HTTP API's path prefix (`BASE_PATH`, e.g. `/api/analytics`; empty by default): requests arrive
    /// with it, and the function strips it.
    pub base_path: String,
    /// `ORIGIN_VERIFY_SECRET`: when set, requests without it (around the CDN) get 403.
    pub origin_verify_secret: Option<pulse_core::origin::OriginSecret>,
}

impl Config {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let settings = Settings::new(lookup);
        Ok(Self {
            websocket_url: settings.required("WEBSOCKET_URL")?,
            base_path: settings.base_path("BASE_PATH")?,
            origin_verify_secret: pulse_lambda::settings::origin_secret(&settings)?,
        })
    }
}
