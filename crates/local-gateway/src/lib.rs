//! A local stand-in for API Gateway: each HTTP request becomes the API Gateway HTTP API (v2) event Lambda
//! would receive, and the real handler code answers it.

mod apigw;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use axum::routing::any;
use collect::CollectApp;
use pulse_dynamodb::DynamoStore;

/// The functions behind the gateway's routes, each built once as its Lambda would be.
pub struct Functions {
    pub collect: CollectApp<DynamoStore>,
}

impl Functions {
    pub fn new(store: DynamoStore, collect_config: &collect::Config) -> Self {
        Self {
            collect: CollectApp::new(store, collect_config),
        }
    }
}

pub fn router(functions: Arc<Functions>) -> Router {
    Router::new()
        .route("/collect", any(collect_route))
        .fallback(apigw::not_found)
        .with_state(functions)
}

/// Serves until the listener fails or the future is dropped.
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

async fn collect_route(
    State(functions): State<Arc<Functions>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let event = match apigw::to_lambda_request(request, peer, "ANY /collect").await {
        Ok(event) => event,
        Err(response) => return response,
    };
    apigw::from_lambda_response(collect::function_handler(&functions.collect, event).await)
}
