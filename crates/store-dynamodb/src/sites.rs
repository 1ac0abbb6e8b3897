use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;
use pulse_core::goal::Goal;
use pulse_core::spread::Spreads;
use pulse_core::{Site, SiteDirectory, SiteId, StoreError, TokenHash};
use serde::{Deserialize, Serialize};

use crate::{DynamoStore, keys, store_error};

/// The site registry item (pk `SITES`, sk `SITE#{id}`).
#[derive(Serialize, Deserialize)]
struct SiteItem {
    pk: String,
    sk: String,
    site_id: SiteId,
    domains: Vec<String>,
    public: bool,
    token_hash: TokenHash,
    created_at: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    goals: Vec<Goal>,
    /// Absent on items from before the setting: off.
    #[serde(default)]
    keep_outbound_query: bool,
    /// Absent on items from before spreads, and while the site has only ever had one.
    #[serde(default, skip_serializing_if = "Spreads::is_single")]
    spreads: Spreads,
}

impl From<SiteItem> for Site {
    fn from(item: SiteItem) -> Self {
        Site::new(item.site_id, item.domains, item.token_hash)
            .public(item.public)
            .with_goals(item.goals)
            .keeping_outbound_query(item.keep_outbound_query)
            .with_spreads(item.spreads)
    }
}

/// A registry item's image from the table's stream.
pub(crate) fn site_from_image(image: serde_dynamo::Item) -> Result<Site, serde_dynamo::Error> {
    serde_dynamo::from_item::<_, SiteItem>(image).map(Site::from)
}

/// The site item's version of its goals: incremented by every write of them, which is conditional on
/// it, so that two edits at once cannot lose one. Absent until the goals are first written.
const GOALS_VERSION: &str = "goals_version";
/// Attempts of a goal edit that keeps meeting concurrent edits before it gives up.
pub const GOAL_EDIT_ATTEMPTS: u32 = 8;

#[derive(Debug, thiserror::Error)]
pub enum SiteAdminError {
    #[error("site '{0}' already exists")]
    AlreadyExists(SiteId),
    #[error("site '{0}' does not exist")]
    NotFound(SiteId),
    #[error(
        "the goals of site '{site}' changed under each of {attempts} attempts to edit them (other edits at \
         the same time); nothing was written, try again"
    )]
    GoalsContended { site: SiteId, attempts: u32 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why [`DynamoStore::edit_goals`] wrote nothing: the edit refused the goals it was given, or the store
/// did.
#[derive(Debug, thiserror::Error)]
pub enum GoalEditError<E> {
    #[error("{0}")]
    Refused(E),
    #[error(transparent)]
    Site(#[from] SiteAdminError),
}

impl<E> From<StoreError> for GoalEditError<E> {
    fn from(err: StoreError) -> Self {
        Self::Site(err.into())
    }
}

impl SiteDirectory for DynamoStore {
    async fn find_site(&self, id: &SiteId) -> Result<Option<Site>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(keys::registry_key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        output
            .item
            .map(|item| {
                serde_dynamo::from_item::<_, SiteItem>(item)
                    .map(Site::from)
                    .map_err(|e| StoreError::Malformed(format!("site {id}: {e}")))
            })
            .transpose()
    }

    /// One Query of the registry's partition, projected to the sort key: the items' other attributes
    /// never leave the table (a Query's read units count whole items all the same). Consistent, so a
    /// site created before the Query started is in it.
    async fn site_ids(&self) -> Result<Vec<SiteId>, StoreError> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(keys::SITES_PK.into()))
            .projection_expression("sk")
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        let mut ids = Vec::new();
        while let Some(item) = pages.next().await {
            let item = item.map_err(store_error)?;
            let sk = item.get("sk").and_then(|sk| sk.as_s().ok());
            match sk.and_then(|sk| keys::registry_site(sk)) {
                Some(id) => ids.push(id),
                // No request can name it (site ids are validated), so it cannot be missed.
                None => tracing::warn!(sk, "registry item whose sort key names no site; skipped"),
            }
        }
        Ok(ids)
    }
}

/// Registry management, used by the admin CLI.
impl DynamoStore {
    pub async fn create_site(&self, site: &Site) -> Result<(), SiteAdminError> {
        let item = SiteItem {
            pk: keys::SITES_PK.into(),
            sk: keys::registry_sk(&site.id),
            site_id: site.id.clone(),
            domains: site.domains.clone(),
            public: site.public,
            token_hash: site.token_hash.clone(),
            created_at: pulse_core::time::iso_millis(Utc::now()),
            goals: site.goals.clone(),
            keep_outbound_query: site.keep_outbound_query,
            spreads: site.spreads.clone(),
        };
        let item = serde_dynamo::to_item(item).map_err(|e| StoreError::Malformed(e.to_string()))?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if crate::condition_failed(&err) => Err(SiteAdminError::AlreadyExists(site.id.clone())),
            Err(err) => Err(store_error(err).into()),
        }
    }

    pub async fn list_sites(&self) -> Result<Vec<Site>, StoreError> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(keys::SITES_PK.into()))
            .into_paginator()
            .items()
            .send();
        let mut sites = Vec::new();
        while let Some(item) = pages.next().await {
            let item = item.map_err(store_error)?;
            let site: SiteItem = serde_dynamo::from_item(item).map_err(|e| StoreError::Malformed(e.to_string()))?;
            sites.push(site.into());
        }
        Ok(sites)
    }

    pub async fn set_token_hash(&self, id: &SiteId, token_hash: &TokenHash) -> Result<(), SiteAdminError> {
        self.set_site_attribute(id, "token_hash", AttributeValue::S(token_hash.as_str().into()))
            .await
    }

    /// Replaces the site's goals. Warm functions see them within their site cache's lifetime.
    pub async fn set_goals(&self, id: &SiteId, goals: &[Goal]) -> Result<(), SiteAdminError> {
        let replace = |stored: &mut Vec<Goal>| {
            *stored = goals.to_vec();
            Ok::<_, std::convert::Infallible>(())
        };
        match self.edit_goals(id, replace).await {
            Ok(_) => Ok(()),
            Err(GoalEditError::Site(err)) => Err(err),
            Err(GoalEditError::Refused(never)) => match never {},
        }
    }

    /// Applies `edit` to the site's goals as stored and writes the result, unless they changed since
    /// they were read (another edit at the same time): then reads and applies `edit` again, up to
    /// [`GOAL_EDIT_ATTEMPTS`] times. `edit` refusing the goals it is given writes nothing. Returns the
    /// goals written. Warm functions see them within their site cache's lifetime.
    pub async fn edit_goals<E>(
        &self,
        id: &SiteId,
        mut edit: impl FnMut(&mut Vec<Goal>) -> Result<(), E>,
    ) -> Result<Vec<Goal>, GoalEditError<E>> {
        for attempt in 1..=GOAL_EDIT_ATTEMPTS {
            let Some((mut goals, version)) = self.read_goals(id).await? else {
                return Err(SiteAdminError::NotFound(id.clone()).into());
            };
            edit(&mut goals).map_err(GoalEditError::Refused)?;
            if self.write_goals(id, &goals, version).await? {
                return Ok(goals);
            }
            // Jittered and growing, so that edits that met do not meet again.
            let pause = fastrand::u64(10..=40) * u64::from(attempt);
            tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
        }
        Err(SiteAdminError::GoalsContended {
            site: id.clone(),
            attempts: GOAL_EDIT_ATTEMPTS,
        }
        .into())
    }

    /// The site's goals and their version (`None`: never written), or `None` if there is no such site.
    async fn read_goals(&self, id: &SiteId) -> Result<Option<(Vec<Goal>, Option<u64>)>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(keys::registry_key(id)))
            .projection_expression("pk, #goals, #version")
            .expression_attribute_names("#goals", "goals")
            .expression_attribute_names("#version", GOALS_VERSION)
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        let malformed = |what: &str| StoreError::Malformed(format!("site {id}: {what}"));
        let goals = match item.get("goals") {
            Some(goals) => serde_dynamo::from_attribute_value(goals.clone()).map_err(|e| malformed(&e.to_string()))?,
            None => Vec::new(),
        };
        let version = item
            .get(GOALS_VERSION)
            .map(|v| {
                v.as_n()
                    .ok()
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| malformed(GOALS_VERSION))
            })
            .transpose()?;
        Ok(Some((goals, version)))
    }

    /// Writes the goals if their version is still `read`; whether it was (a deleted site is a conflict:
    /// the next read finds it gone).
    async fn write_goals(&self, id: &SiteId, goals: &[Goal], read: Option<u64>) -> Result<bool, StoreError> {
        let value = serde_dynamo::to_attribute_value(goals).map_err(|e| StoreError::Malformed(e.to_string()))?;
        let next = read.unwrap_or(0) + 1;
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::registry_key(id)))
            .update_expression("SET #goals = :goals, #version = :next")
            .expression_attribute_names("#goals", "goals")
            .expression_attribute_names("#version", GOALS_VERSION)
            .expression_attribute_values(":goals", value)
            .expression_attribute_values(":next", AttributeValue::N(next.to_string()));
        let request = match read {
            Some(version) => request
                .condition_expression("attribute_exists(pk) AND #version = :read")
                .expression_attribute_values(":read", AttributeValue::N(version.to_string())),
            None => request.condition_expression("attribute_exists(pk) AND attribute_not_exists(#version)"),
        };
        match request.send().await {
            Ok(_) => Ok(true),
            Err(err) if crate::condition_failed(&err) => Ok(false),
            Err(err) => Err(store_error(err)),
        }
    }

    /// Whether the site's outbound click URLs keep their query string, from the next hit a function
    /// reads the site for (within its site cache's lifetime).
    pub async fn set_keep_outbound_query(&self, id: &SiteId, keep: bool) -> Result<(), SiteAdminError> {
        self.set_site_attribute(id, "keep_outbound_query", AttributeValue::Bool(keep))
            .await
    }

    /// Replaces the site's spread schedule (see [`Spreads::change_at`]); warm functions follow within
    /// their site cache's lifetime, which the schedule's changes are far enough ahead to cover.
    pub async fn set_spreads(&self, id: &SiteId, spreads: &Spreads) -> Result<(), SiteAdminError> {
        let value = serde_dynamo::to_attribute_value(spreads).map_err(|e| StoreError::Malformed(e.to_string()))?;
        self.set_site_attribute(id, "spreads", value).await
    }

    /// `SET {name} = value` on an existing site item.
    async fn set_site_attribute(&self, id: &SiteId, name: &str, value: AttributeValue) -> Result<(), SiteAdminError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::registry_key(id)))
            .update_expression("SET #name = :value")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#name", name)
            .expression_attribute_values(":value", value)
            .send()
            .await;
        result.map(drop).map_err(|err| not_found_or_unavailable(err, id))
    }

    /// Removes the site from the registry: collection stops at once (after warm caches expire); its raw
    /// events expire by TTL.
    pub async fn delete_site(&self, id: &SiteId) -> Result<(), SiteAdminError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(keys::registry_key(id)))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await;
        result.map(drop).map_err(|err| not_found_or_unavailable(err, id))
    }
}

/// A failed `attribute_exists(pk)` condition means the site is not registered.
fn not_found_or_unavailable<E, R>(err: SdkError<E, R>, id: &SiteId) -> SiteAdminError
where
    E: ProvideErrorMetadata,
    SdkError<E, R>: std::error::Error + Send + Sync + 'static,
{
    if err.as_service_error().and_then(|e| e.code()) == Some("ConditionalCheckFailedException") {
        SiteAdminError::NotFound(id.clone())
    } else {
        store_error(err).into()
    }
}
