//! The realtime path, measured three ways:
//!
//! 1. the CPU cost of folding raw events into per-minute rollups (in process, no I/O);
//! 2. what a realtime query costs: latency, DynamoDB requests and rollup bytes read, for windows of
//!    1, 5 and 30 minutes at 10, 1,000 and 5,000 visitors per minute;
//! 3. how long a page view takes from `POST /collect` until the realtime view counts it, through
//!    the local gateway and the local stream poller.
//!
//! Sections 2 and 3 run against moto on loopback: their latencies measure moto, not DynamoDB, while
//! request counts and item sizes carry over to DynamoDB. moto applies DynamoDB's 400 KB item limit
//! and 1 MB Query page limit, the latter with its own slightly smaller item-size estimate, so page
//! counts carry over approximately; item sizes here are computed with DynamoDB's own rules.
//!
//! `cargo bench -p local-gateway --bench realtime`, with moto running and the variables of
//! infra/local/env.sh exported (AWS_ENDPOINT_URL_DYNAMODB, region and dummy credentials).

use std::collections::{BTreeMap, HashMap};
use std::hint::black_box;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use local_gateway::LocalStack;
use pulse_core::enrich::Salt;
use pulse_core::hooked::{HookedRollups, RollupCall, RollupHooks};
use pulse_core::memory::MemoryStore;
use pulse_core::realtime::aggregate::{AggregateConfig, RollupKey, RollupStore, SaveOutcome, StreamEvent, fold_batch};
use pulse_core::realtime::service::RealtimeService;
use pulse_core::realtime::view::{RealtimeParams, Window};
use pulse_core::realtime::{
    Fingerprint, FingerprintBucket, Minute, SequenceNumber, SequenceRange, VisitorKey, VisitorState, bucket,
};
use pulse_core::site_cache::SiteCache;
use pulse_core::{EventDetail, EventId, EventKind, EventStore, ReadToken, Site, SiteId, StoreError, StoredEvent};
use pulse_dynamodb::{DynamoStore, keys, schema};
use serde_json::{Value, json};

mod costs;
mod fold;
mod queries;
mod scale;
mod stats;
mod tables;
mod traffic;
mod visibility;

use fold::*;
use queries::*;
use scale::*;
use stats::*;
use tables::*;
use traffic::*;
use visibility::*;

// Section 1: 10,000 events from 2,000 visitors over 5 minutes, folded as one batch.
const FOLD_VISITORS: u64 = 2_000;
const FOLD_MINUTES: i64 = 5;
const FOLD_EVENTS_PER_MINUTE: usize = 2_000;
const FOLD_REPETITIONS: usize = 7;

// Section 2.
const TRAFFIC_LEVELS: [u64; 3] = [10, 1_000, 5_000];
const WINDOWS: [u32; 3] = [1, 5, 30];
/// The longest window a query may ask for.
const POPULATED_MINUTES: i64 = 30;
/// Each visitor stays this many minutes, so a third of every minute's visitors are new.
const VISIT_MINUTES: u64 = 3;
/// Section 1b: the write cost of one-second stream batches (the aggregate mapping's batching window).
const BATCH_COST_VISITORS_PER_MINUTE: u64 = 1_000;
/// Raw events written so that the feed queries of the view have something to read.
const RECENT_EVENTS: i64 = 100;
/// Queries per window: as many as fit in `RUN_BUDGET`, at least one and at most `MAX_RUNS`. moto
/// serves about 1 MB of rollups every few seconds, so the largest windows get a single run.
const MAX_RUNS: usize = 10;
const RUN_BUDGET: Duration = Duration::from_secs(3);

// Section 3.
const HITS: usize = 40;
const VIEW_POLL: Duration = Duration::from_millis(10);
const VISIBLE_TIMEOUT: Duration = Duration::from_secs(15);
/// The local stream poller's interval (`streams.rs`); Lambda also polls a shard 4 times a second.
const STREAM_POLL: Duration = Duration::from_millis(250);

const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
                      (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    // `make scale`: the in-memory section alone.
    if std::env::args().any(|arg| arg == "scale") {
        bench_scale().await;
        return;
    }
    let endpoint = moto_endpoint();
    println!("Pulse realtime benchmark (DynamoDB endpoint: moto at {endpoint}, loopback)\n");

    let fold = bench_fold().await;
    let queries = bench_queries(&endpoint).await;
    let visible = bench_collect_to_visible(&endpoint).await;

    print_summary(&fold, &queries, &visible);
}

/// Fails early and clearly: sections 2 and 3 cannot run without moto.
fn moto_endpoint() -> String {
    match std::env::var("AWS_ENDPOINT_URL_DYNAMODB") {
        Ok(endpoint) if !endpoint.is_empty() => endpoint,
        _ => {
            eprintln!(
                "AWS_ENDPOINT_URL_DYNAMODB is not set: this benchmark needs a running moto \
                 server.\nStart one and export the variables of infra/local/env.sh (or run \
                 `make bench`)."
            );
            std::process::exit(2);
        }
    }
}
