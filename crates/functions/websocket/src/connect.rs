use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use chrono::Utc;
use lambda_runtime::{Error, LambdaEvent};
use pulse_core::admission::{ConnectOutcome, DashboardAdmission};
use pulse_core::live::{ConnectionId, ConnectionStore};
use pulse_core::origin::{self, ORIGIN_VERIFY_HEADER, OriginSecret};
use pulse_core::site_cache::SiteCache;
use pulse_core::time::RequestBudget;
use pulse_core::{SiteDirectory, SiteId};
use pulse_dynamodb::DynamoStore;
use pulse_lambda::{ConfigError, Environment};

use crate::Config;
use crate::response;

pub use pulse_core::admission::CONNECTION_TTL;

pub struct ConnectApp<S> {
    pub admission: DashboardAdmission<S>,
    request_budget: RequestBudget,
    origin_verify_secret: Option<OriginSecret>,
}

impl<S: SiteDirectory + ConnectionStore> ConnectApp<S> {
    pub fn new(store: S, config: &Config) -> Self {
        let sites = SiteCache::trusting(config.reader.site_cache_ttl);
        Self {
            admission: DashboardAdmission::new(store, sites, config.max_connections_per_site),
            request_budget: config.reader.request_budget,
            origin_verify_secret: config.reader.origin_verify_secret.clone(),
        }
    }

    pub fn store(&self) -> &S {
        self.admission.store()
    }
}

/// The app as Lambda runs it.
pub type LambdaApp = ConnectApp<DynamoStore>;

impl pulse_lambda::FunctionApp for ConnectApp<DynamoStore> {
    async fn build(environment: &Environment<'_>) -> Result<Self, ConfigError> {
        let config = Config::from_lookup(environment.lookup())?;
        Ok(Self::new(environment.store(&config.reader.tables).await, &config))
    }
}

/// `$connect`: the same checks as the realtime API (an unknown site, a missing or a wrong token: 401, the
/// same answer for each, so site ids cannot be enumerated), then
/// the connection is recorded. Any non-2xx answer refuses the connection.
pub async fn function_handler<S>(
    app: &ConnectApp<S>,
    event: LambdaEvent<ApiGatewayWebsocketProxyRequest>,
) -> Result<ApiGatewayProxyResponse, Error>
where
    S: SiteDirectory + ConnectionStore,
{
    let request = event.payload;
    let sent_secret = request.headers.get(ORIGIN_VERIFY_HEADER).and_then(|v| v.to_str().ok());
    if !origin::via_cdn(app.origin_verify_secret.as_ref(), sent_secret) {
        let (message, field) = origin::ORIGIN_REQUIRED;
        return Ok(response::error(403, message, Some(field)));
    }
    let Some(connection) = request
        .request_context
        .connection_id
        .as_deref()
        .and_then(ConnectionId::parse)
    else {
        return Ok(response::error(400, "no usable connection id", None));
    };
    let query = &request.query_string_parameters;
    let Some(site_id) = query.first("siteId").and_then(|raw| SiteId::parse(raw).ok()) else {
        return Ok(response::error(
            400,
            "siteId must be 1 to 64 characters of A-Z, a-z, 0-9, '_', '.', '-'",
            Some("siteId"),
        ));
    };
    let budget = app.request_budget.before(event.context.deadline);
    let admitting = app
        .admission
        .admit(&site_id, query.first("token"), &connection, Utc::now());
    let Ok(outcome) = tokio::time::timeout(budget, admitting).await else {
        // A slow store: the dashboard reconnects with backoff, as after any refusal.
        tracing::warn!(
            budget_ms = budget.as_millis() as u64,
            "connection not admitted within its budget"
        );
        return Ok(response::unavailable());
    };
    Ok(match outcome {
        Ok(ConnectOutcome::Admitted) => response::ok(),
        Ok(ConnectOutcome::Unauthorized) => {
            response::error(401, "a valid token for this site is required", Some("token"))
        }
        Ok(ConnectOutcome::Full) => response::error(
            429,
            "this site has as many live dashboards open as it may; close one or poll the realtime API",
            None,
        ),
        Err(err) => {
            tracing::error!(error = %err, source = ?std::error::Error::source(&err), "connection not admitted");
            response::unavailable()
        }
    })
}

#[cfg(test)]
mod tests {
    use pulse_core::memory::MemoryStore;
    use pulse_core::{Site, TokenHash};

    use super::*;

    fn app(public: bool) -> ConnectApp<MemoryStore> {
        let site = Site::new(
            SiteId::parse("demo").unwrap(),
            vec!["localhost".into()],
            TokenHash::of("pt_demo-token"),
        )
        .public(public);
        let config = Config::from_lookup(|name| match name {
            "TABLE_NAME" => Some("t".into()),
            "MAX_CONNECTIONS_PER_SITE" => Some("3".into()),
            _ => None,
        })
        .unwrap();
        ConnectApp::new(MemoryStore::with_site(site), &config)
    }

    /// Past the cap a connection is refused with 429 and a reason; one that closes makes room again.
    #[tokio::test]
    async fn a_site_holds_at_most_its_cap_of_connections() {
        let app = app(false);
        let fixture = &pulse_test_support::event("websocket/connect-good-token");
        for n in 0..3 {
            let with_id = fixture.replace("\"connectionId\": \"", &format!("\"connectionId\": \"c{n}"));
            assert_eq!(connect(&app, &with_id).await, 200, "connection {n}");
        }
        let fourth = fixture.replace("\"connectionId\": \"", "\"connectionId\": \"c3");
        assert_eq!(connect(&app, &fourth).await, 429);
        assert_eq!(app.store().connections.lock().unwrap().len(), 3);
        let first = app.store().connections.lock().unwrap().keys().next().unwrap().clone();
        app.store().remove_connection(&first).await.unwrap();
        assert_eq!(connect(&app, &fourth).await, 200);
    }

    async fn connect(app: &ConnectApp<MemoryStore>, fixture: &str) -> i64 {
        let request: ApiGatewayWebsocketProxyRequest = serde_json::from_str(fixture).expect("a $connect event");
        function_handler(app, LambdaEvent::new(request, Default::default()))
            .await
            .unwrap()
            .status_code
    }

    #[tokio::test]
    async fn good_token_connects_and_is_recorded() {
        let app = app(false);
        assert_eq!(
            connect(&app, &pulse_test_support::event("websocket/connect-good-token")).await,
            200
        );
        let connections = app.store().connections.lock().unwrap().clone();
        assert_eq!(connections.len(), 1);
        assert_eq!(connections.values().next().unwrap().as_str(), "demo");
    }

    #[tokio::test]
    async fn bad_token_is_refused_with_401() {
        let app = app(false);
        assert_eq!(
            connect(&app, &pulse_test_support::event("websocket/connect-bad-token")).await,
            401
        );
        assert!(app.store().connections.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn public_site_needs_no_token() {
        let fixture = &pulse_test_support::event("websocket/connect-public-site");
        assert_eq!(connect(&app(true), fixture).await, 200);
        assert_eq!(connect(&app(false), fixture).await, 401);
    }

    #[tokio::test]
    async fn an_unknown_site_is_refused_like_a_wrong_token() {
        let fixture = pulse_test_support::event("websocket/connect-good-token").replace("\"demo\"", "\"nobody\"");
        assert_eq!(connect(&app(false), &fixture).await, 401);
    }
}
