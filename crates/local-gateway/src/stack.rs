//! The local stack as a CloudFormation stack: registered with the local AWS (moto) under a name, with the
//! outputs a deployed stack has (template.yaml's `TableName`, `RollupTableName` and
//! `WebSocketManagementEndpoint`), so that `pulse-admin --stack NAME` finds the local tables and this
//! gateway's management API the way it finds a deployment's.

use anyhow::Context as _;
use aws_sdk_cloudformation::Client;

/// Where the local stack keeps its data and serves its dashboards.
pub struct LocalOutputs<'a> {
    pub table: &'a str,
    pub rollup_table: &'a str,
    /// This gateway's management API (`http://{address}`).
    pub websocket_endpoint: &'a str,
}

/// Registers (or replaces) the stack `name` at the CloudFormation endpoint `endpoint`, with `outputs`.
pub async fn register(
    sdk_config: &aws_config::SdkConfig,
    endpoint: &str,
    name: &str,
    outputs: &LocalOutputs<'_>,
) -> anyhow::Result<()> {
    let client = Client::from_conf(
        aws_sdk_cloudformation::config::Builder::from(sdk_config)
            .endpoint_url(endpoint)
            .build(),
    );
    let output = |value: &str| serde_json::json!({ "Value": value });
    // CloudFormation wants at least one resource; a wait-condition handle creates nothing.
    let template = serde_json::json!({
        "Resources": { "Local": { "Type": "AWS::CloudFormation::WaitConditionHandle" } },
        "Outputs": {
            "TableName": output(outputs.table),
            "RollupTableName": output(outputs.rollup_table),
            "WebSocketManagementEndpoint": output(outputs.websocket_endpoint),
        },
    });
    // A stack of that name left by an earlier run on the same local DynamoDB is replaced.
    let _ = client.delete_stack().stack_name(name).send().await;
    client
        .create_stack()
        .stack_name(name)
        .template_body(template.to_string())
        .send()
        .await
        .map_err(|err| anyhow::Error::new(err.into_service_error()))
        .with_context(|| format!("registering the local stack '{name}'"))?;
    Ok(())
}
