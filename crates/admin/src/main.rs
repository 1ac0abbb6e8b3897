//! Admin CLI: manages the site registry and creates the tables, against a deployed stack (`--stack`:
//! its tables and endpoints from its CloudFormation outputs) or the tables named (AWS credentials and
//! region as usual; AWS_ENDPOINT_URL_DYNAMODB for a local DynamoDB).

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use pulse_dynamodb::DynamoStore;
use pulse_dynamodb::schema::{self, Created};

mod dashboards;
mod goals;
mod replay;
mod sites;
mod stack;

#[derive(Parser)]
#[command(name = "pulse-admin", about = "Manage sites and the tables")]
struct Cli {
    /// The deployed stack to act on (the stack_name `sam deploy` used): its tables and its WebSocket
    /// management endpoint are read from its outputs.
    #[arg(long, env = "PULSE_STACK", global = true)]
    stack: Option<String>,
    /// The events table to act on, without --stack (with it: must be the stack's, if given).
    #[arg(long, env = "TABLE_NAME", global = true, default_value = "")]
    table: String,
    /// The rollup table, without --stack (default: `{TABLE_NAME}-rollups`, the local stack's).
    #[arg(long, env = "ROLLUP_TABLE_NAME", global = true)]
    rollup_table: Option<String>,
    /// The live WebSocket API's management endpoint (with --stack: the stack's by default): rotating a
    /// token or deleting a site then closes the site's open dashboards from here too.
    #[arg(long, env = "WEBSOCKET_ENDPOINT", global = true)]
    websocket_endpoint: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Manage registered sites.
    #[command(subcommand)]
    Site(sites::SiteCommand),
    /// Manage a site's goals (conversions counted live).
    #[command(subcommand)]
    Goal(goals::GoalCommand),
    /// Manage the tables themselves.
    #[command(subcommand)]
    Table(TableCommand),
    /// Work with the table's stream.
    #[command(subcommand)]
    Stream(StreamCommand),
}

#[derive(Subcommand)]
enum StreamCommand {
    /// Fold again a batch the aggregate gave up on, from its message in the failure queue (the SQS message
    /// body, a file or - for standard input). Works while the stream holds the records (24 hours).
    Replay {
        #[arg(long)]
        failure_message: String,
    },
}

#[derive(Subcommand)]
enum TableCommand {
    /// Create the tables as template.yaml defines them. For local use; `sam deploy` creates them in AWS.
    Create,
}

/// How long a warm function trusts what it read of a site, goals included (`SITE_CACHE_SECONDS`).
const SITE_CACHE_NOTE: &str =
    "collect and the realtime API see the change within their site cache's lifetime (60 s by default)";

/// The tables and the management endpoint the commands act on.
struct Target {
    table: String,
    rollup_table: String,
    websocket_endpoint: Option<String>,
}

impl Cli {
    async fn target(&self, sdk_config: &aws_config::SdkConfig) -> anyhow::Result<Target> {
        let Some(name) = &self.stack else {
            if self.table.is_empty() {
                bail!("pass --stack (the deployed stack's name; or PULSE_STACK), or --table (TABLE_NAME)");
            }
            let rollup_table = self
                .rollup_table
                .clone()
                .filter(|name| !name.is_empty())
                .unwrap_or_else(|| pulse_dynamodb::schema::default_rollup_table(&self.table));
            return Ok(Target {
                table: self.table.clone(),
                rollup_table,
                websocket_endpoint: self.websocket_endpoint.clone(),
            });
        };
        let deployed = stack::endpoints(sdk_config, name).await?;
        let differs = |given: &str, deployed: &str| !given.is_empty() && given != deployed;
        if differs(&self.table, &deployed.table)
            || differs(self.rollup_table.as_deref().unwrap_or_default(), &deployed.rollup_table)
        {
            bail!(
                "TABLE_NAME or ROLLUP_TABLE_NAME (or --table, --rollup-table) name other tables than stack \
                '{name}' ({}, {}): give either the stack or the tables",
                deployed.table,
                deployed.rollup_table
            );
        }
        Ok(Target {
            table: deployed.table,
            rollup_table: deployed.rollup_table,
            websocket_endpoint: Some(self.websocket_endpoint.clone().unwrap_or(deployed.websocket_endpoint)),
        })
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let sdk_config = pulse_dynamodb::sdk_config().await;
    let target = cli.target(&sdk_config).await?;
    let client = aws_sdk_dynamodb::Client::new(&sdk_config);
    let store = DynamoStore::new(client.clone(), &target.table).with_rollup_table(&target.rollup_table);

    match cli.command {
        Command::Table(TableCommand::Create) => {
            let (table, rollups) = (&target.table, &target.rollup_table);
            match schema::create_tables(&client, table, rollups).await? {
                Created::Created => eprintln!("tables {table} and {rollups} created"),
                Created::AlreadyExisted => eprintln!("tables {table} and {rollups} already exist"),
            }
        }
        Command::Stream(StreamCommand::Replay { failure_message }) => {
            let message = if failure_message == "-" {
                std::io::read_to_string(std::io::stdin())?
            } else {
                std::fs::read_to_string(&failure_message).with_context(|| format!("reading {failure_message}"))?
            };
            let batch = replay::batch_of(&message)?;
            let replayed = replay::replay(&sdk_config, &target.table, &target.rollup_table, &batch).await?;
            eprintln!(
                "{} records of {} replayed ({} .. {}); {} still failing",
                replayed.records,
                batch.shard_id,
                batch.start_sequence_number,
                batch.end_sequence_number,
                replayed.still_failing
            );
            if replayed.still_failing > 0 {
                bail!("some records still fail; the aggregate's log says why");
            }
        }
        Command::Site(command) => {
            let admin = sites::Admin {
                store: &store,
                sdk_config: &sdk_config,
                websocket_endpoint: target.websocket_endpoint.as_deref(),
            };
            sites::run(&admin, command).await?;
        }
        Command::Goal(command) => goals::run(&store, command).await?,
    }
    Ok(())
}
