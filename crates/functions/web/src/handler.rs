use lambda_http::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Error, Request, RequestExt, Response};
use pulse_http as response;
use serde::Serialize;

use pulse_core::SiteId;
use pulse_core::origin::OriginSecret;

use crate::{Asset, Config, EMBEDDED, SITE_TRACKER};

/// For `?v=` equal to the file's hash: that URL's bytes can never change.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Any other URL: browsers and CloudFront keep the file five minutes, then ask again, cheaply, with its
/// ETag. The tracker loads on every page view of every site: without this, each would cost a second
/// request to the API. A deployment reaches every page within five minutes.
const REVALIDATE: &str = "public, max-age=300";
const ALLOW: &str = "GET, HEAD";
/// Answered by the function itself, ahead of any file of that name.
const CONFIG_PATH: &str = "config.json";

/// The files and the dashboard's settings, built once per cold start.
pub struct WebApp {
    assets: Vec<Asset>,
    site_tracker: Option<Asset>,
    websocket_url: String,
    base_path: String,
    /// The HTML pages' Content-Security-Policy (see [`crate::csp`]).
    page_policy: HeaderValue,
    origin_verify_secret: Option<OriginSecret>,
}

/// `GET /config.json`: what the dashboard cannot know from its own URL.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DashboardConfig<'a> {
    websocket_url: &'a str,
}

impl pulse_lambda::FunctionApp for WebApp {
    async fn build(environment: &pulse_lambda::Environment<'_>) -> Result<Self, pulse_lambda::ConfigError> {
        Ok(Self::new(&Config::from_lookup(environment.lookup())?))
    }
}

impl WebApp {
    /// Serves web/public as embedded at build time.
    pub fn new(config: &Config) -> Self {
        Self::with_assets(EMBEDDED.to_vec(), SITE_TRACKER.clone(), config)
    }

    pub fn with_assets(assets: Vec<Asset>, site_tracker: Option<Asset>, config: &Config) -> Self {
        Self {
            assets,
            site_tracker,
            websocket_url: config.websocket_url.clone(),
            base_path: config.base_path.clone(),
            page_policy: crate::csp::header_value(&config.websocket_url),
            origin_verify_secret: config.origin_verify_secret.clone(),
        }
    }

    pub fn assets(&self) -> &[Asset] {
        &self.assets
    }

    /// The HTTP API's path prefix (`BASE_PATH`), empty when there is none.
    pub fn base_path(&self) -> &str {
        &self.base_path
    }

    /// The file served at `/{name}`: the file of that name, else `{name}.html` (`/dashboard`).
    pub fn find(&self, name: &str) -> Option<&Asset> {
        let named = |wanted: &str| self.assets.iter().find(|asset| asset.name == wanted);
        named(name).or_else(|| named(&format!("{name}.html")))
    }

    /// The policy of a page: for HTML only, never for the scripts other sites embed.
    fn policy_for(&self, asset: &Asset) -> Option<&HeaderValue> {
        asset.content_type.starts_with("text/html").then_some(&self.page_policy)
    }
}

/// What a path names.
enum Target<'a> {
    Config,
    File(&'a Asset),
}

/// `GET`/`HEAD {base}/{file}`, `{base}/sites/{siteId}/tracker.js` and `{base}/config.json`.
pub async fn function_handler(app: &WebApp, request: Request) -> Result<Response<Body>, Error> {
    // With the secret configured, only what came through the CDN is served (its cache and WAF apply).
    if let Some(refused) = response::refusal_around_the_cdn(app.origin_verify_secret.as_ref(), request.headers()) {
        return Ok(refused);
    }
    let name = request
        .uri()
        .path()
        .strip_prefix(app.base_path.as_str())
        .and_then(|path| path.strip_prefix('/'))
        .unwrap_or_default();
    let target = if name == CONFIG_PATH {
        Some(Target::Config)
    } else if is_site_tracker_path(name) {
        app.site_tracker.as_ref().map(Target::File)
    } else {
        app.find(name).map(Target::File)
    };
    let head = request.method() == Method::HEAD;
    let response = match target {
        None => response::error(StatusCode::NOT_FOUND, "no such file", None),
        Some(_) if !head && request.method() != Method::GET => response::method_not_allowed(ALLOW),
        Some(Target::Config) => config(app),
        Some(Target::File(asset)) => serve(asset, &request, app.policy_for(asset))?,
    };
    Ok(if head { without_body(response) } else { response })
}

/// `sites/{siteId}/tracker.js` with a valid site id: the script reads the id from its own URL, so every
/// site gets the same bytes (and the same cache entry per site URL).
fn is_site_tracker_path(name: &str) -> bool {
    name.strip_prefix("sites/")
        .and_then(|rest| rest.strip_suffix("/tracker.js"))
        .is_some_and(|site| SiteId::parse(site).is_ok())
}

fn config(app: &WebApp) -> Response<Body> {
    let mut response = response::json(&DashboardConfig {
        websocket_url: &app.websocket_url,
    });
    // Cached, but checked on every use: it changes only with a deployment.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

fn serve(
    asset: &Asset,
    request: &Request,
    page_policy: Option<&HeaderValue>,
) -> Result<Response<Body>, lambda_http::http::Error> {
    let headers = request.headers();
    let gzip = asset.gzip.as_deref().filter(|_| accepts_gzip(headers));
    let etag = asset.etag(gzip.is_some());
    let versioned = request
        .query_string_parameters_ref()
        .and_then(|query| query.first("v"))
        .is_some_and(|v| v == asset.hash);
    let mut builder = Response::builder()
        .header(header::ETAG, &etag)
        .header(header::CACHE_CONTROL, if versioned { IMMUTABLE } else { REVALIDATE })
        // Lets pages on other sites load the tracker with `integrity` or as a module.
        .header(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*");
    if asset.gzip.is_some() {
        builder = builder.header(header::VARY, "Accept-Encoding");
    }
    // On a 304 too: the browser then stores the policy of the current deployment with its copy.
    if let Some(policy) = page_policy {
        builder = builder
            .header(header::CONTENT_SECURITY_POLICY, policy)
            .header(header::REFERRER_POLICY, "no-referrer");
    }
    if if_none_match(headers, &etag) {
        return builder.status(StatusCode::NOT_MODIFIED).body(Body::Empty);
    }
    builder = builder
        .header(header::CONTENT_TYPE, asset.content_type)
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    if gzip.is_some() {
        builder = builder.header(header::CONTENT_ENCODING, "gzip");
    }
    // Binary, so lambda_http hands API Gateway base64 and the bytes arrive unchanged, gzip or not.
    builder.body(Body::Binary(gzip.unwrap_or(&asset.identity).to_vec()))
}

/// The GET answer's headers, with the length its body would have had.
fn without_body(response: Response<Body>) -> Response<Body> {
    let (mut parts, body) = response.into_parts();
    let length = match &body {
        Body::Text(text) => text.len(),
        Body::Binary(bytes) => bytes.len(),
        _ => 0,
    };
    if length > 0 {
        parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    Response::from_parts(parts, Body::Empty)
}

/// Whether `Accept-Encoding` allows gzip: `gzip` (or `x-gzip`), else `*`, with a q-value above 0.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    let (mut gzip, mut any) = (None, None);
    for item in headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
    {
        let mut parameters = item.split(';');
        let coding = parameters.next().unwrap_or_default().trim().to_ascii_lowercase();
        let quality = parameters
            .filter_map(|p| p.trim().split_once('='))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("q"))
            .map_or(1.0, |(_, q)| q.trim().parse::<f32>().unwrap_or(0.0));
        match coding.as_str() {
            "gzip" | "x-gzip" => gzip = Some(quality),
            "*" => any = Some(quality),
            _ => {}
        }
    }
    gzip.or(any).is_some_and(|quality| quality > 0.0)
}

/// `If-None-Match` names `etag` or is `*` (weak comparison, as RFC 9110 prescribes for it).
fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

#[cfg(test)]
mod tests;
