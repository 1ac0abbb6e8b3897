//! Admin CLI: manages the site registry and creates the table, against whatever DynamoDB the environment
//! points to (AWS credentials and region as usual; AWS_ENDPOINT_URL_DYNAMODB for a local one).

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use pulse_core::site::parse_domain;
use pulse_core::{ReadToken, Site, SiteId};
use pulse_dynamodb::DynamoStore;
use pulse_dynamodb::schema::{self, Created};

#[derive(Parser)]
#[command(name = "pulse-admin", about = "Manage sites and the table")]
struct Cli {
    /// The table to act on.
    #[arg(long, env = "TABLE_NAME", global = true, default_value = "")]
    table: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Manage registered sites.
    #[command(subcommand)]
    Site(SiteCommand),
    /// Manage the table itself.
    #[command(subcommand)]
    Table(TableCommand),
}

#[derive(Subcommand)]
enum SiteCommand {
    /// Register a site. Prints its read token once, on standard output.
    Create {
        #[arg(long)]
        id: String,
        /// Allowed hostname (also allows its subdomains). Repeat for more.
        #[arg(long = "domain", required = true)]
        domains: Vec<String>,
        /// Let anyone read the site's numbers without a token.
        #[arg(long)]
        public: bool,
    },
    /// List registered sites.
    List,
    /// Replace a site's read token. Prints the new token once; the old one stops working.
    RotateToken {
        #[arg(long)]
        id: String,
    },
    /// Remove a site: its hits are refused from then on; its stored events expire by TTL.
    Delete {
        #[arg(long)]
        id: String,
    },
}

#[derive(Subcommand)]
enum TableCommand {
    /// Create the table as template.yaml defines it (for local use; `sam deploy` creates it in AWS).
    Create,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if cli.table.is_empty() {
        bail!("set TABLE_NAME or pass --table");
    }
    let sdk_config = pulse_dynamodb::sdk_config().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk_config);
    let store = DynamoStore::new(client.clone(), &cli.table);

    match cli.command {
        Command::Table(TableCommand::Create) => match schema::create_table(&client, &cli.table).await? {
            Created::Created => eprintln!("table {} created", cli.table),
            Created::AlreadyExisted => eprintln!("table {} already exists", cli.table),
        },
        Command::Site(SiteCommand::Create { id, domains, public }) => {
            let id = SiteId::parse(&id)?;
            let domains = domains.iter().map(|d| parse_domain(d)).collect::<Result<Vec<_>, _>>()?;
            let token = ReadToken::generate();
            let site = Site {
                id,
                domains,
                public,
                token_hash: token.hash(),
            };
            store.create_site(&site).await?;
            eprintln!(
                "site {} created for {}; its read token follows (shown once):",
                site.id,
                site.domains.join(", ")
            );
            println!("{}", token.expose());
        }
        Command::Site(SiteCommand::List) => {
            let sites = store.list_sites().await.context("listing sites")?;
            println!("{:<32} {:<7} DOMAINS", "ID", "PUBLIC");
            for site in sites {
                println!("{:<32} {:<7} {}", site.id, site.public, site.domains.join(","));
            }
        }
        Command::Site(SiteCommand::RotateToken { id }) => {
            let id = SiteId::parse(&id)?;
            let token = ReadToken::generate();
            store.set_token_hash(&id, &token.hash()).await?;
            eprintln!("new read token for {id} follows (shown once); the old one no longer works:");
            println!("{}", token.expose());
        }
        Command::Site(SiteCommand::Delete { id }) => {
            let id = SiteId::parse(&id)?;
            store.delete_site(&id).await?;
            eprintln!("site {id} deleted");
        }
    }
    Ok(())
}
