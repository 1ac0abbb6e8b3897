//! A deployed stack's tables and management endpoint, read from its CloudFormation outputs, so that
//! nobody copies them by hand.

use anyhow::{Context as _, bail};
use aws_sdk_cloudformation::error::ProvideErrorMetadata as _;
use aws_sdk_cloudformation::types::Output;

/// The template's outputs the CLI acts on (template.yaml, `Outputs`).
const TABLE_OUTPUT: &str = "TableName";
const ROLLUP_TABLE_OUTPUT: &str = "RollupTableName";
const MANAGEMENT_ENDPOINT_OUTPUT: &str = "WebSocketManagementEndpoint";

/// Where a deployment keeps its data and serves its dashboards.
#[derive(Debug, PartialEq, Eq)]
pub struct StackEndpoints {
    pub table: String,
    pub rollup_table: String,
    pub websocket_endpoint: String,
}

/// Reads the outputs of the stack named `stack` (in the configured region and account).
pub async fn endpoints(sdk_config: &aws_config::SdkConfig, stack: &str) -> anyhow::Result<StackEndpoints> {
    let client = aws_sdk_cloudformation::Client::new(sdk_config);
    let described = client.describe_stacks().stack_name(stack).send().await.map_err(|err| {
        let region = sdk_config
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "no region".into());
        let err = err.into_service_error();
        let said = err.message().unwrap_or("no answer").to_owned();
        anyhow::Error::new(err).context(format!(
            "reading the outputs of stack '{stack}' in {region} (the stack_name `sam deploy` used, e.g. in \
            samconfig.toml): {said}"
        ))
    })?;
    let Some(found) = described.stacks().first() else {
        bail!("stack '{stack}' does not exist");
    };
    from_outputs(stack, found.outputs())
}

fn from_outputs(stack: &str, outputs: &[Output]) -> anyhow::Result<StackEndpoints> {
    let output = |key: &str| {
        outputs
            .iter()
            .find(|output| output.output_key() == Some(key))
            .and_then(|output| output.output_value())
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
            .with_context(|| {
                format!("stack '{stack}' has no output {key}: is it a Pulse stack, and did its last deploy complete?")
            })
    };
    Ok(StackEndpoints {
        table: output(TABLE_OUTPUT)?,
        rollup_table: output(ROLLUP_TABLE_OUTPUT)?,
        websocket_endpoint: output(MANAGEMENT_ENDPOINT_OUTPUT)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(key: &str, value: &str) -> Output {
        Output::builder().output_key(key).output_value(value).build()
    }

    #[test]
    fn the_three_outputs_are_read_and_each_missing_one_is_named() {
        let all = [
            output("ApiUrl", "https://d.example"),
            output("TableName", "pulse-Table-1"),
            output("RollupTableName", "pulse-RollupTable-2"),
            output(
                "WebSocketManagementEndpoint",
                "https://abc.execute-api.eu-west-1.amazonaws.com/live",
            ),
        ];
        assert_eq!(
            from_outputs("pulse", &all).unwrap(),
            StackEndpoints {
                table: "pulse-Table-1".into(),
                rollup_table: "pulse-RollupTable-2".into(),
                websocket_endpoint: "https://abc.execute-api.eu-west-1.amazonaws.com/live".into(),
            }
        );
        for missing in ["TableName", "RollupTableName", "WebSocketManagementEndpoint"] {
            let rest: Vec<Output> = all
                .iter()
                .filter(|output| output.output_key() != Some(missing))
                .cloned()
                .collect();
            let err = from_outputs("pulse", &rest).unwrap_err().to_string();
            assert!(err.contains(missing) && err.contains("'pulse'"), "{err}");
        }
    }
}
