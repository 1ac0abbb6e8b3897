use chrono::Utc;
use lambda_http::http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Error, Request, RequestExt, Response};
use pulse_core::origin::OriginSecret;
use pulse_core::realtime::service::{RealtimeError, RealtimeService};
use pulse_core::realtime::view::RealtimeParams;
use pulse_core::site_cache::SiteCache;
use pulse_core::time::RequestBudget;
use pulse_core::{RealtimeStore, SiteDirectory, SiteId};
use pulse_dynamodb::DynamoStore;
use pulse_http as response;
use pulse_lambda::{ConfigError, Environment};

use crate::Config;

/// Everything the handler needs, built once per cold start.
pub struct RealtimeApp<S> {
    pub service: RealtimeService<S>,
    request_budget: RequestBudget,
    origin_verify_secret: Option<OriginSecret>,
}

impl<S: SiteDirectory + RealtimeStore> RealtimeApp<S> {
    pub fn new(store: S, config: &Config) -> Self {
        Self {
            service: RealtimeService::new(store, SiteCache::trusting(config.site_cache_ttl)),
            request_budget: config.request_budget,
            origin_verify_secret: config.origin_verify_secret.clone(),
        }
    }
}

impl pulse_lambda::FunctionApp for RealtimeApp<DynamoStore> {
    async fn build(environment: &Environment<'_>) -> Result<Self, ConfigError> {
        let config = Config::from_lookup(environment.lookup())?;
        Ok(Self::new(environment.store(&config.tables).await, &config))
    }
}

/// `GET /sites/{siteId}/realtime?minutes=&limit=&events=`.
pub async fn function_handler<S>(app: &RealtimeApp<S>, request: Request) -> Result<Response<Body>, Error>
where
    S: SiteDirectory + RealtimeStore,
{
    // With the secret configured, only what came through the CDN is served (its cache and WAF apply).
    if let Some(refused) = response::refusal_around_the_cdn(app.origin_verify_secret.as_ref(), request.headers()) {
        return Ok(refused);
    }
    match *request.method() {
        Method::GET => {}
        Method::OPTIONS => return Ok(response::preflight("GET, OPTIONS", "Authorization")),
        _ => return Ok(response::method_not_allowed("GET, OPTIONS")),
    }
    let path_parameters = request.path_parameters_ref();
    let raw_site = path_parameters.and_then(|p| p.first("siteId")).unwrap_or_default();
    let Ok(site_id) = SiteId::parse(raw_site) else {
        return Ok(response::error(
            StatusCode::BAD_REQUEST,
            "siteId must be 1 to 64 characters of A-Z, a-z, 0-9, '_', '.', '-'",
            Some("siteId"),
        ));
    };
    let query = request.query_string_parameters_ref();
    let params = match RealtimeParams::parse(|name| query.and_then(|q| q.first(name))) {
        Ok(params) => params,
        Err(invalid) => {
            return Ok(response::error(
                StatusCode::BAD_REQUEST,
                &invalid.message,
                Some(invalid.field),
            ));
        }
    };
    let token = bearer_token(&request);

    let budget = app
        .request_budget
        .before(response::deadline(request.lambda_context_ref()));
    let viewing = app.service.view(&site_id, token, &params, Utc::now());
    let Ok(outcome) = tokio::time::timeout(budget, viewing).await else {
        // The store is slow: the dashboard polls again, as it does after any 503.
        tracing::warn!(
            budget_ms = budget.as_millis() as u64,
            "view not read within its budget; answering 503"
        );
        return Ok(response::temporarily_unavailable());
    };
    Ok(match outcome {
        Ok(view) => response::json(&view),
        // An unknown site answers exactly as a wrong token does, so site ids cannot be enumerated.
        Err(RealtimeError::UnknownSite | RealtimeError::Unauthorized) => {
            let mut response = response::error(
                StatusCode::UNAUTHORIZED,
                "send the site's read token as Authorization: Bearer <token>",
                Some("authorization"),
            );
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            response
        }
        Err(RealtimeError::Store(err)) => response::store_failed(&err, err.is_transient()),
    })
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
fn bearer_token(request: &Request) -> Option<&str> {
    let value = request.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use pulse_core::memory::MemoryStore;
    use pulse_core::{Site, TokenHash};
    use serde_json::Value;

    use super::*;

    fn app(public: bool) -> RealtimeApp<MemoryStore> {
        let site = Site::new(
            SiteId::parse("demo").unwrap(),
            vec!["localhost".into()],
            TokenHash::of("pt_demo-token"),
        )
        .public(public);
        let config = Config::from_lookup(|name| (name == "TABLE_NAME").then(|| "t".into())).unwrap();
        RealtimeApp::new(MemoryStore::with_site(site), &config)
    }

    async fn run(app: &RealtimeApp<MemoryStore>, fixture: &str) -> (StatusCode, Value) {
        let request = lambda_http::request::from_str(fixture).expect("fixture is an API Gateway v2 event");
        let response = function_handler(app, request).await.unwrap();
        let status = response.status();
        let body = match response.body() {
            Body::Text(text) => serde_json::from_str(text).unwrap(),
            _ => Value::Null,
        };
        (status, body)
    }

    #[tokio::test]
    async fn valid_request_returns_the_view() {
        let (status, body) = run(&app(false), &pulse_test_support::event("realtime/valid")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["siteId"], "demo");
        assert_eq!(body["minutes"], 10);
        assert_eq!(body["timeline"].as_array().unwrap().len(), 10);
        assert_eq!(body["currentVisitors"], 0);
    }

    #[tokio::test]
    async fn bad_parameters_are_400_naming_the_parameter() {
        let (status, body) = run(&app(false), &pulse_test_support::event("realtime/bad-params")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["field"], "minutes");
    }

    #[tokio::test]
    async fn missing_token_is_401_unless_the_site_is_public() {
        let fixture = &pulse_test_support::event("realtime/no-token");
        let (status, body) = run(&app(false), fixture).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["field"], "authorization");
        let (status, _) = run(&app(true), fixture).await;
        assert_eq!(status, StatusCode::OK);
    }

    #[tokio::test]
    async fn an_unknown_site_answers_exactly_as_a_wrong_token() {
        let wrong = pulse_test_support::event("realtime/valid").replace("pt_demo-token", "pt_wrong");
        let wrong = run(&app(false), &wrong).await;
        assert_eq!(wrong.0, StatusCode::UNAUTHORIZED);
        let unknown = pulse_test_support::event("realtime/valid").replace("\"demo\"", "\"nobody\"");
        assert_eq!(run(&app(false), &unknown).await, wrong);
    }
}
