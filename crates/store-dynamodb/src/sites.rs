use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;
use pulse_core::goal::Goal;
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
}

impl From<SiteItem> for Site {
    fn from(item: SiteItem) -> Self {
        Site {
            id: item.site_id,
            domains: item.domains,
            public: item.public,
            token_hash: item.token_hash,
            goals: item.goals,
            keep_outbound_query: item.keep_outbound_query,
        }
    }
}

/// A registry item's image from the table's stream.
pub(crate) fn site_from_image(image: serde_dynamo::Item) -> Result<Site, serde_dynamo::Error> {
    serde_dynamo::from_item::<_, SiteItem>(image).map(Site::from)
}

#[derive(Debug, thiserror::Error)]
pub enum SiteAdminError {
    #[error("site '{0}' already exists")]
    AlreadyExists(SiteId),
    #[error("site '{0}' does not exist")]
    NotFound(SiteId),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SiteDirectory for DynamoStore {
    async fn find_site(&self, id: &SiteId) -> Result<Option<Site>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(keys::SITES_PK.into()))
            .key("sk", AttributeValue::S(keys::registry_sk(id)))
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
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(SiteAdminError::AlreadyExists(site.id.clone()))
            }
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
        let goals = serde_dynamo::to_attribute_value(goals).map_err(|e| StoreError::Malformed(e.to_string()))?;
        self.set_site_attribute(id, "goals", goals).await
    }

    /// Whether the site's outbound click URLs keep their query string, from the next hit a function
    /// reads the site for (within its site cache's lifetime).
    pub async fn set_keep_outbound_query(&self, id: &SiteId, keep: bool) -> Result<(), SiteAdminError> {
        self.set_site_attribute(id, "keep_outbound_query", AttributeValue::Bool(keep))
            .await
    }

    /// `SET {name} = value` on an existing site item.
    async fn set_site_attribute(&self, id: &SiteId, name: &str, value: AttributeValue) -> Result<(), SiteAdminError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(keys::SITES_PK.into()))
            .key("sk", AttributeValue::S(keys::registry_sk(id)))
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
            .key("pk", AttributeValue::S(keys::SITES_PK.into()))
            .key("sk", AttributeValue::S(keys::registry_sk(id)))
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
