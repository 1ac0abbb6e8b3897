//! A local stand-in for API Gateway and Lambda's event source mappings:
//! - each HTTP request becomes the API Gateway HTTP API (v2) event Lambda would receive, and the real
//!   handler code answers it ([`router`]);
//! - the table's stream is polled and fed to the stream consumers with the template's filters
//!   ([`streams`], [`esm`]).

mod apigw;
pub mod esm;
pub mod streams;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use aggregate::AggregateApp;
use axum::Router;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::response::Response;
use axum::routing::any;
use collect::CollectApp;
use pulse_dynamodb::DynamoStore;
use realtime::RealtimeApp;
use serde_json::Value;
use streams::{StreamFunction, StreamPoller};

/// The functions, each built once as its Lambda would be, with the configuration its Lambda reads.
pub struct Functions {
    pub collect: CollectApp<DynamoStore>,
    pub realtime: RealtimeApp<DynamoStore>,
    pub aggregate: AggregateApp<DynamoStore>,
}

impl Functions {
    /// Configuration comes from `lookup` (the environment, in the binary).
    pub fn new(
        store: DynamoStore,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Self> {
        let collect_config = collect::Config::from_lookup(&lookup)?;
        let realtime_config = realtime::Config::from_lookup(&lookup)?;
        let aggregate_config = aggregate::Config::from_lookup(&lookup)?;
        Ok(Self {
            collect: CollectApp::new(store.clone(), &collect_config),
            realtime: RealtimeApp::new(store.clone(), &realtime_config),
            aggregate: AggregateApp {
                store,
                config: aggregate_config.aggregate,
            },
        })
    }
}

pub fn router(functions: Arc<Functions>) -> Router {
    Router::new()
        .route("/collect", any(collect_route))
        .route("/sites/{site_id}/realtime", any(realtime_route))
        .fallback(apigw::not_found)
        .with_state(functions)
}

/// Serves HTTP until the listener fails or the future is dropped.
pub async fn serve(
    listener: tokio::net::TcpListener,
    functions: Arc<Functions>,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(functions).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}

/// Feeds the table's stream to the aggregate function as its event source mapping in template.yaml
/// says, until the future is dropped.
pub async fn run_stream_consumers(
    poller: Arc<StreamPoller>,
    functions: Arc<Functions>,
) -> anyhow::Result<()> {
    let spec = esm::mapping_from_template("AggregateFunction")?;
    let aggregate: StreamFunction = Arc::new(move |event: Value| {
        let functions = functions.clone();
        Box::pin(async move {
            let event = serde_json::from_value(event)?;
            let context = lambda_runtime::Context::default();
            let response = aggregate::function_handler(
                &functions.aggregate,
                lambda_runtime::LambdaEvent::new(event, context),
            )
            .await
            .map_err(|e| anyhow::anyhow!(e))?;
            Ok(serde_json::to_value(response)?)
        })
    });
    poller.run(spec, aggregate).await
}

async fn collect_route(
    State(functions): State<Arc<Functions>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let event = match apigw::to_lambda_request(request, peer, "ANY /collect", HashMap::new()).await
    {
        Ok(event) => event,
        Err(response) => return response,
    };
    apigw::from_lambda_response(collect::function_handler(&functions.collect, event).await)
}

/// Only GET is routed in the template; API Gateway answers other methods (and CORS preflights, from the
/// API's CORS configuration) itself.
async fn realtime_route(
    State(functions): State<Arc<Functions>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(site_id): Path<String>,
    request: Request,
) -> Response {
    let route_key = match request.method().as_str() {
        "GET" | "OPTIONS" => "GET /sites/{siteId}/realtime",
        _ => return apigw::not_found().await,
    };
    let parameters = HashMap::from([("siteId".to_owned(), site_id)]);
    let event = match apigw::to_lambda_request(request, peer, route_key, parameters).await {
        Ok(event) => event,
        Err(response) => return response,
    };
    apigw::from_lambda_response(realtime::function_handler(&functions.realtime, event).await)
}
