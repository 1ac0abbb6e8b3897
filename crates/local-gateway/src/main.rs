use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;
use local_gateway::identity::Principals;
use local_gateway::{Functions, Gateway, run_stream_consumers, serve};
use tracing_subscriber::EnvFilter;

/// Serves the HTTP routes with the real handler code and feeds the table's stream to the stream
/// consumers, against the DynamoDB the environment points to (AWS_ENDPOINT_URL_DYNAMODB and
/// AWS_ENDPOINT_URL_DYNAMODB_STREAMS for moto).
#[derive(Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "GATEWAY_ADDR", default_value = "127.0.0.1:3000")]
    addr: SocketAddr,
    /// The name the local stack is registered under (with the outputs a deployed stack has), for
    /// `pulse-admin --stack`.
    #[arg(long, env = "LOCAL_STACK_NAME", default_value = "pulse-local")]
    stack_name: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // WARN and above by default, so a failing stream poll or handler is visible without RUST_LOG.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn,local_gateway=info"));
    tracing_subscriber::fmt().with_env_filter(filter).init();
    let args = Args::parse();
    let tables = pulse_lambda::Tables::from_settings(&pulse_lambda::Settings::new(pulse_lambda::settings::env))?;
    let (table, rollup_table) = (&tables.events, &tables.rollups);
    let sdk_config = pulse_dynamodb::sdk_config().await;
    let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").context(
        "AWS_ENDPOINT_URL_DYNAMODB is not set: the local gateway runs against the local DynamoDB (infra/local)",
    )?;
    let principals = Principals::register(&endpoint, &sdk_config, table, rollup_table).await?;
    // The broadcast's management API client, and the dashboards' WebSocket, reach this gateway unless
    // told otherwise.
    let own_endpoint = format!("http://{}", args.addr);
    let own_websocket = format!("ws://{}/ws", args.addr);
    let lookup = |name: &str| match name {
        "WEBSOCKET_ENDPOINT" => std::env::var(name).ok().or_else(|| Some(own_endpoint.clone())),
        "WEBSOCKET_URL" => std::env::var(name).ok().or_else(|| Some(own_websocket.clone())),
        _ => std::env::var(name).ok(),
    };
    let limits = local_gateway::limits::Limits::from_lookup(|name| std::env::var(name).ok())?;
    let gateway = Arc::new(Gateway::new(
        Functions::build(&principals, lookup).await?,
        limits,
        principals.clone(),
    ));
    let region = sdk_config.region().map(|r| r.to_string()).unwrap_or_default();
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("binding {}", args.addr))?;
    tracing::info!("local gateway on http://{}", args.addr);
    // After binding, so that nothing waits on it; only a convenience for the admin CLI: the gateway
    // serves without it.
    let outputs = local_gateway::stack::LocalOutputs {
        table,
        rollup_table,
        websocket_endpoint: &own_endpoint,
    };
    if let Err(err) = local_gateway::stack::register(&sdk_config, &endpoint, &args.stack_name, &outputs).await {
        tracing::warn!("{err:#}");
    }
    tokio::select! {
        served = serve(listener, gateway.clone()) => served.context("serving")?,
        polled = run_stream_consumers(&principals, table, &region, gateway) => polled.context("polling the stream")?,
        _ = tokio::signal::ctrl_c() => tracing::info!("stopping"),
    }
    Ok(())
}
