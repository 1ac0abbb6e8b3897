//! A local stand-in for API Gateway and Lambda's event source mappings:
//! - each HTTP request becomes the API Gateway HTTP API (v2) event Lambda would receive, and the real
//!   handler code answers it ([`router`]), the web function's files included;
//! - `/demo/{file}` serves the demo site from web/demo (local only: not part of the AWS stack);
//! - WebSockets at `/ws` run the WebSocket API's route handlers, and `/@connections/{id}` is the
//!   management API that reaches them ([`ws`]);
//! - the table's stream is polled and fed to the stream consumers with the template's filters
//!   ([`streams`], [`esm`]).

mod apigw;
pub mod esm;
pub mod identity;
pub mod limits;
pub mod load;
pub mod stack;
pub mod streams;
pub mod ws;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{any, get, post};
use identity::Principals;
use lambda_http::RequestExt as _;
use limits::{Limits, Throttle};
use pulse_dynamodb::DynamoStore;
use pulse_lambda::{Environment, FunctionApp, Lookup};
use serde_json::Value;
use streams::{StreamFunction, StreamPoller};
use web::WebApp;

/// The functions, each built once as its Lambda builds it ([`pulse_lambda::FunctionApp`]), from the
/// settings its Lambda reads.
pub struct Functions {
    pub collect: collect::LambdaApp,
    pub realtime: realtime::LambdaApp,
    pub aggregate: aggregate::LambdaApp,
    pub ws_connect: websocket::connect::LambdaApp,
    pub ws_disconnect: websocket::disconnect::LambdaApp,
    pub broadcast: broadcast::LambdaApp,
    /// web/public as embedded in the `web` binary, and `WEBSOCKET_URL` for config.json.
    pub web: web::LambdaApp,
}

impl Functions {
    /// Settings come from `lookup` (the environment, in the binary). Each function calls AWS as its own
    /// principal: DynamoDB, and for the broadcast the management API at `WEBSOCKET_ENDPOINT` (this
    /// gateway).
    pub async fn build(
        principals: &Principals,
        lookup: impl Fn(&str) -> Option<String> + Send + Sync,
    ) -> anyhow::Result<Self> {
        let lookup: Lookup = &lookup;
        let as_function = |function: &str| principals.environment(function, lookup);
        Ok(Self {
            collect: collect::LambdaApp::build(&as_function("CollectFunction")).await?,
            realtime: realtime::LambdaApp::build(&as_function("RealtimeFunction")).await?,
            aggregate: aggregate::LambdaApp::build(&as_function("AggregateFunction")).await?,
            ws_connect: websocket::connect::LambdaApp::build(&as_function("WsConnectFunction")).await?,
            ws_disconnect: websocket::disconnect::LambdaApp::build(&as_function("WsDisconnectFunction")).await?,
            broadcast: broadcast::LambdaApp::build(&as_function("BroadcastFunction")).await?,
            // Calls no AWS API: no principal of its own.
            web: web::LambdaApp::build(&Environment::settings_only(lookup)).await?,
        })
    }
}

/// The gateway's state: the functions and the live WebSocket connections.
pub struct Gateway {
    pub functions: Functions,
    pub connections: ws::Connections,
    /// Batches handed to the broadcast function (for the live benchmark's messages-per-batch figure).
    pub broadcast_batches: AtomicUsize,
    /// What API Gateway and Lambda enforce, and the HTTP routes' throttling state.
    pub limits: Limits,
    throttle: Throttle,
    /// The functions' identities, for the management API's IAM check.
    pub principals: Principals,
}

impl Gateway {
    pub fn new(functions: Functions, limits: Limits, principals: Principals) -> Self {
        Self {
            functions,
            connections: ws::Connections::default(),
            broadcast_batches: AtomicUsize::new(0),
            limits,
            throttle: Throttle::default(),
            principals,
        }
    }

    /// Runs one HTTP invocation of `function` as API Gateway and Lambda would: throttled per route, with
    /// the function's deadline in its context, and cut off at its timeout.
    async fn invoke_http<F, Fut>(
        &self,
        function: &str,
        route_key: &str,
        request: Request,
        peer: SocketAddr,
        parameters: HashMap<String, String>,
        handler: F,
    ) -> Response
    where
        F: FnOnce(lambda_http::Request) -> Fut,
        Fut: std::future::Future<Output = Result<lambda_http::Response<lambda_http::Body>, lambda_http::Error>>,
    {
        if !self.throttle.admit(route_key, &self.limits) {
            return apigw::too_many_requests();
        }
        let timeout = self.limits.timeout_of(function);
        let event = match apigw::to_lambda_request(request, peer, route_key, parameters).await {
            Ok(event) => event.with_lambda_context(apigw::context_until(timeout)),
            Err(response) => return response,
        };
        match tokio::time::timeout(timeout.min(limits::HTTP_INTEGRATION_TIMEOUT), handler(event)).await {
            Ok(answer) => apigw::from_lambda_response(answer),
            Err(_) if timeout < limits::HTTP_INTEGRATION_TIMEOUT => {
                tracing::error!(function, ?timeout, "function timed out");
                apigw::internal_error()
            }
            Err(_) => apigw::service_unavailable(),
        }
    }
}

/// The HTTP API's routes sit under `BASE_PATH` (empty by default), as the template's `BasePath` puts
/// them; the WebSocket API and the management API, separate APIs in AWS, stay at the root.
pub fn router(gateway: Arc<Gateway>) -> Router {
    let http_api = Router::new()
        .route("/collect", any(collect_route))
        .route("/t", any(stealth_collect_route))
        .route("/sites/{site_id}/realtime", any(realtime_route))
        .route("/sites/{site_id}/tracker.js", any(site_tracker_route))
        // Static paths above win over this one, as more specific routes do in API Gateway.
        .route("/{asset}", any(web_route))
        .route("/demo/", get(|| async { Redirect::temporary("index.html") }))
        .route("/demo/{file}", get(demo_route));
    let base_path = gateway.functions.web.base_path().to_owned();
    let router = if base_path.is_empty() {
        http_api
    } else {
        Router::new().nest(&base_path, http_api)
    };
    router
        .route("/ws", get(ws::connect_route))
        .route(
            "/@connections/{connection_id}",
            post(ws::post_to_connection)
                .get(ws::get_connection)
                .delete(ws::delete_connection),
        )
        .fallback(apigw::not_found)
        .with_state(gateway)
}

/// Serves HTTP until the listener fails or the future is dropped.
pub async fn serve(listener: tokio::net::TcpListener, gateway: Arc<Gateway>) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(gateway).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}

/// Feeds the table's stream to both stream consumers, each through its own event source mapping as
/// template.yaml defines it (own filters, position and retries, and the function's own role), until the
/// future is dropped.
pub async fn run_stream_consumers(
    principals: &Principals,
    table: &str,
    region: &str,
    gateway: Arc<Gateway>,
) -> anyhow::Result<()> {
    let poller = |function: &str| {
        Arc::new(StreamPoller {
            streams: principals.streams(function),
            table: table.to_owned(),
            region: region.to_owned(),
        })
    };
    let for_aggregate = gateway.clone();
    let aggregate: StreamFunction = Arc::new(move |event: Value| {
        let gateway = for_aggregate.clone();
        Box::pin(async move {
            let response = aggregate::function_handler(&gateway.functions.aggregate, stream_event(event)?)
                .await
                .map_err(|e| anyhow::anyhow!(e))?;
            Ok(serde_json::to_value(response)?)
        })
    });
    let broadcast: StreamFunction = Arc::new(move |event: Value| {
        let gateway = gateway.clone();
        Box::pin(async move {
            gateway.broadcast_batches.fetch_add(1, Ordering::Relaxed);
            let response = broadcast::function_handler(&gateway.functions.broadcast, stream_event(event)?)
                .await
                .map_err(|e| anyhow::anyhow!(e))?;
            Ok(serde_json::to_value(response)?)
        })
    });
    tokio::try_join!(
        poller("AggregateFunction").run(esm::mapping_from_template("AggregateFunction")?, aggregate),
        poller("BroadcastFunction").run(esm::mapping_from_template("BroadcastFunction")?, broadcast),
    )?;
    Ok(())
}

fn stream_event(
    event: Value,
) -> anyhow::Result<lambda_runtime::LambdaEvent<aws_lambda_events::event::dynamodb::Event>> {
    Ok(lambda_runtime::LambdaEvent::new(
        serde_json::from_value(event)?,
        lambda_runtime::Context::default(),
    ))
}

async fn collect_route(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    invoke_collect(&gateway, peer, request, "ANY /collect").await
}

/// `ANY /t`: ts-analytics' stealth-mode tracker, the same hits as `/collect`.
async fn stealth_collect_route(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    invoke_collect(&gateway, peer, request, "ANY /t").await
}

async fn invoke_collect(gateway: &Gateway, peer: SocketAddr, request: Request, route_key: &str) -> Response {
    gateway
        .invoke_http("collect", route_key, request, peer, HashMap::new(), |event| {
            collect::function_handler(&gateway.functions.collect, event)
        })
        .await
}

/// Only GET is routed in the template; API Gateway answers other methods (and CORS preflights, from the
/// API's CORS configuration) itself.
async fn realtime_route(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(site_id): Path<String>,
    request: Request,
) -> Response {
    let route_key = match request.method().as_str() {
        "GET" | "OPTIONS" => "GET /sites/{siteId}/realtime",
        _ => return apigw::not_found().await,
    };
    let parameters = HashMap::from([("siteId".to_owned(), site_id)]);
    gateway
        .invoke_http("realtime", route_key, request, peer, parameters, |event| {
            realtime::function_handler(&gateway.functions.realtime, event)
        })
        .await
}

/// `ANY /{asset}`: the web function (files of web/public, `/dashboard`, `/config.json`).
async fn web_route(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(asset): Path<String>,
    request: Request,
) -> Response {
    let parameters = HashMap::from([("asset".to_owned(), asset)]);
    invoke_web(&gateway, peer, request, "ANY /{asset}", parameters).await
}

/// `GET /sites/{siteId}/tracker.js`: the web function (the tracker as ts-analytics' snippet loads it).
async fn site_tracker_route(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(site_id): Path<String>,
    request: Request,
) -> Response {
    let parameters = HashMap::from([("siteId".to_owned(), site_id)]);
    invoke_web(&gateway, peer, request, "GET /sites/{siteId}/tracker.js", parameters).await
}

async fn invoke_web(
    gateway: &Gateway,
    peer: SocketAddr,
    request: Request,
    route_key: &str,
    parameters: HashMap<String, String>,
) -> Response {
    gateway
        .invoke_http("web", route_key, request, peer, parameters, |event| {
            web::function_handler(&gateway.functions.web, event)
        })
        .await
}

/// The demo site's folder, read on each request so that edits show on reload.
const DEMO_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../web/demo");

/// `GET /demo/{file}`: a page of the demo site, which loads the tracker from this gateway. Only plain
/// file names of that one folder.
async fn demo_route(Path(file): Path<String>) -> Response {
    if !web::encode::is_servable_name(&file) {
        return apigw::not_found().await;
    }
    match tokio::fs::read(std::path::Path::new(DEMO_DIR).join(&file)).await {
        Ok(bytes) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, web::encode::content_type(&file)),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            bytes,
        )
            .into_response(),
        Err(_) => apigw::not_found().await,
    }
}

/// How a [`LocalStack`] differs from the default one.
#[derive(Default)]
pub struct StackOptions {
    /// Files for the web function instead of web/public, for tests that must not depend on them.
    pub web_assets: Option<Vec<web::Asset>>,
    /// The HTTP API's path prefix (`BASE_PATH`); empty: none.
    pub base_path: String,
    /// Further configuration of the functions, as environment variables would give it.
    pub settings: Vec<(&'static str, String)>,
    /// Changes each function's policy before it is registered (a test takes a grant away).
    pub edit_policy: Option<PolicyEdit>,
}

/// `(function, its statements from template.yaml)` → the statements to register.
pub type PolicyEdit =
    Box<dyn Fn(&str, Vec<pulse_dynamodb::policy::Statement>) -> Vec<pulse_dynamodb::policy::Statement> + Send + Sync>;

/// A whole local stack on a fresh table, for tests and benchmarks: the table created on the DynamoDB at
/// `endpoint`, the gateway on a free loopback port (its own management API as `WEBSOCKET_ENDPOINT`) and
/// the stream consumers running.
pub struct LocalStack {
    pub address: String,
    pub gateway: Arc<Gateway>,
    pub store: DynamoStore,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub streams: aws_sdk_dynamodbstreams::Client,
    /// Each function's identity, and what the local DynamoDB allowed and denied it.
    pub principals: Principals,
}

impl LocalStack {
    pub async fn start(endpoint: &str, table: &str) -> anyhow::Result<Self> {
        Self::start_with(endpoint, table, StackOptions::default()).await
    }

    /// Like [`Self::start`], with the options' web files and base path.
    pub async fn start_with(endpoint: &str, table: &str, options: StackOptions) -> anyhow::Result<Self> {
        let sdk_config = pulse_dynamodb::sdk_config().await;
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&sdk_config)
                .endpoint_url(endpoint)
                .build(),
        );
        let streams = aws_sdk_dynamodbstreams::Client::from_conf(
            aws_sdk_dynamodbstreams::config::Builder::from(&sdk_config)
                .endpoint_url(endpoint)
                .build(),
        );
        let store = DynamoStore::new(dynamodb.clone(), table);
        pulse_dynamodb::schema::create_tables(&dynamodb, table, store.rollup_table()).await?;
        let edit = |function: &str, statements| match &options.edit_policy {
            Some(edit) => edit(function, statements),
            None => statements,
        };
        let principals = Principals::register_with(endpoint, &sdk_config, table, store.rollup_table(), edit).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let socket = listener.local_addr()?;
        let address = format!("http://{socket}");
        let lookup = |name: &str| match name {
            "TABLE_NAME" => Some(table.to_owned()),
            "WEBSOCKET_ENDPOINT" => Some(address.clone()),
            "WEBSOCKET_URL" => Some(format!("ws://{socket}/ws")),
            "BASE_PATH" => Some(options.base_path.clone()),
            other => options
                .settings
                .iter()
                .find(|(setting, _)| *setting == other)
                .map(|(_, value)| value.clone()),
        };
        let mut functions = Functions::build(&principals, lookup).await?;
        if let Some(assets) = options.web_assets {
            functions.web = WebApp::with_assets(assets, web::SITE_TRACKER.clone(), &web::Config::from_lookup(lookup)?);
        }
        let gateway = Arc::new(Gateway::new(
            functions,
            Limits::from_lookup(lookup)?,
            principals.clone(),
        ));
        tokio::spawn(serve(listener, gateway.clone()));
        let region = sdk_config.region().map(|r| r.to_string()).unwrap_or_default();
        let consumers = (principals.clone(), table.to_owned(), gateway.clone());
        tokio::spawn(async move {
            let (principals, table, gateway) = consumers;
            run_stream_consumers(&principals, &table, &region, gateway).await
        });
        Ok(Self {
            address,
            gateway,
            store,
            dynamodb,
            streams,
            principals,
        })
    }
}
