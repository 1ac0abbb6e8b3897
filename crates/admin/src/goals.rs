//! `pulse-admin goal`: a site's goals, edited so that concurrent edits all land.

use anyhow::{Context as _, bail};
use clap::Subcommand;
use pulse_core::goal::{Goal, GoalName, GoalRule, MAX_GOALS_PER_SITE};
use pulse_core::{Site, SiteDirectory as _, SiteId};
use pulse_dynamodb::{DynamoStore, GoalEditError};

use crate::SITE_CACHE_NOTE;

#[derive(Subcommand)]
pub enum GoalCommand {
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

pub async fn run(store: &DynamoStore, command: GoalCommand) -> anyhow::Result<()> {
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
