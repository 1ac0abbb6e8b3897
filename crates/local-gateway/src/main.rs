use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;
use local_gateway::streams::StreamPoller;
use local_gateway::{Functions, Gateway, run_stream_consumers, serve};
use pulse_dynamodb::DynamoStore;
use tracing_subscriber::EnvFilter;

/// Serves the HTTP routes with the real handler code and feeds the table's stream to the stream
/// consumers, against the DynamoDB the environment points to (AWS_ENDPOINT_URL_DYNAMODB and
/// AWS_ENDPOINT_URL_DYNAMODB_STREAMS for moto).
#[derive(Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "GATEWAY_ADDR", default_value = "127.0.0.1:3000")]
    addr: SocketAddr,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // WARN and above by default, so a failing stream poll or handler is visible without RUST_LOG.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn,local_gateway=info"));
    tracing_subscriber::fmt().with_env_filter(filter).init();
    let args = Args::parse();
    let table = std::env::var("TABLE_NAME").context("TABLE_NAME is not set")?;
    let sdk_config = pulse_dynamodb::sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk_config);
    let mut store = DynamoStore::new(dynamodb.clone(), &table);
    if let Ok(rollups) = std::env::var("ROLLUP_TABLE_NAME")
        && !rollups.is_empty()
    {
        store = store.with_rollup_table(rollups);
    }
    // The broadcast's management API client, and the dashboards' WebSocket, reach this gateway unless
    // told otherwise.
    let own_endpoint = format!("http://{}", args.addr);
    let own_websocket = format!("ws://{}/ws", args.addr);
    let lookup = |name: &str| match name {
        "WEBSOCKET_ENDPOINT" => std::env::var(name).ok().or_else(|| Some(own_endpoint.clone())),
        "WEBSOCKET_URL" => std::env::var(name).ok().or_else(|| Some(own_websocket.clone())),
        _ => std::env::var(name).ok(),
    };
    let gateway = Arc::new(Gateway::new(Functions::new(store, &sdk_config, lookup)?));
    let poller = Arc::new(StreamPoller {
        streams: aws_sdk_dynamodbstreams::Client::new(&sdk_config),
        dynamodb,
        table,
        region: sdk_config.region().map(|r| r.to_string()).unwrap_or_default(),
    });
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("binding {}", args.addr))?;
    tracing::info!("local gateway on http://{}", args.addr);
    tokio::select! {
        served = serve(listener, gateway.clone()) => served.context("serving")?,
        polled = run_stream_consumers(poller, gateway) => polled.context("polling the stream")?,
        _ = tokio::signal::ctrl_c() => tracing::info!("stopping"),
    }
    Ok(())
}
