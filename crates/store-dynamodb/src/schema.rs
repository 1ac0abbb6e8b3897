//! The table definitions, read from the `Table` and `RollupTable` resources of `template.yaml`: one
//! definition serves both `sam deploy` and local creation, so the two cannot drift apart.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, StreamSpecification, StreamViewType, TimeToLiveSpecification,
};
use serde::Deserialize;

/// The rollup table's name when none is given: the events table's, suffixed (the local stack's
/// convention; the template names both tables and gives the functions both names).
pub fn default_rollup_table(table: &str) -> String {
    format!("{table}-rollups")
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TableDefinition {
    pub billing_mode: String,
    pub attribute_definitions: Vec<AttributeSpec>,
    pub key_schema: Vec<KeySpec>,
    /// `None` for the rollup table: its rewrites must not reach the stream consumers.
    pub stream_specification: Option<StreamSpec>,
    pub time_to_live_specification: TtlSpec,
    #[serde(default)]
    pub global_secondary_indexes: Vec<IndexSpec>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IndexSpec {
    pub index_name: String,
    pub key_schema: Vec<KeySpec>,
    pub projection: ProjectionSpec,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProjectionSpec {
    pub projection_type: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeSpec {
    pub attribute_name: String,
    pub attribute_type: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeySpec {
    pub attribute_name: String,
    pub key_type: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamSpec {
    pub stream_view_type: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TtlSpec {
    pub attribute_name: String,
    pub enabled: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("template.yaml has no usable table definition")]
    Template(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("could not create table '{table}'")]
    Create {
        table: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Which of the two tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    /// Sites, salts, raw events and connections; its stream feeds the consumers.
    Events,
    /// The realtime rollups: rewritten every batch, read by every query, kept out of the stream.
    Rollups,
}

impl TableKind {
    fn resource(self) -> &'static str {
        match self {
            TableKind::Events => "Table",
            TableKind::Rollups => "RollupTable",
        }
    }
}

/// A table resource's properties as written in template.yaml.
pub fn table_definition(kind: TableKind) -> Result<TableDefinition, SchemaError> {
    let template: serde_norway::Value = crate::template::parse().map_err(|e| SchemaError::Template(Box::new(e)))?;
    let properties = template
        .get("Resources")
        .and_then(|r| r.get(kind.resource()))
        .and_then(|t| t.get("Properties"))
        .cloned()
        .ok_or_else(|| SchemaError::Template(format!("Resources.{}.Properties is missing", kind.resource()).into()))?;
    serde_norway::from_value(properties).map_err(|e| SchemaError::Template(Box::new(e)))
}

/// Creates the events table `table` and the rollup table `rollup_table`, as template.yaml defines them.
pub async fn create_tables(client: &Client, table: &str, rollup_table: &str) -> Result<Created, SchemaError> {
    let events = create_table(client, TableKind::Events, table).await?;
    let rollups = create_table(client, TableKind::Rollups, rollup_table).await?;
    Ok(if events == Created::Created || rollups == Created::Created {
        Created::Created
    } else {
        Created::AlreadyExisted
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    Created,
    AlreadyExisted,
}

/// Creates one table as template.yaml defines it, waits until it is active and turns on TTL.
pub async fn create_table(client: &Client, kind: TableKind, table: &str) -> Result<Created, SchemaError> {
    let definition = table_definition(kind)?;
    let create_error = |source: Box<dyn std::error::Error + Send + Sync>| SchemaError::Create {
        table: table.to_owned(),
        source,
    };
    let mut request = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::from(definition.billing_mode.as_str()));
    if let Some(stream) = &definition.stream_specification {
        request = request.stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::from(stream.stream_view_type.as_str()))
                .build()
                .map_err(|e| create_error(Box::new(e)))?,
        );
    }
    for attribute in &definition.attribute_definitions {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(&attribute.attribute_name)
                .attribute_type(ScalarAttributeType::from(attribute.attribute_type.as_str()))
                .build()
                .map_err(|e| create_error(Box::new(e)))?,
        );
    }
    let key_schema = |keys: &[KeySpec]| {
        keys.iter()
            .map(|key| {
                KeySchemaElement::builder()
                    .attribute_name(&key.attribute_name)
                    .key_type(KeyType::from(key.key_type.as_str()))
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()
    };
    request = request.set_key_schema(Some(
        key_schema(&definition.key_schema).map_err(|e| create_error(Box::new(e)))?,
    ));
    for index in &definition.global_secondary_indexes {
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(&index.index_name)
                .set_key_schema(Some(
                    key_schema(&index.key_schema).map_err(|e| create_error(Box::new(e)))?,
                ))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(index.projection.projection_type.as_str()))
                        .build(),
                )
                .build()
                .map_err(|e| create_error(Box::new(e)))?,
        );
    }
    match request.send().await {
        Ok(_) => {}
        Err(err) if err.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => {
            return Ok(Created::AlreadyExisted);
        }
        Err(err) => return Err(create_error(Box::new(err))),
    }
    client
        .wait_until_table_exists()
        .table_name(table)
        .wait(Duration::from_secs(120))
        .await
        .map_err(|e| create_error(Box::new(e)))?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(&definition.time_to_live_specification.attribute_name)
                .enabled(definition.time_to_live_specification.enabled)
                .build()
                .map_err(|e| create_error(Box::new(e)))?,
        )
        .send()
        .await
        .map_err(|e| create_error(Box::new(e)))?;
    Ok(Created::Created)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_defines_the_documented_tables() {
        let rollups = table_definition(TableKind::Rollups).expect("template.yaml parses");
        assert_eq!(
            rollups.stream_specification, None,
            "rollup rewrites stay out of the stream"
        );
        assert_eq!(rollups.time_to_live_specification.attribute_name, "ttl");
        let table = table_definition(TableKind::Events).expect("template.yaml parses");
        assert_eq!(table.key_schema, rollups.key_schema);
        assert_eq!(table.billing_mode, "PAY_PER_REQUEST");
        let keys: Vec<(&str, &str)> = table
            .key_schema
            .iter()
            .map(|k| (k.attribute_name.as_str(), k.key_type.as_str()))
            .collect();
        assert_eq!(keys, [("pk", "HASH"), ("sk", "RANGE")]);
        assert!(table.attribute_definitions.iter().all(|a| a.attribute_type == "S"));
        let feed = &table.global_secondary_indexes[0];
        assert_eq!(feed.index_name, crate::keys::FEED_INDEX);
        assert_eq!(
            (
                feed.key_schema[0].attribute_name.as_str(),
                feed.key_schema[1].attribute_name.as_str()
            ),
            ("pk", crate::keys::FEED_KEY),
            "the feed index is per site partition, like the table"
        );
        assert_eq!(table.stream_specification.unwrap().stream_view_type, "NEW_IMAGE");
        assert_eq!(
            table.time_to_live_specification,
            TtlSpec {
                attribute_name: "ttl".into(),
                enabled: true
            }
        );
    }
}
