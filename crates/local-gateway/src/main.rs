use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;
use local_gateway::{Functions, serve};
use pulse_dynamodb::DynamoStore;
use tracing_subscriber::EnvFilter;

/// Serves the HTTP routes on this machine with the real handler code, against the DynamoDB that the
/// environment points to (AWS_ENDPOINT_URL_DYNAMODB for moto).
#[derive(Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "GATEWAY_ADDR", default_value = "127.0.0.1:3000")]
    addr: SocketAddr,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::from_default_env())
        .init();
    let args = Args::parse();
    let collect_config = collect::Config::from_env()?;
    let sdk_config = pulse_dynamodb::sdk_config().await;
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk_config),
        &collect_config.table_name,
    );
    let functions = Arc::new(Functions::new(store, &collect_config));
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("binding {}", args.addr))?;
    tracing::info!("local gateway on http://{}", args.addr);
    tokio::select! {
        served = serve(listener, functions) => served.context("serving")?,
        _ = tokio::signal::ctrl_c() => tracing::info!("stopping"),
    }
    Ok(())
}
