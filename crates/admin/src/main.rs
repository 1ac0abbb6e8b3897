//! Admin CLI: manages the site registry and creates the table, against whatever DynamoDB the environment
//! points to (AWS credentials and region as usual; AWS_ENDPOINT_URL_DYNAMODB for a local one).

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use pulse_core::goal::{Goal, GoalName, GoalRule, MAX_GOALS_PER_SITE};
use pulse_core::site::parse_domain;
use pulse_core::{ReadToken, Site, SiteDirectory, SiteId};
use pulse_dynamodb::schema::{self, Created};
use pulse_dynamodb::{DynamoStore, GoalEditError};

mod dashboards;
mod replay;

#[derive(Parser)]
#[command(name = "pulse-admin", about = "Manage sites and the table")]
struct Cli {
    /// The table to act on.
    #[arg(long, env = "TABLE_NAME", global = true, default_value = "")]
    table: String,
    /// The live WebSocket API's management endpoint (the stack's WebSocketManagementEndpoint output;
    /// locally the gateway): rotating a token or deleting a site then closes the site's open dashboards.
    #[arg(long, env = "WEBSOCKET_ENDPOINT", global = true)]
    websocket_endpoint: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Manage registered sites.
    #[command(subcommand)]
    Site(SiteCommand),
    /// Manage a site's goals (conversions counted live).
    #[command(subcommand)]
    Goal(GoalCommand),
    /// Manage the table itself.
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
enum GoalCommand {
    /// Define a goal: exactly one of --page, --page-prefix or --event.
    Add {
        #[arg(long)]
        site: String,
        /// 1 to 64 characters of A-Z a-z 0-9 space _ . -
        #[arg(long)]
        name: String,
        /// A page view of exactly this path.
        #[arg(long, group = "rule")]
        page: Option<String>,
        /// A page view of any path starting with this.
        #[arg(long, group = "rule")]
        page_prefix: Option<String>,
        /// A custom event of this name.
        #[arg(long, group = "rule")]
        event: Option<String>,
        /// With --event: only when the event has this property value (key=value).
        #[arg(long, requires = "event")]
        event_prop: Option<String>,
        /// A fixed value per conversion; an event's own value wins over it.
        #[arg(long)]
        value: Option<f64>,
    },
    /// List a site's goals.
    List {
        #[arg(long)]
        site: String,
    },
    /// Remove a goal by name.
    Remove {
        #[arg(long)]
        site: String,
        #[arg(long)]
        name: String,
    },
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
        /// Keep the query string of outbound click URLs (by default only scheme, host and path are
        /// stored and pushed: queries carry tokens and e-mail addresses).
        #[arg(long)]
        keep_outbound_query: bool,
    },
    /// Change a site's settings.
    Set {
        #[arg(long)]
        id: String,
        /// Whether outbound click URLs keep their query string (true or false).
        #[arg(long, required = true, action = clap::ArgAction::Set)]
        keep_outbound_query: bool,
    },
    /// List registered sites.
    List,
    /// Replace a site's read token. Prints the new token once, first; the old one stops working within
    /// the functions' site cache lifetime, and dashboards holding it are closed by the broadcast
    /// function within seconds (and from here first with --websocket-endpoint).
    RotateToken {
        #[arg(long)]
        id: String,
    },
    /// Remove a site: its hits are refused within the functions' site cache lifetime; open dashboards
    /// are closed by the broadcast function within seconds. Without --purge its data stays until TTL
    /// removes it (raw events after RAW_EVENT_TTL_SECONDS, 24 h by default; rollups within 35 minutes;
    /// connection items within 2 h 10 min). Either way the events table's point-in-time recovery can
    /// bring back what it held for 35 days.
    Delete {
        #[arg(long)]
        id: String,
        /// Also remove every item of the site in both tables now (raw events, rollups, connection items,
        /// then the registry item), and say how many of each. Safe to run again, also once the site is
        /// gone: run it again after the site cache lifetime to remove hits accepted meanwhile.
        #[arg(long)]
        purge: bool,
        /// With --purge: how long to wait, in seconds, for the broadcast function to close the site's
        /// open dashboards before their connection items are removed.
        #[arg(long, default_value_t = 30)]
        wait_for_dashboards: u64,
    },
}

#[derive(Subcommand)]
enum TableCommand {
    /// Create the tables as template.yaml defines them: TABLE_NAME and the rollup table (ROLLUP_TABLE_NAME,
    /// default `{TABLE_NAME}-rollups`). For local use; `sam deploy` creates them in AWS.
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
        Command::Table(TableCommand::Create) => {
            let rollups = std::env::var("ROLLUP_TABLE_NAME")
                .ok()
                .filter(|name| !name.is_empty())
                .unwrap_or_else(|| pulse_core::config::default_rollup_table(&cli.table));
            match schema::create_tables(&client, &cli.table, &rollups).await? {
                Created::Created => eprintln!("tables {} and {rollups} created", cli.table),
                Created::AlreadyExisted => eprintln!("tables {} and {rollups} already exist", cli.table),
            }
        }
        Command::Stream(StreamCommand::Replay { failure_message }) => {
            let message = if failure_message == "-" {
                std::io::read_to_string(std::io::stdin())?
            } else {
                std::fs::read_to_string(&failure_message).with_context(|| format!("reading {failure_message}"))?
            };
            let batch = replay::batch_of(&message)?;
            let replayed = replay::replay(&sdk_config, &cli.table, &batch).await?;
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
        Command::Site(SiteCommand::Create {
            id,
            domains,
            public,
            keep_outbound_query,
        }) => {
            let id = SiteId::parse(&id)?;
            let domains = domains.iter().map(|d| parse_domain(d)).collect::<Result<Vec<_>, _>>()?;
            let token = ReadToken::generate();
            let site = Site {
                id,
                domains,
                public,
                token_hash: token.hash(),
                goals: Vec::new(),
                keep_outbound_query,
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
            println!("{:<32} {:<7} {:<11} DOMAINS", "ID", "PUBLIC", "LINK_QUERY");
            for site in sites {
                println!(
                    "{:<32} {:<7} {:<11} {}",
                    site.id,
                    site.public,
                    site.keep_outbound_query,
                    site.domains.join(",")
                );
            }
        }
        Command::Site(SiteCommand::Set {
            id,
            keep_outbound_query,
        }) => {
            let id = SiteId::parse(&id)?;
            store.set_keep_outbound_query(&id, keep_outbound_query).await?;
            eprintln!("site {id}: outbound click URLs keep their query: {keep_outbound_query}; {SITE_CACHE_NOTE}");
        }
        Command::Site(SiteCommand::RotateToken { id }) => {
            let id = SiteId::parse(&id)?;
            let token = ReadToken::generate();
            store.set_token_hash(&id, &token.hash()).await?;
            // Printed before anything else can fail: the old token no longer works, so a lost new one
            // would lock the owner out.
            eprintln!("new read token for {id} follows (shown once); {SITE_CACHE_NOTE}:");
            println!("{}", token.expose());
            let site = store.find_site(&id).await.ok().flatten();
            eprintln!(
                "{}",
                dashboards::close_stale(
                    &store,
                    &sdk_config,
                    cli.websocket_endpoint.as_deref(),
                    &id,
                    site.as_ref()
                )
                .await
            );
        }
        Command::Goal(command) => goal_command(&store, command).await?,
        Command::Site(SiteCommand::Delete { id, purge: false, .. }) => {
            let id = SiteId::parse(&id)?;
            store.delete_site(&id).await?;
            eprintln!("site {id} deleted; {SITE_CACHE_NOTE}; its data stays until TTL removes it");
            eprintln!(
                "{}",
                dashboards::close_stale(&store, &sdk_config, cli.websocket_endpoint.as_deref(), &id, None).await
            );
        }
        Command::Site(SiteCommand::Delete {
            id,
            purge: true,
            wait_for_dashboards,
        }) => {
            let id = SiteId::parse(&id)?;
            // The registry item first: its removal on the stream makes the broadcast close the site's
            // dashboards, which it finds through the connection items the purge would otherwise take.
            let registry = match store.delete_site(&id).await {
                Ok(()) => "registry item (with its goals) removed",
                Err(pulse_dynamodb::SiteAdminError::NotFound(_)) => "registry item was already gone",
                Err(err) => return Err(err.into()),
            };
            eprintln!(
                "{}",
                dashboards::close_stale(&store, &sdk_config, cli.websocket_endpoint.as_deref(), &id, None).await
            );
            let wait = std::time::Duration::from_secs(wait_for_dashboards);
            let closed = dashboards::all_closed(&store, &id, wait).await;
            let purged = store.purge_site(&id).await.context("purging the site")?;
            eprintln!(
                "site {id} purged: {} raw events, {} connections, {} rollup items, {} fingerprint buckets, {} \
                other items; {registry}",
                purged.raw_events, purged.connections, purged.rollups, purged.fingerprint_buckets, purged.other,
            );
            if !closed {
                eprintln!(
                    "some dashboards were still open: they get nothing more, and API Gateway ends them (10 \
                    minutes idle at most)"
                );
            }
            eprintln!(
                "hits and dashboards that warm functions accept within their site cache's lifetime (60 s by \
                default) are not covered: run the purge again after it"
            );
        }
    }
    Ok(())
}

/// How long a warm function trusts what it read of a site, goals included (`SITE_CACHE_SECONDS`).
const SITE_CACHE_NOTE: &str =
    "collect and the realtime API see the change within their site cache's lifetime (60 s by default)";

async fn goal_command(store: &DynamoStore, command: GoalCommand) -> anyhow::Result<()> {
    let site_of = |raw: &str| -> anyhow::Result<SiteId> { Ok(SiteId::parse(raw)?) };
    match command {
        GoalCommand::Add {
            site,
            name,
            page,
            page_prefix,
            event,
            event_prop,
            value,
        } => {
            let site = site_of(&site)?;
            let name = GoalName::parse(&name)?;
            let rule = match (page, page_prefix, event) {
                (Some(path), None, None) => GoalRule::Page {
                    path: page_path("--page", path)?,
                },
                (None, Some(prefix), None) => GoalRule::PagePrefix {
                    prefix: page_path("--page-prefix", prefix)?,
                },
                (None, None, Some(event)) => {
                    if event.trim().is_empty() || event.chars().count() > 100 {
                        bail!("--event must be 1 to 100 characters");
                    }
                    let property = event_prop
                        .map(|pair| match pair.split_once('=') {
                            Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
                            _ => Err(anyhow::anyhow!("--event-prop must be key=value")),
                        })
                        .transpose()?;
                    GoalRule::Event { name: event, property }
                }
                _ => bail!("give exactly one of --page, --page-prefix or --event"),
            };
            if value.is_some_and(|v| !pulse_core::number::is_storable(v)) {
                bail!("--value must be 0 or of magnitude from 1e-130 up to (not including) 1e126");
            }
            let add = |goals: &mut Vec<Goal>| {
                if goals.iter().any(|goal| goal.name == name) {
                    bail!("site {site} already has a goal named '{name}'");
                }
                if goals.len() >= MAX_GOALS_PER_SITE {
                    bail!("site {site} has {MAX_GOALS_PER_SITE} goals, the most allowed");
                }
                goals.push(Goal {
                    name: name.clone(),
                    rule: rule.clone(),
                    value,
                });
                Ok(())
            };
            edit_goals(store, &site, add).await?;
            eprintln!("goal '{name}' added to {site}; {SITE_CACHE_NOTE}");
        }
        GoalCommand::List { site } => {
            let site = find(store, &site_of(&site)?).await?;
            println!("{:<32} {:<12} {:<40} VALUE", "NAME", "RULE", "MATCH");
            for goal in site.goals {
                let (kind, target) = match &goal.rule {
                    GoalRule::Page { path } => ("page", path.clone()),
                    GoalRule::PagePrefix { prefix } => ("page-prefix", format!("{prefix}*")),
                    GoalRule::Event { name, property: None } => ("event", name.clone()),
                    GoalRule::Event {
                        name,
                        property: Some((key, value)),
                    } => ("event", format!("{name} {key}={value}")),
                };
                let value = goal.value.map(|v| v.to_string()).unwrap_or_default();
                println!("{:<32} {kind:<12} {target:<40} {value}", goal.name);
            }
        }
        GoalCommand::Remove { site, name } => {
            let site = site_of(&site)?;
            let name = GoalName::parse(&name)?;
            let remove = |goals: &mut Vec<Goal>| {
                let before = goals.len();
                goals.retain(|goal| goal.name != name);
                if goals.len() == before {
                    bail!("site {site} has no goal named '{name}'");
                }
                Ok(())
            };
            edit_goals(store, &site, remove).await?;
            eprintln!("goal '{name}' removed from {site}; {SITE_CACHE_NOTE}");
        }
    }
    Ok(())
}

/// Applies `edit` to the site's goals as stored, again if another edit wrote them in between (see
/// [`DynamoStore::edit_goals`]), so that concurrent edits all land.
async fn edit_goals(
    store: &DynamoStore,
    site: &SiteId,
    edit: impl FnMut(&mut Vec<Goal>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    match store.edit_goals(site, edit).await {
        Ok(_) => Ok(()),
        Err(GoalEditError::Refused(refusal)) => Err(refusal),
        Err(GoalEditError::Site(err)) => Err(anyhow::Error::new(err).context("editing the goals")),
    }
}

async fn find(store: &DynamoStore, id: &SiteId) -> anyhow::Result<Site> {
    store
        .find_site(id)
        .await
        .context("reading the site")?
        .with_context(|| format!("site '{id}' does not exist"))
}

/// A path as collect stores it (percent-encoded as browsers send it, so `/blog/ü` matches the page
/// the browser reports as `/blog/%C3%BC`): absolute, without query or fragment.
fn page_path(flag: &str, path: String) -> anyhow::Result<String> {
    if !path.starts_with('/') || path.contains(['?', '#']) || path.len() > 2048 {
        bail!("{flag} must be a path starting with '/', without '?' or '#'");
    }
    let url =
        url::Url::parse(&format!("http://example.com{path}")).with_context(|| format!("{flag} is not a valid path"))?;
    Ok(url.path().to_owned())
}
