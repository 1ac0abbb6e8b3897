//! `pulse-admin stream replay`: folds again a batch the aggregate's event source mapping gave up on. Lambda
//! sends such a batch's description (shard and sequence-number range, not the records) to the failure
//! queue; while the stream still holds those records (24 hours), this reads them and runs the aggregate
//! function's own handler on them. Folding is exactly once per event, so replaying a batch that was
//! partly applied, or replaying it twice, counts nothing twice.

use anyhow::Context as _;
use aws_config::SdkConfig;
use lambda_runtime::LambdaEvent;
use pulse_lambda::{Environment, FunctionApp as _};
use serde::Deserialize;

/// The part of an on-failure destination message that locates the batch (`DDBStreamBatchInfo`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchInfo {
    pub shard_id: String,
    pub start_sequence_number: String,
    pub end_sequence_number: String,
    pub stream_arn: String,
}

#[derive(Debug, Deserialize)]
struct FailureMessage {
    #[serde(rename = "DDBStreamBatchInfo")]
    batch: BatchInfo,
}

/// The batch a failure message (the SQS message body, JSON) describes.
pub fn batch_of(message: &str) -> anyhow::Result<BatchInfo> {
    let message: FailureMessage =
        serde_json::from_str(message).context("not an on-failure message of a DynamoDB stream mapping")?;
    Ok(message.batch)
}

/// What a replay did.
#[derive(Debug)]
pub struct Replayed {
    pub records: usize,
    /// Records the aggregate still could not apply (it reported them as failures): replay again later.
    pub still_failing: usize,
}

/// Reads the batch's records and hands them to the aggregate handler, writing to `rollup_table`.
pub async fn replay(
    sdk_config: &SdkConfig,
    table: &str,
    rollup_table: &str,
    batch: &BatchInfo,
) -> anyhow::Result<Replayed> {
    let streams = aws_sdk_dynamodbstreams::Client::new(sdk_config);
    let region = sdk_config.region().map(ToString::to_string).unwrap_or_default();
    let records = pulse_dynamodb::stream_records::read_shard_range(
        &streams,
        &batch.stream_arn,
        &batch.shard_id,
        &batch.start_sequence_number,
        &batch.end_sequence_number,
        &region,
    )
    .await?;
    // The aggregate as its Lambda builds it, on these tables, calling DynamoDB as this CLI.
    let settings = |name: &str| match name {
        "TABLE_NAME" => Some(table.to_owned()),
        "ROLLUP_TABLE_NAME" => Some(rollup_table.to_owned()),
        _ => std::env::var(name).ok(),
    };
    let app = aggregate::LambdaApp::build(&Environment::with(&settings, sdk_config.clone())).await?;
    let count = records.len();
    let event = serde_json::from_value(serde_json::json!({ "Records": records }))?;
    let response = aggregate::function_handler(&app, LambdaEvent::new(event, lambda_runtime::Context::default()))
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    Ok(Replayed {
        records: count,
        still_failing: response.batch_item_failures.len(),
    })
}
