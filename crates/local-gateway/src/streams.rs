//! The local event source mapping: polls the table's DynamoDB stream (DescribeStream, GetShardIterator,
//! GetRecords) four times a second per shard, keeps the records that pass the mapping's filters, hands
//! them to the function as the exact DynamoDB event JSON Lambda sends, and retries from the first
//! reported failure, as Lambda does with ReportBatchItemFailures.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use serde_json::{Value, json};

use crate::esm::{MappingSpec, passes};

const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// A function behind a mapping: the DynamoDB event JSON in, its response JSON out.
pub type StreamFunction =
    Arc<dyn Fn(Value) -> Pin<Box<dyn Future<Output = anyhow::Result<Value>> + Send>> + Send + Sync>;

pub struct StreamPoller {
    /// Signed as the consuming function: a mapping reads the stream with its function's role.
    pub streams: aws_sdk_dynamodbstreams::Client,
    pub table: String,
    pub region: String,
}

impl StreamPoller {
    /// Runs one mapping until the future is dropped.
    pub async fn run(self: Arc<Self>, spec: MappingSpec, function: StreamFunction) -> anyhow::Result<()> {
        // As Lambda's event source mapping does, with the function's role: the table's stream by ListStreams.
        let stream_arn = self
            .streams
            .list_streams()
            .table_name(&self.table)
            .send()
            .await
            .context("listing the table's streams")?
            .streams
            .unwrap_or_default()
            .into_iter()
            .find_map(|stream| stream.stream_arn)
            .context("the table has no stream")?;
        let mut shards: HashMap<String, ShardPosition> = HashMap::new();
        loop {
            if let Err(err) = self.poll_once(&stream_arn, &spec, &function, &mut shards).await {
                tracing::warn!(mapping = %spec.function, error = %format!("{err:#}"), "stream poll failed; retrying");
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// An iterator just after the last record handed on, or at the start of the shard.
    async fn fresh_iterator(
        &self,
        stream_arn: &str,
        shard_id: &str,
        after: Option<&str>,
    ) -> anyhow::Result<Option<String>> {
        let request = self
            .streams
            .get_shard_iterator()
            .stream_arn(stream_arn)
            .shard_id(shard_id);
        let request = match after {
            Some(sequence) => request
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .sequence_number(sequence),
            None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
        };
        Ok(request.send().await?.shard_iterator)
    }

    async fn poll_once(
        &self,
        stream_arn: &str,
        spec: &MappingSpec,
        function: &StreamFunction,
        shards: &mut HashMap<String, ShardPosition>,
    ) -> anyhow::Result<()> {
        let description = self.streams.describe_stream().stream_arn(stream_arn).send().await?;
        for shard in description
            .stream_description
            .and_then(|d| d.shards)
            .unwrap_or_default()
        {
            let Some(shard_id) = shard.shard_id else {
                continue;
            };
            let position = shards.entry(shard_id.clone()).or_default();
            if position.closed {
                continue;
            }
            let iterator = match position.iterator.take() {
                Some(iterator) => iterator,
                None => match self
                    .fresh_iterator(stream_arn, &shard_id, position.last_sequence.as_deref())
                    .await?
                {
                    Some(iterator) => iterator,
                    None => {
                        position.closed = true;
                        continue;
                    }
                },
            };
            // On an error the iterator stays taken: the next poll asks for a fresh one.
            let page = self
                .streams
                .get_records()
                .shard_iterator(iterator)
                .limit(1000)
                .send()
                .await?;
            let records = page.records.unwrap_or_default();
            if let Some(last) = records
                .last()
                .and_then(|r| r.dynamodb.as_ref()?.sequence_number.clone())
            {
                position.last_sequence = Some(last);
            }
            let empty = records.is_empty();
            let records: Vec<Value> = records
                .into_iter()
                .map(|record| pulse_dynamodb::stream_records::lambda_record(record, stream_arn, &self.region))
                .filter(|record| passes(&spec.filters, record))
                .collect();
            for batch in records.chunks(spec.batch_size.max(1)) {
                self.deliver(spec, function, batch.to_vec()).await;
            }
            match page.next_shard_iterator {
                None => position.closed = true,
                // moto answers a failed transaction by swapping in a copy of its tables, and an iterator
                // taken before that never sees another record. An empty page therefore drops the iterator
                // and the next poll starts again just after the last record handed on: one extra request
                // when idle, and no stream can stall for good.
                Some(_) if empty => {}
                Some(next) => position.iterator = Some(next),
            }
        }
        Ok(())
    }

    /// Invokes the function with a batch; on reported failures, again from the first failed record, up
    /// to the mapping's retry limit. When the invocation itself fails and the mapping bisects, the batch
    /// is split in two and each half delivered in turn, with retries of its own. A batch out of retries is
    /// dropped, as Lambda sends it to the on-failure destination.
    pub(crate) async fn deliver(&self, spec: &MappingSpec, function: &StreamFunction, batch: Vec<Value>) {
        // Halves still to deliver, the next on top: records keep their stream order.
        let mut pending = vec![batch];
        'batches: while let Some(mut batch) = pending.pop() {
            for attempt in 0..=spec.max_retries {
                let failed_from = match function(json!({ "Records": batch })).await {
                    Ok(response) => first_failure(&response, &batch),
                    Err(err) if spec.bisect_on_error && batch.len() > 1 => {
                        tracing::warn!(mapping = %spec.function, error = %format!("{err:#}"), records = batch.len(), "function failed; bisecting the batch");
                        let second = batch.split_off(batch.len() / 2);
                        pending.push(second);
                        pending.push(batch);
                        continue 'batches;
                    }
                    Err(err) => {
                        tracing::warn!(mapping = %spec.function, error = %format!("{err:#}"), "function failed; retrying the batch");
                        Some(0)
                    }
                };
                let Some(from) = failed_from else { continue 'batches };
                batch.drain(..from);
                tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt + 1).min(10))).await;
            }
            tracing::error!(mapping = %spec.function, records = batch.len(), "retries exhausted; batch dropped (on-failure destination)");
        }
    }
}

/// Every record of the table's stream so far, unfiltered, as one DynamoDB event (for replay tests).
pub async fn read_whole_stream(
    dynamodb: &aws_sdk_dynamodb::Client,
    streams: &aws_sdk_dynamodbstreams::Client,
    table: &str,
) -> anyhow::Result<Value> {
    let described = dynamodb.describe_table().table_name(table).send().await?;
    let stream_arn = described
        .table
        .and_then(|t| t.latest_stream_arn)
        .context("the table has no stream")?;
    let mut records = Vec::new();
    let description = streams.describe_stream().stream_arn(&stream_arn).send().await?;
    for shard in description
        .stream_description
        .and_then(|d| d.shards)
        .unwrap_or_default()
    {
        let mut iterator = streams
            .get_shard_iterator()
            .stream_arn(&stream_arn)
            .set_shard_id(shard.shard_id)
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await?
            .shard_iterator;
        while let Some(current) = iterator {
            let page = streams.get_records().shard_iterator(current).send().await?;
            let page_records = page.records.unwrap_or_default();
            if page_records.is_empty() {
                break;
            }
            records.extend(
                page_records
                    .into_iter()
                    .map(|r| pulse_dynamodb::stream_records::lambda_record(r, &stream_arn, "us-east-1")),
            );
            iterator = page.next_shard_iterator;
        }
    }
    Ok(json!({ "Records": records }))
}

/// Where a mapping stands in one shard.
#[derive(Default)]
struct ShardPosition {
    /// The iterator to read next; none when a fresh one must be taken.
    iterator: Option<String>,
    /// Sequence number of the last record read (filtered out or handed on).
    last_sequence: Option<String>,
    /// The shard is closed and drained.
    closed: bool,
}

/// Index of the first record named in `batchItemFailures`, if any.
fn first_failure(response: &Value, batch: &[Value]) -> Option<usize> {
    let failed: Vec<&str> = response["batchItemFailures"]
        .as_array()?
        .iter()
        .filter_map(|failure| failure["itemIdentifier"].as_str())
        .collect();
    batch.iter().position(|record| {
        record["dynamodb"]["SequenceNumber"]
            .as_str()
            .is_some_and(|seq| failed.contains(&seq))
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// A function that crashes on any batch holding the record `poison` and records what it folded.
    fn crashing_on(poison: u64, folded: Arc<Mutex<Vec<u64>>>) -> StreamFunction {
        Arc::new(move |event: Value| {
            let folded = folded.clone();
            Box::pin(async move {
                let ids: Vec<u64> = event["Records"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["id"].as_u64().unwrap())
                    .collect();
                if ids.contains(&poison) {
                    anyhow::bail!("crashed");
                }
                folded.lock().unwrap().extend(ids);
                Ok(json!({"batchItemFailures": []}))
            })
        })
    }

    fn poller() -> StreamPoller {
        let config = aws_sdk_dynamodbstreams::Config::builder()
            .behavior_version(aws_sdk_dynamodbstreams::config::BehaviorVersion::latest())
            .build();
        StreamPoller {
            streams: aws_sdk_dynamodbstreams::Client::from_conf(config),
            table: "t".into(),
            region: "us-east-1".into(),
        }
    }

    /// With `BisectBatchOnFunctionError`, one record that crashes the function holds up only itself: every
    /// other record of the batch is delivered, in order. Without it the whole batch is lost.
    #[tokio::test]
    async fn a_crashing_record_is_bisected_out_of_its_batch() {
        let batch: Vec<Value> = (0..8).map(|id| json!({"id": id})).collect();
        for bisect_on_error in [true, false] {
            let spec = MappingSpec {
                function: "AggregateFunction".into(),
                batch_size: 8,
                max_retries: 1,
                bisect_on_error,
                filters: Vec::new(),
            };
            let folded = Arc::new(Mutex::new(Vec::new()));
            poller()
                .deliver(&spec, &crashing_on(5, folded.clone()), batch.clone())
                .await;
            let folded = folded.lock().unwrap().clone();
            if bisect_on_error {
                assert_eq!(folded, [0, 1, 2, 3, 4, 6, 7]);
            } else {
                assert!(folded.is_empty());
            }
        }
        assert!(
            crate::esm::mapping_from_template("AggregateFunction")
                .unwrap()
                .bisect_on_error
        );
    }
}
