//! `pulse-admin site`: the site registry, and erasing a site.

use std::time::Duration;

use anyhow::Context as _;
use clap::Subcommand;
use pulse_core::realtime::Minute;
use pulse_core::site::parse_domain;
use pulse_core::{ReadToken, Site, SiteDirectory as _, SiteId};
use pulse_dynamodb::DynamoStore;

use crate::{SITE_CACHE_NOTE, dashboards};

#[derive(Subcommand)]
pub enum SiteCommand {
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
    /// Spread a busy site's writes over COUNT partition keys (1 to 64; about one per 500 events a
    /// second at its peak), from a minute at least --lead-minutes ahead, so every warm function
    /// has read the change before it applies. Readers read every spread of the last 25 hours.
    Spread {
        #[arg(long)]
        id: String,
        #[arg(long)]
        count: u8,
        /// Minutes until the change applies: at least the functions' site cache lifetime (60 s by
        /// default) plus the 5 minutes a visitor's clock may run ahead.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(7..))]
        lead_minutes: u16,
    },
    /// List registered sites.
    List,
    /// Replace a site's read token. Prints the new token once, first; the old one stops working within
    /// the functions' site cache lifetime, and dashboards holding it are closed by the broadcast
    /// function within seconds (and from here first with --stack or --websocket-endpoint).
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

/// What the site commands act on.
pub struct Admin<'a> {
    pub store: &'a DynamoStore,
    pub sdk_config: &'a aws_config::SdkConfig,
    /// The WebSocket API's management endpoint, to close dashboards from here too.
    pub websocket_endpoint: Option<&'a str>,
}

pub async fn run(admin: &Admin<'_>, command: SiteCommand) -> anyhow::Result<()> {
    let store = admin.store;
    match command {
        SiteCommand::Create {
            id,
            domains,
            public,
            keep_outbound_query,
        } => {
            let id = SiteId::parse(&id)?;
            let domains = domains.iter().map(|d| parse_domain(d)).collect::<Result<Vec<_>, _>>()?;
            let token = ReadToken::generate();
            let site = Site::new(id, domains, token.hash())
                .public(public)
                .keeping_outbound_query(keep_outbound_query);
            store.create_site(&site).await?;
            eprintln!(
                "site {} created for {}; its read token follows (shown once):",
                site.id,
                site.domains.join(", ")
            );
            println!("{}", token.expose());
        }
        SiteCommand::Spread {
            id,
            count,
            lead_minutes,
        } => {
            let id = SiteId::parse(&id)?;
            let site = store
                .find_site(&id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("site {id} does not exist"))?;
            let now = chrono::Utc::now();
            let from = Minute::of(now).plus(i64::from(lead_minutes) + 1);
            let spreads = site.spreads.change_at(count, from, now)?;
            store.set_spreads(&id, &spreads).await?;
            eprintln!(
                "site {id}: writes go to {count} partition key(s) from {from} UTC (now {}); readers read all of them \
                 within their site cache's lifetime",
                site.spreads.current(now)
            );
        }
        SiteCommand::List => {
            let sites = store.list_sites().await.context("listing sites")?;
            let now = chrono::Utc::now();
            println!(
                "{:<32} {:<7} {:<11} {:<8} DOMAINS",
                "ID", "PUBLIC", "LINK_QUERY", "SPREADS"
            );
            for site in sites {
                println!(
                    "{:<32} {:<7} {:<11} {:<8} {}",
                    site.id,
                    site.public,
                    site.keep_outbound_query,
                    site.spreads.current(now),
                    site.domains.join(",")
                );
            }
        }
        SiteCommand::Set {
            id,
            keep_outbound_query,
        } => {
            let id = SiteId::parse(&id)?;
            store.set_keep_outbound_query(&id, keep_outbound_query).await?;
            eprintln!("site {id}: outbound click URLs keep their query: {keep_outbound_query}; {SITE_CACHE_NOTE}");
        }
        SiteCommand::RotateToken { id } => {
            let id = SiteId::parse(&id)?;
            let token = ReadToken::generate();
            store.set_token_hash(&id, &token.hash()).await?;
            // Printed before anything else can fail: the old token no longer works, so a lost new one
            // would lock the owner out.
            eprintln!("new read token for {id} follows (shown once); {SITE_CACHE_NOTE}:");
            println!("{}", token.expose());
            let site = store.find_site(&id).await.ok().flatten();
            eprintln!("{}", admin.close_stale(&id, site.as_ref()).await);
        }
        SiteCommand::Delete { id, purge: false, .. } => {
            let id = SiteId::parse(&id)?;
            store.delete_site(&id).await?;
            eprintln!("site {id} deleted; {SITE_CACHE_NOTE}; its data stays until TTL removes it");
            eprintln!("{}", admin.close_stale(&id, None).await);
        }
        SiteCommand::Delete {
            id,
            purge: true,
            wait_for_dashboards,
        } => purge(admin, &SiteId::parse(&id)?, Duration::from_secs(wait_for_dashboards)).await?,
    }
    Ok(())
}

impl Admin<'_> {
    async fn close_stale(&self, site_id: &SiteId, site: Option<&Site>) -> String {
        dashboards::close_stale(self.store, self.sdk_config, self.websocket_endpoint, site_id, site).await
    }
}

async fn purge(admin: &Admin<'_>, id: &SiteId, wait_for_dashboards: Duration) -> anyhow::Result<()> {
    let store = admin.store;
    // The registry item first: its removal on the stream makes the broadcast close the site's
    // dashboards, which it finds through the connection items the purge would otherwise take.
    let registry = match store.delete_site(id).await {
        Ok(()) => "registry item (with its goals) removed",
        Err(pulse_dynamodb::SiteAdminError::NotFound(_)) => "registry item was already gone",
        Err(err) => return Err(err.into()),
    };
    eprintln!("{}", admin.close_stale(id, None).await);
    let closed = dashboards::all_closed(store, id, wait_for_dashboards).await;
    let purged = store.purge_site(id).await.context("purging the site")?;
    eprintln!(
        "site {id} purged: {} raw events, {} connections, {} rollup items, {} fingerprint buckets, {} other \
        items; {registry}",
        purged.raw_events, purged.connections, purged.rollups, purged.fingerprint_buckets, purged.other,
    );
    if !closed {
        eprintln!(
            "some dashboards were still open: they get nothing more, and API Gateway ends them (10 minutes \
            idle at most)"
        );
    }
    eprintln!(
        "hits and dashboards that warm functions accept within their site cache's lifetime (60 s by default) \
        are not covered: run the purge again after it"
    );
    Ok(())
}
