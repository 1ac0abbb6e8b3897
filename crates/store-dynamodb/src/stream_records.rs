//! DynamoDB Streams records as Lambda delivers them: for the local event source mappings, and for
//! replaying a batch that the aggregate's mapping gave up on (`pulse-admin stream replay`).

use std::collections::HashMap;

use aws_sdk_dynamodbstreams::Client;
use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType, StreamRecord};
use serde_json::{Value, json};

#[derive(Debug, thiserror::Error)]
pub enum StreamReadError {
    #[error("reading the stream failed")]
    Read(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error(
        "the stream no longer holds sequence number {0}: DynamoDB keeps stream records 24 hours; the raw \
         events are still in the table until their TTL"
    )]
    Trimmed(String),
}

/// A stream record in the shape Lambda delivers it (the DynamoDB Streams record plus eventSourceARN).
pub fn lambda_record(record: Record, stream_arn: &str, region: &str) -> Value {
    let change = record.dynamodb.unwrap_or_else(|| StreamRecord::builder().build());
    let image = |attributes: Option<HashMap<String, AttributeValue>>| {
        attributes.map(|a| serde_json::to_value(serde_dynamo::Item::from(a)).unwrap_or(Value::Null))
    };
    let mut dynamodb = json!({
        "ApproximateCreationDateTime": change.approximate_creation_date_time.map(|t| t.secs()),
        "Keys": image(change.keys),
        "SequenceNumber": change.sequence_number,
        "SizeBytes": change.size_bytes,
        "StreamViewType": change.stream_view_type.map(|t| t.as_str().to_owned()),
    });
    if let Some(new_image) = image(change.new_image) {
        dynamodb["NewImage"] = new_image;
    }
    json!({
        "eventID": record.event_id,
        "eventName": record.event_name.map(|n| n.as_str().to_owned()),
        "eventVersion": record.event_version.unwrap_or_else(|| "1.1".into()),
        "eventSource": "aws:dynamodb",
        "awsRegion": record.aws_region.unwrap_or_else(|| region.to_owned()),
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    })
}

/// The records of one shard from `first` through `last` (sequence numbers, as a failure message gives
/// them), in the shape Lambda delivers them.
pub async fn read_shard_range(
    streams: &Client,
    stream_arn: &str,
    shard_id: &str,
    first: &str,
    last: &str,
    region: &str,
) -> Result<Vec<Value>, StreamReadError> {
    let read = |e: Box<dyn std::error::Error + Send + Sync>| StreamReadError::Read(e);
    let last_number: u128 = last.parse().map_err(|e| read(Box::new(e)))?;
    let mut iterator = streams
        .get_shard_iterator()
        .stream_arn(stream_arn)
        .shard_id(shard_id)
        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
        .sequence_number(first)
        .send()
        .await
        .map_err(|e| match e.as_service_error() {
            Some(service) if service.is_trimmed_data_access_exception() => StreamReadError::Trimmed(first.to_owned()),
            _ => read(Box::new(e)),
        })?
        .shard_iterator;
    let mut records = Vec::new();
    while let Some(current) = iterator {
        let page = streams
            .get_records()
            .shard_iterator(current)
            .send()
            .await
            .map_err(|e| read(Box::new(e)))?;
        let page_records = page.records.unwrap_or_default();
        if page_records.is_empty() {
            break;
        }
        for record in page_records {
            let sequence: u128 = record
                .dynamodb
                .as_ref()
                .and_then(|d| d.sequence_number.as_deref())
                .and_then(|s| s.parse().ok())
                .unwrap_or(u128::MAX);
            if sequence > last_number {
                return Ok(records);
            }
            records.push(lambda_record(record, stream_arn, region));
        }
        iterator = page.next_shard_iterator;
    }
    Ok(records)
}
