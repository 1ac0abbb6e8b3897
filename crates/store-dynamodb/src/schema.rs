//! The table definition, read from the `Table` resource of `template.yaml`: one definition serves both
//! `sam deploy` and local creation, so the two cannot drift apart.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, StreamSpecification,
    StreamViewType, TimeToLiveSpecification,
};
use serde::Deserialize;

const TEMPLATE: &str = include_str!("../../../template.yaml");

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TableDefinition {
    pub billing_mode: String,
    pub attribute_definitions: Vec<AttributeSpec>,
    pub key_schema: Vec<KeySpec>,
    pub stream_specification: StreamSpec,
    pub time_to_live_specification: TtlSpec,
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
    #[error("template.yaml has no usable Resources.Table.Properties")]
    Template(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("could not create table '{table}'")]
    Create {
        table: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// The `Table` resource's properties as written in template.yaml.
pub fn table_definition() -> Result<TableDefinition, SchemaError> {
    let template: serde_norway::Value =
        serde_norway::from_str(TEMPLATE).map_err(|e| SchemaError::Template(Box::new(e)))?;
    let properties = template
        .get("Resources")
        .and_then(|r| r.get("Table"))
        .and_then(|t| t.get("Properties"))
        .cloned()
        .ok_or_else(|| SchemaError::Template("Resources.Table.Properties is missing".into()))?;
    serde_norway::from_value(properties).map_err(|e| SchemaError::Template(Box::new(e)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    Created,
    AlreadyExisted,
}

/// Creates the table as template.yaml defines it, waits until it is active and turns on TTL.
pub async fn create_table(client: &Client, table: &str) -> Result<Created, SchemaError> {
    let definition = table_definition()?;
    let create_error = |source: Box<dyn std::error::Error + Send + Sync>| SchemaError::Create {
        table: table.to_owned(),
        source,
    };
    let mut request = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::from(definition.billing_mode.as_str()))
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::from(
                    definition.stream_specification.stream_view_type.as_str(),
                ))
                .build()
                .map_err(|e| create_error(Box::new(e)))?,
        );
    for attribute in &definition.attribute_definitions {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(&attribute.attribute_name)
                .attribute_type(ScalarAttributeType::from(attribute.attribute_type.as_str()))
                .build()
                .map_err(|e| create_error(Box::new(e)))?,
        );
    }
    for key in &definition.key_schema {
        request = request.key_schema(
            KeySchemaElement::builder()
                .attribute_name(&key.attribute_name)
                .key_type(KeyType::from(key.key_type.as_str()))
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
    fn template_defines_the_documented_table() {
        let table = table_definition().expect("template.yaml parses");
        assert_eq!(table.billing_mode, "PAY_PER_REQUEST");
        let keys: Vec<(&str, &str)> = table
            .key_schema
            .iter()
            .map(|k| (k.attribute_name.as_str(), k.key_type.as_str()))
            .collect();
        assert_eq!(keys, [("pk", "HASH"), ("sk", "RANGE")]);
        assert!(table.attribute_definitions.iter().all(|a| a.attribute_type == "S"));
        assert_eq!(table.stream_specification.stream_view_type, "NEW_IMAGE");
        assert_eq!(
            table.time_to_live_specification,
            TtlSpec {
                attribute_name: "ttl".into(),
                enabled: true
            }
        );
    }
}
