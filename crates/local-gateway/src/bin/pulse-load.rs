//! `pulse-load`: the zero-loss load run (see `local_gateway::load`) on a local stack of its own, against
//! the DynamoDB at AWS_ENDPOINT_URL_DYNAMODB (moto). Exits non-zero when anything was lost.

use std::time::Duration;

use anyhow::bail;
use clap::Parser;
use local_gateway::LocalStack;
use local_gateway::load::{self, LoadOptions};

#[derive(Parser)]
#[command(
    name = "pulse-load",
    about = "Drive the local gateway with synthetic visitors and prove nothing is lost"
)]
struct Cli {
    /// Concurrent synthetic visitors, each sending one hit at a time.
    #[arg(long, default_value_t = 20)]
    visitors: usize,
    /// How long they send, in seconds.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Dashboards listening on WebSockets.
    #[arg(long, default_value_t = 2)]
    dashboards: usize,
    /// Longest wait for the stream consumers to catch up, in seconds.
    #[arg(long, default_value_t = 120)]
    settle_seconds: u64,
    /// The site's spreads (`pulse-admin site spread`): with LOCAL_DYNAMODB_PARTITION_WCU set on moto,
    /// how one site takes several times what one partition key does.
    #[arg(long, default_value_t = 1)]
    spreads: u8,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // WARN and above, so a dropped broadcast batch or a failing stream poll shows beside the figures.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_env_filter(filter).init();
    let cli = Cli::parse();
    let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB")
        .map_err(|_| anyhow::anyhow!("set AWS_ENDPOINT_URL_DYNAMODB to a local DynamoDB (moto)"))?;
    if !endpoint.contains("127.0.0.1") && !endpoint.contains("localhost") {
        bail!("the load run only targets a DynamoDB on this machine, not {endpoint}");
    }
    let table = format!("pulse-load-{}", std::process::id());
    let stack = LocalStack::start(&endpoint, &table).await?;
    let options = LoadOptions {
        visitors: cli.visitors,
        duration: Duration::from_secs(cli.seconds),
        dashboards: cli.dashboards,
        settle: Duration::from_secs(cli.settle_seconds),
        spreads: cli.spreads,
    };
    let partition_wcu = std::env::var("LOCAL_DYNAMODB_PARTITION_WCU").unwrap_or_else(|_| "unlimited".into());
    println!(
        "{} visitors for {} s, {} dashboards, {} spread(s), {partition_wcu} WCU per partition key, local gateway \
         on {} (moto at {endpoint}, table {table})",
        cli.visitors, cli.seconds, cli.dashboards, cli.spreads, stack.address
    );
    let report = load::run(&stack, &options).await?;
    println!(
        "accepted {} hits in {:.1} s ({:.0}/s, moto-bound), refused {}, throttled answers retried {}; settled \
         {:.1} s after the last hit",
        report.accepted,
        report.sending.as_secs_f64(),
        report.hits_per_second(),
        report.refused,
        report.throttled,
        report.settling.as_secs_f64()
    );
    println!(
        "push delay from a hit's 2xx to a dashboard ({} deliveries): p50 {} ms, p99 {} ms, max {} ms",
        report.push_delays.len(),
        report.push_delay(0.5).as_millis(),
        report.push_delay(0.99).as_millis(),
        report.push_delay(1.0).as_millis()
    );
    if report.problems.is_empty() {
        println!(
            "zero loss: every accepted hit stored once, counted once in the realtime view, and received once by every dashboard"
        );
        Ok(())
    } else {
        for problem in &report.problems {
            println!("LOSS: {problem}");
        }
        bail!("{} differences from the ground truth", report.problems.len())
    }
}
