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
use pulse_core::memory::MemoryStore;
use pulse_core::realtime::aggregate::{AggregateConfig, RollupKey, RollupStore, SaveOutcome, StreamEvent, fold_batch};
use pulse_core::realtime::service::RealtimeService;
use pulse_core::realtime::view::{RealtimeParams, Window};
use pulse_core::realtime::{
    Fingerprint, FingerprintBucket, Minute, MinuteCounts, MinuteRollup, SequenceNumber, SequenceRange, VisitorKey,
    VisitorPart, VisitorState, bucket,
};
use pulse_core::site_cache::SiteCache;
use pulse_core::{EventDetail, EventId, EventKind, EventStore, ReadToken, Site, SiteId, StoreError, StoredEvent};
use pulse_dynamodb::{DynamoStore, keys, schema};
use serde_json::{Value, json};

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

// ---------------------------------------------------------------------------------------------
// Section 1: fold CPU time
// ---------------------------------------------------------------------------------------------

struct FoldResult {
    events: usize,
    writes: usize,
    median: Duration,
    best: Duration,
    apply_median: Duration,
    /// Write and read units of each one-second batch of a minute at `BATCH_COST_VISITORS_PER_MINUTE`.
    batch_units: Vec<Units>,
}

async fn bench_fold() -> FoldResult {
    println!("[1/3] folding {FOLD_VISITORS} visitors' events in process …");
    let now = Utc::now();
    let mut traffic = Traffic::new(site_id("bench"));
    let last = Minute::of(now);
    let mut events = Vec::new();
    for back in (0..FOLD_MINUTES).rev() {
        events.extend(traffic.minute_events(last.plus(-back), 0..FOLD_VISITORS, FOLD_EVENTS_PER_MINUTE));
    }
    let (batch, records) = traffic.as_stream(events);
    let config = AggregateConfig::default();

    let mut timings = Vec::with_capacity(FOLD_REPETITIONS);
    let mut writes = 0;
    for _ in 0..FOLD_REPETITIONS {
        // A fresh store each time, so every repetition creates its rollups from scratch.
        let store = MemoryStore::default();
        let input = records.clone();
        let started = Instant::now();
        let report = fold_batch(&store, &config, &batch, input, now).await;
        timings.push(started.elapsed());
        assert!(report.failed.is_empty(), "the in-memory store never fails a write");
        writes = report.writes;
    }

    let apply_timings: Vec<Duration> = (0..FOLD_REPETITIONS).map(|_| time_apply(&records)).collect();
    FoldResult {
        events: records.len(),
        writes,
        median: percentile(&timings, 0.5),
        best: percentile(&timings, 0.0),
        apply_median: percentile(&apply_timings, 0.5),
        batch_units: batch_units(&mut traffic, last.plus(1), now).await,
    }
}

/// The fold's core alone: counting each event into its fingerprint bucket (unless it is there) and
/// observing it, without grouping or the store's load and save.
fn time_apply(records: &[StreamEvent]) -> Duration {
    let started = Instant::now();
    let mut buckets: BTreeMap<(Minute, u8), FingerprintBucket> = BTreeMap::new();
    let mut rollups: BTreeMap<Minute, BTreeMap<VisitorKey, VisitorState>> = BTreeMap::new();
    for record in records {
        let minute = Minute::of(record.event.ts);
        if !buckets
            .entry((minute, bucket::bucket_of(record.event.ts)))
            .or_default()
            .add(&record.event)
        {
            continue;
        }
        rollups
            .entry(minute)
            .or_default()
            .entry(VisitorKey::of(&record.event.visitor))
            .or_default()
            .observe(&record.event);
    }
    black_box((&buckets, &rollups));
    started.elapsed()
}

/// Write and read units of one fold.
#[derive(Debug, Clone, Copy, Default)]
struct Units {
    write: usize,
    /// Of `write`, the fingerprint buckets'.
    bucket_write: usize,
    read: usize,
    /// Of `read`, the fingerprint buckets' GetItems.
    bucket_read: usize,
}

/// One minute of a site with `BATCH_COST_VISITORS_PER_MINUTE` visitors (a third of them new, as in
/// section 2), delivered as sixty one-second batches: the write and read units each batch costs, by
/// DynamoDB's item-size rules (1 WCU per KB, rounded up per item written; a consistent read 1 RCU per
/// 4 KB, rounded up per GetItem and per Query, at least 1).
async fn batch_units(traffic: &mut Traffic, minute: Minute, now: DateTime<Utc>) -> Vec<Units> {
    let visitors = BATCH_COST_VISITORS_PER_MINUTE;
    let mut events = traffic.minute_events(minute, 0..visitors, (visitors + visitors / 2) as usize);
    events.sort_by_key(|event| event.ts);
    let memory = MemoryStore::default();
    let store = SizingStore::new(&memory);
    let mut units = Vec::new();
    for second in 0..60 {
        let in_second: Vec<StoredEvent> = events
            .iter()
            .filter(|event| (event.ts - minute.start()).num_seconds() == second)
            .cloned()
            .collect();
        if in_second.is_empty() {
            continue;
        }
        let (batch, records) = traffic.as_stream(in_second);
        store.take_units();
        let report = fold_batch(&store, &AggregateConfig::default(), &batch, records, now).await;
        assert!(report.failed.is_empty());
        units.push(store.take_units());
    }
    units
}

// ---------------------------------------------------------------------------------------------
// Section 2: query cost against moto
// ---------------------------------------------------------------------------------------------

struct QueryResult {
    visitors_per_minute: u64,
    minutes: u32,
    timed: Timed,
    /// Rollup items in the window, and their total DynamoDB item size.
    rollup_items: usize,
    rollup_bytes: usize,
}

/// Repeated warm queries of one window.
struct Timed {
    runs: usize,
    p50: Duration,
    max: Duration,
    /// HTTP requests of one query.
    requests: usize,
    /// The view's `currentVisitors`: a check that the window read what was written.
    current_visitors: usize,
}

/// One table per traffic level, populated with 30 minutes of rollups and some raw events.
struct Populated {
    events: usize,
    writes: usize,
    largest_item: usize,
    /// DynamoDB size of every rollup item, by minute.
    item_sizes: Vec<(Minute, usize)>,
}

async fn bench_queries(endpoint: &str) -> Vec<QueryResult> {
    let mut results = Vec::new();
    for visitors_per_minute in TRAFFIC_LEVELS {
        let counter = RequestCounter::default();
        let client = counted_client(endpoint, &counter).await;
        let table = fresh_table(&client).await;
        let store = DynamoStore::new(client.clone(), &table);
        let (site, token) = create_site(&store, "bench").await;
        // Queries use this same instant, so a minute boundary during the run cannot shift windows.
        let now = Utc::now();

        let started = Instant::now();
        let populated = populate(&store, visitors_per_minute, now).await;
        println!(
            "[2/3] {visitors_per_minute} visitors/min: {} events folded into {} \
             rollup writes + {RECENT_EVENTS} raw events in {:.1} s; largest rollup item {:.1} KB; \
             querying …",
            populated.events,
            populated.writes,
            started.elapsed().as_secs_f64(),
            kb(populated.largest_item),
        );

        let service = RealtimeService::new(store, SiteCache::new(Duration::from_secs(60), Duration::from_secs(5)));
        let query = Query {
            service: &service,
            counter: &counter,
            site: &site,
            token: &token,
        };
        query.warm_site_cache(now).await;
        for minutes in WINDOWS {
            let timed = query.measure(minutes, now).await;
            let window = Window::ending_at(now, minutes);
            let in_window: Vec<usize> = populated
                .item_sizes
                .iter()
                .filter(|(minute, _)| window.contains(*minute))
                .map(|(_, size)| *size)
                .collect();
            results.push(QueryResult {
                visitors_per_minute,
                minutes,
                timed,
                rollup_items: in_window.len(),
                rollup_bytes: in_window.iter().sum(),
            });
        }
        // Frees moto's memory.
        for name in [table.clone(), pulse_dynamodb::schema::default_rollup_table(&table)] {
            client
                .delete_table()
                .table_name(name)
                .send()
                .await
                .expect("deleting the bench tables");
        }
    }
    results
}

/// Folds 30 minutes of synthetic traffic straight into the table (one batch per minute, as if
/// the stream had delivered it) and writes the raw events the feed reads.
async fn populate(store: &DynamoStore, visitors_per_minute: u64, now: DateTime<Utc>) -> Populated {
    let config = AggregateConfig::default();
    let sizing = SizingStore::new(store);
    let mut traffic = Traffic::new(site_id("bench"));
    let last = Minute::of(now);
    let (mut events, mut writes) = (0, 0);
    for index in 0..POPULATED_MINUTES {
        let minute = last.plus(index + 1 - POPULATED_MINUTES);
        let first_visitor = index as u64 * visitors_per_minute / VISIT_MINUTES;
        let active = first_visitor..first_visitor + visitors_per_minute;
        // Every active visitor acts once, half of them twice.
        let count = (visitors_per_minute + visitors_per_minute / 2) as usize;
        let minute_events = traffic.minute_events(minute, active, count);
        events += minute_events.len();
        let (batch, records) = traffic.as_stream(minute_events);
        let report = fold_batch(&sizing, &config, &batch, records, now).await;
        assert!(
            report.failed.is_empty(),
            "rollup writes to moto failed for minute {minute}"
        );
        writes += report.writes;
    }
    put_recent_events(store, &mut traffic, visitors_per_minute, now).await;

    let sizes = sizing.sizes.into_inner().expect("sizes lock");
    // What the realtime Query reads: counts and parts, not the fold's fingerprint buckets.
    let item_sizes: Vec<(Minute, usize)> = sizes
        .into_iter()
        .filter(|((_, slot), _)| !matches!(slot, Slot::Bucket(_)))
        .map(|((key, _), size)| (key.minute, size))
        .collect();
    let largest_item = item_sizes.iter().map(|(_, size)| *size).max().unwrap_or_default();
    Populated {
        events,
        writes,
        largest_item,
        item_sizes,
    }
}

/// One raw event per second over the last `RECENT_EVENTS` seconds.
async fn put_recent_events(store: &DynamoStore, traffic: &mut Traffic, visitors: u64, now: DateTime<Utc>) {
    let expires_at = now + chrono::Duration::days(1);
    for seconds_ago in 0..RECENT_EVENTS {
        let visitor = traffic.rng.below(visitors);
        let event = traffic.event(visitor, now - chrono::Duration::seconds(seconds_ago));
        store
            .put_event(&event, expires_at)
            .await
            .expect("storing a raw event on moto");
    }
}

/// A rollup item of a minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Slot {
    Counts,
    Part(usize),
    Bucket(u8),
}

/// A rollup store, recording the DynamoDB size of every rollup item it writes, and the write and read
/// units its calls cost. Reading the items back instead (a Scan) would cost moto minutes at the highest
/// traffic level.
struct SizingStore<'a, S> {
    store: &'a S,
    sizes: Mutex<BTreeMap<(RollupKey, Slot), usize>>,
    units: Mutex<Units>,
}

impl<'a, S> SizingStore<'a, S> {
    fn new(store: &'a S) -> Self {
        Self {
            store,
            sizes: Mutex::default(),
            units: Mutex::default(),
        }
    }

    /// The units spent since the last call.
    fn take_units(&self) -> Units {
        std::mem::take(&mut *self.units.lock().expect("units lock"))
    }

    /// A write of this size: a conditional write costs its units even when its condition fails.
    fn wrote(&self, key: &RollupKey, slot: Slot, size: usize, outcome: SaveOutcome) {
        let mut spent = self.units.lock().expect("units lock");
        spent.write += size.div_ceil(1024);
        if matches!(slot, Slot::Bucket(_)) {
            spent.bucket_write += size.div_ceil(1024);
        }
        drop(spent);
        if outcome == SaveOutcome::Saved {
            self.sizes.lock().expect("sizes lock").insert((key.clone(), slot), size);
        }
    }

    /// A consistent read of items of these sizes.
    fn read(&self, bytes: usize, slot: Option<Slot>) {
        let units = bytes.div_ceil(4096).max(1);
        let mut spent = self.units.lock().expect("units lock");
        spent.read += units;
        if matches!(slot, Some(Slot::Bucket(_))) {
            spent.bucket_read += units;
        }
    }
}

impl<S: RollupStore> RollupStore for SizingStore<'_, S> {
    async fn load_minute(&self, key: &RollupKey) -> Result<Option<MinuteRollup>, StoreError> {
        let bytes = self
            .sizes
            .lock()
            .expect("sizes lock")
            .iter()
            .filter(|((stored, slot), _)| stored == key && !matches!(slot, Slot::Bucket(_)))
            .map(|(_, size)| size)
            .sum();
        self.read(bytes, None);
        self.store.load_minute(key).await
    }

    async fn save_part(
        &self,
        key: &RollupKey,
        index: usize,
        part: &VisitorPart,
        expected: Option<u64>,
        expires_at: DateTime<Utc>,
    ) -> Result<SaveOutcome, StoreError> {
        let outcome = self.store.save_part(key, index, part, expected, expires_at).await?;
        let size = item_size(&pulse_dynamodb::part_item(key, index, part, expires_at));
        self.wrote(key, Slot::Part(index), size, outcome);
        Ok(outcome)
    }

    async fn load_bucket(&self, key: &RollupKey, index: u8) -> Result<Option<FingerprintBucket>, StoreError> {
        let size = self
            .sizes
            .lock()
            .expect("sizes lock")
            .get(&(key.clone(), Slot::Bucket(index)))
            .copied();
        self.read(size.unwrap_or_default(), Some(Slot::Bucket(index)));
        self.store.load_bucket(key, index).await
    }

    async fn save_bucket(
        &self,
        key: &RollupKey,
        index: u8,
        bucket: &FingerprintBucket,
        expected: Option<u64>,
        expires_at: DateTime<Utc>,
    ) -> Result<SaveOutcome, StoreError> {
        let outcome = self.store.save_bucket(key, index, bucket, expected, expires_at).await?;
        let size = item_size(&bucket_item(key, index, bucket, expires_at));
        self.wrote(key, Slot::Bucket(index), size, outcome);
        Ok(outcome)
    }

    async fn save_counts(
        &self,
        key: &RollupKey,
        counts: &MinuteCounts,
        expected: Option<u64>,
        expires_at: DateTime<Utc>,
    ) -> Result<SaveOutcome, StoreError> {
        let outcome = self.store.save_counts(key, counts, expected, expires_at).await?;
        let item = pulse_dynamodb::counts_item(key, counts, expires_at).expect("counts convert to an item");
        self.wrote(key, Slot::Counts, item_size(&item), outcome);
        Ok(outcome)
    }
}

/// A fingerprint bucket item as the adapter writes it (`rollups.rs`): the totals' attributes, the
/// fingerprints as `f`, the keys and `ttl`.
fn bucket_item(
    key: &RollupKey,
    index: u8,
    bucket: &FingerprintBucket,
    expires_at: DateTime<Utc>,
) -> HashMap<String, AttributeValue> {
    let mut item: HashMap<String, AttributeValue> =
        serde_dynamo::to_item(&bucket.totals).expect("bucket totals convert to an item");
    item.insert(
        "f".into(),
        AttributeValue::B(bucket::encode_fingerprints(&bucket.fingerprints).into()),
    );
    item.insert("pk".into(), AttributeValue::S(keys::site_pk(&key.site)));
    item.insert(
        "sk".into(),
        AttributeValue::S(keys::rollup_bucket_sk(key.minute, index)),
    );
    item.insert("ttl".into(), AttributeValue::N(expires_at.timestamp().to_string()));
    item
}

/// A site's realtime queries, with the request counter of the store's client.
struct Query<'a> {
    service: &'a RealtimeService<DynamoStore>,
    counter: &'a RequestCounter,
    site: &'a SiteId,
    token: &'a str,
}

impl Query<'_> {
    /// The first query reads the site from the registry; later ones find it in the cache, as in a
    /// warm Lambda. This one reads as little else as possible: one minute, no feed.
    async fn warm_site_cache(&self, now: DateTime<Utc>) {
        let params = RealtimeParams {
            minutes: 1,
            events: 0,
            ..RealtimeParams::default()
        };
        self.view(&params, now).await;
    }

    /// Times the view a dashboard asks for (default limit and feed length) over a window.
    async fn measure(&self, minutes: u32, now: DateTime<Utc>) -> Timed {
        let params = RealtimeParams {
            minutes,
            ..RealtimeParams::default()
        };
        let budget = Instant::now();
        let (mut latencies, mut requests, mut current_visitors) = (Vec::new(), 0, 0);
        while latencies.len() < MAX_RUNS && (latencies.is_empty() || budget.elapsed() < RUN_BUDGET) {
            self.counter.take();
            let started = Instant::now();
            current_visitors = self.view(&params, now).await;
            latencies.push(started.elapsed());
            requests = requests.max(self.counter.take());
        }
        Timed {
            runs: latencies.len(),
            p50: percentile(&latencies, 0.5),
            max: percentile(&latencies, 1.0),
            requests,
            current_visitors,
        }
    }

    /// The view's `currentVisitors`.
    async fn view(&self, params: &RealtimeParams, now: DateTime<Utc>) -> usize {
        let view = self
            .service
            .view(self.site, Some(self.token), params, now)
            .await
            .expect("realtime view from moto");
        view.current_visitors
    }
}

/// Counts the DynamoDB requests a client makes: the hook runs once per operation, so every page of
/// a paginated Query counts. SDK retries do not: against moto they are transport hiccups of its
/// development server, not part of what a query costs.
#[derive(Debug, Clone, Default)]
struct RequestCounter(Arc<AtomicUsize>);

impl RequestCounter {
    /// The count so far, resetting it.
    fn take(&self) -> usize {
        self.0.swap(0, Ordering::Relaxed)
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// A client that counts its requests. Its timeouts are generous: moto on a busy machine can take
/// longer than the production 2 s per attempt for a 1 MB page, and a timed-out attempt would be
/// retried and counted as an extra request.
async fn counted_client(endpoint: &str, counter: &RequestCounter) -> Client {
    let sdk_config = pulse_dynamodb::sdk_config().await;
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .operation_attempt_timeout(Duration::from_secs(60))
        .operation_timeout(Duration::from_secs(120))
        .build();
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk_config)
        .endpoint_url(endpoint)
        .timeout_config(timeouts)
        .interceptor(counter.clone())
        .build();
    Client::from_conf(config)
}

/// An item's size as DynamoDB limits and bills it ("Item sizes and formats" in the DynamoDB
/// developer guide): attribute names plus values; a map or list adds 3 bytes, plus 1 per element.
fn item_size(item: &HashMap<String, AttributeValue>) -> usize {
    item.iter().map(|(name, value)| name.len() + value_size(value)).sum()
}

fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(text) => text.len(),
        AttributeValue::N(number) => number_size(number),
        AttributeValue::B(bytes) => bytes.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(name, value)| name.len() + value_size(value) + 1)
                .sum::<usize>()
        }
        AttributeValue::L(list) => 3 + list.iter().map(|value| value_size(value) + 1).sum::<usize>(),
        AttributeValue::Ss(set) => set.iter().map(String::len).sum(),
        AttributeValue::Ns(set) => set.iter().map(|number| number_size(number)).sum(),
        AttributeValue::Bs(set) => set.iter().map(|bytes| bytes.as_ref().len()).sum(),
        _ => 0,
    }
}

/// 1 byte per two significant digits, plus 1; leading and trailing zeros are not stored.
fn number_size(number: &str) -> usize {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len().max(1);
    significant.div_ceil(2) + 1
}

// ---------------------------------------------------------------------------------------------
// Section 3: collect → visible in the realtime view, through the local stack
// ---------------------------------------------------------------------------------------------

struct VisibleResult {
    /// `POST /collect` until its response.
    collect: Vec<Duration>,
    /// `POST /collect` until a realtime view counts the page view.
    visible: Vec<Duration>,
}

async fn bench_collect_to_visible(endpoint: &str) -> VisibleResult {
    println!("[3/3] {HITS} page views through the local gateway and stream poller …");
    let stack = Stack::spawn(endpoint).await;
    let http = reqwest::Client::new();

    // The first hit creates the day's salt and fills the site caches: a cold start, not measured.
    let mut seen = stack.page_views(&http).await;
    stack.post_page_view(&http, "/bench/warm-up").await;
    seen = stack.wait_for_page_views(&http, seen + 1).await;

    let mut rng = SplitMix(7);
    let mut result = VisibleResult {
        collect: Vec::new(),
        visible: Vec::new(),
    };
    for hit in 0..HITS {
        // A random pause de-phases hits from the poller: sent right after a detection, every hit
        // would land just after a poll and wait a whole interval.
        let pause = rng.below(STREAM_POLL.as_millis() as u64);
        tokio::time::sleep(Duration::from_millis(pause)).await;

        let started = Instant::now();
        stack.post_page_view(&http, &format!("/bench/{hit}")).await;
        result.collect.push(started.elapsed());
        seen = stack.wait_for_page_views(&http, seen + 1).await;
        result.visible.push(started.elapsed());
    }
    result
}

/// The local stack on a fresh table with a `demo` site, as the API tests have it.
struct Stack {
    address: String,
    token: String,
}

impl Stack {
    async fn spawn(endpoint: &str) -> Self {
        let table = format!("bench-{}", EventId::random());
        let stack = LocalStack::start(endpoint, &table)
            .await
            .expect("the local stack starts on moto");
        let (_, token) = create_site(&stack.store, "demo").await;
        Self {
            address: stack.address,
            token,
        }
    }

    async fn post_page_view(&self, http: &reqwest::Client, path: &str) {
        let hit = json!({
            "s": "demo",
            "e": "pageview",
            "u": format!("https://example.com{path}"),
            "r": "https://www.google.com/",
        });
        let response = http
            .post(format!("{}/collect", self.address))
            .header("content-type", "text/plain")
            .header("user-agent", CHROME)
            .header("cloudfront-viewer-country", "DE")
            .body(hit.to_string())
            .send()
            .await
            .expect("the gateway answers POST /collect");
        assert_eq!(
            response.status(),
            reqwest::StatusCode::NO_CONTENT,
            "the hit is accepted"
        );
    }

    /// Polls the realtime view every `VIEW_POLL` until it counts at least `at_least` page views.
    async fn wait_for_page_views(&self, http: &reqwest::Client, at_least: u64) -> u64 {
        let deadline = Instant::now() + VISIBLE_TIMEOUT;
        loop {
            let seen = self.page_views(http).await;
            if seen >= at_least {
                return seen;
            }
            assert!(
                Instant::now() < deadline,
                "page view {at_least} not visible after {VISIBLE_TIMEOUT:?} (seen {seen})"
            );
            tokio::time::sleep(VIEW_POLL).await;
        }
    }

    async fn page_views(&self, http: &reqwest::Client) -> u64 {
        let view: Value = http
            .get(format!("{}/sites/demo/realtime", self.address))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("the gateway answers GET /sites/demo/realtime")
            .error_for_status()
            .expect("the realtime view is readable with the site's token")
            .json()
            .await
            .expect("the realtime view is JSON");
        view["pageViews"].as_u64().expect("the view has a pageViews count")
    }
}

// ---------------------------------------------------------------------------------------------
// Tables and sites
// ---------------------------------------------------------------------------------------------

/// A table of its own per measurement, so nothing left from another run is read.
async fn fresh_table(client: &Client) -> String {
    let table = format!("bench-{}", EventId::random());
    schema::create_tables(client, &table, &pulse_dynamodb::schema::default_rollup_table(&table))
        .await
        .expect("creating a table on moto (is moto running at AWS_ENDPOINT_URL_DYNAMODB?)");
    table
}

/// A private site for example.com; returns its id and read token.
async fn create_site(store: &DynamoStore, id: &str) -> (SiteId, String) {
    let token = ReadToken::generate();
    let site = Site {
        id: site_id(id),
        domains: vec!["example.com".into()],
        public: false,
        token_hash: token.hash(),
        goals: Vec::new(),
        keep_outbound_query: false,
    };
    store.create_site(&site).await.expect("creating the bench site");
    (site.id, token.expose().to_owned())
}

fn site_id(id: &str) -> SiteId {
    SiteId::parse(id).expect("a valid site id")
}

// ---------------------------------------------------------------------------------------------
// Synthetic traffic
// ---------------------------------------------------------------------------------------------

/// SplitMix64: a tiny deterministic generator, so every run generates the same traffic.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// `0..n`; the modulo bias is negligible for the small `n` used here.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<T: Copy>(&mut self, weighted: &[(T, u64)]) -> T {
        let total = weighted.iter().map(|(_, weight)| weight).sum();
        let mut roll = self.below(total);
        for &(choice, weight) in weighted {
            if roll < weight {
                return choice;
            }
            roll -= weight;
        }
        unreachable!("the roll is below the total weight")
    }
}

/// Stands for the long tail of blog posts: `/blog/post-{n}`.
const BLOG_POST: &str = "/blog/post-";
const PAGES: &[(&str, u64)] = &[
    ("/", 25),
    ("/pricing", 10),
    ("/docs", 9),
    ("/docs/getting-started", 8),
    ("/docs/api", 5),
    ("/features", 5),
    ("/blog", 5),
    ("/signup", 4),
    ("/login", 4),
    ("/about", 2),
    ("/changelog", 3),
    (BLOG_POST, 20),
];
const COUNTRIES: &[(Option<&str>, u64)] = &[
    (Some("US"), 30),
    (Some("DE"), 10),
    (Some("GB"), 9),
    (Some("IN"), 8),
    (Some("FR"), 6),
    (Some("CA"), 5),
    (Some("NL"), 4),
    (Some("BR"), 4),
    (Some("JP"), 3),
    (Some("ES"), 3),
    (Some("PL"), 2),
    (Some("AU"), 3),
    (Some("SE"), 2),
    (Some("IT"), 3),
    (Some("KR"), 2),
    (None, 6),
];
const REFERRERS: &[(Option<&str>, u64)] = &[
    (None, 55),
    (Some("www.google.com"), 20),
    (Some("news.ycombinator.com"), 5),
    (Some("www.reddit.com"), 5),
    (Some("github.com"), 4),
    (Some("t.co"), 3),
    (Some("duckduckgo.com"), 3),
    (Some("www.bing.com"), 2),
    (Some("www.linkedin.com"), 2),
    (Some("dev.to"), 1),
];
/// (device, browser, os)
const DEVICES: &[((&str, &str, &str), u64)] = &[
    (("desktop", "Chrome", "Windows"), 35),
    (("desktop", "Edge", "Windows"), 8),
    (("desktop", "Safari", "Mac OSX"), 12),
    (("desktop", "Firefox", "Linux"), 5),
    (("mobile", "Safari", "iPhone"), 22),
    (("mobile", "Chrome", "Android"), 15),
    (("tablet", "Safari", "iPad"), 3),
];
const EVENT_NAMES: &[(&str, u64)] = &[("signup", 3), ("download", 2), ("play_video", 2), ("add_to_cart", 1)];

/// What stays the same across a visitor's events; the same index always gives the same visitor.
struct Visitor {
    id: String,
    country: Option<&'static str>,
    referrer: Option<&'static str>,
    device: (&'static str, &'static str, &'static str),
}

impl Visitor {
    fn of(index: u64) -> Self {
        let mut rng = SplitMix(index);
        // Real visitor ids are 128-bit hashes in hex.
        let id = format!("{:016x}{:016x}", rng.next(), rng.next());
        Self {
            id,
            country: rng.pick(COUNTRIES),
            referrer: rng.pick(REFERRERS),
            device: rng.pick(DEVICES),
        }
    }
}

/// Synthetic raw events for one site: 70% page views, 25% custom events, 5% outbound clicks.
struct Traffic {
    site: SiteId,
    rng: SplitMix,
    /// Stream sequence numbers have ~20 digits, as DynamoDB's do.
    next_sequence: u64,
}

impl Traffic {
    fn new(site: SiteId) -> Self {
        Self {
            site,
            rng: SplitMix(42),
            next_sequence: 4_000_000_000_000_000_000,
        }
    }

    /// `count` events in `minute`: every visitor in `active` acts at least once (when `count`
    /// allows), the remaining events go to random active visitors.
    fn minute_events(&mut self, minute: Minute, active: Range<u64>, count: usize) -> Vec<StoredEvent> {
        let visitors = active.end - active.start;
        let mut events = Vec::with_capacity(count);
        for n in 0..count as u64 {
            let visitor = if n < visitors {
                active.start + n
            } else {
                active.start + self.rng.below(visitors)
            };
            let millis = self.rng.below(60_000) as i64;
            events.push(self.event(visitor, minute.start() + chrono::Duration::milliseconds(millis)));
        }
        events
    }

    fn event(&mut self, visitor: u64, at: DateTime<Utc>) -> StoredEvent {
        let visitor = Visitor::of(visitor);
        let (device, browser, os) = visitor.device;
        let kind = self.rng.pick(&[
            (EventKind::Pageview, 70),
            (EventKind::Event, 25),
            (EventKind::Outbound, 5),
        ]);
        let mut path = self.rng.pick(PAGES).to_owned();
        if path == BLOG_POST {
            path.push_str(&self.rng.below(200).to_string());
        }
        let id = EventId::parse(&format!("{:024x}", self.rng.next())).expect("hex digits make a valid event id");
        let detail = match kind {
            EventKind::Pageview => EventDetail::Pageview,
            EventKind::Event => EventDetail::Event {
                name: self.rng.pick(EVENT_NAMES).into(),
                value: None,
            },
            EventKind::Outbound => EventDetail::Outbound {
                url: "https://github.com/example/pulse".into(),
            },
        };
        let mut event = StoredEvent {
            site: self.site.clone(),
            detail,
            id,
            ts: at,
            visitor: visitor.id,
            sid: None,
            host: "example.com".into(),
            path,
            title: None,
            // The landing referrer on every page view, not only the first: rollups come out at
            // their largest, which is what shard sizing must allow for.
            referrer: visitor.referrer.filter(|_| kind == EventKind::Pageview).map(Into::into),
            utm_source: None,
            utm_medium: None,
            utm_campaign: None,
            device: device.into(),
            browser: Some(browser.into()),
            os: Some(os.into()),
            country: visitor.country.map(Into::into),
            sw: None,
            sh: None,
            props: BTreeMap::new(),
            client_id: false,
            goals: Vec::new(),
            fingerprint: None,
        };
        // Keyed, as collect stores it (a fixed salt: the traffic stays the same run to run).
        let key = Salt::from_hex("000102030405060708090a0b0c0d0e0f")
            .unwrap()
            .fingerprint_key();
        event.fingerprint = Some(Fingerprint::keyed(&key, &event));
        event
    }

    /// The events as one stream batch, with consecutive sequence numbers.
    fn as_stream(&mut self, events: Vec<StoredEvent>) -> (SequenceRange, Vec<StreamEvent>) {
        let first = self.next_sequence;
        let records: Vec<StreamEvent> = events
            .into_iter()
            .map(|event| {
                self.next_sequence += 1;
                StreamEvent {
                    sequence: sequence_number(self.next_sequence),
                    event,
                }
            })
            .collect();
        let batch = SequenceRange {
            first: sequence_number(first + 1),
            last: sequence_number(self.next_sequence),
        };
        (batch, records)
    }
}

fn sequence_number(n: u64) -> SequenceNumber {
    SequenceNumber::parse(&n.to_string()).expect("digits make a valid sequence number")
}

// ---------------------------------------------------------------------------------------------
// Statistics and output
// ---------------------------------------------------------------------------------------------

/// Nearest-rank percentile (`p` from 0 to 1) of the samples.
fn percentile(samples: &[Duration], p: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn kb(bytes: usize) -> f64 {
    bytes as f64 / 1024.0
}

/// Eventually consistent read units of the rollup Query: 0.5 per 4 KB read (DynamoDB rounds up
/// per page, so this is a lower bound).
fn read_units(bytes: usize) -> f64 {
    bytes.div_ceil(4096) as f64 / 2.0
}

fn print_summary(fold: &FoldResult, queries: &[QueryResult], visible: &VisibleResult) {
    let per_10k = |d: Duration| ms(d) * 10_000.0 / fold.events as f64;
    let per_event = |d: Duration| d.as_secs_f64() * 1e6 / fold.events as f64;
    println!("\n== Summary ==\n");
    println!(
        "1. Fold CPU time (in process, no I/O): {} events, {FOLD_VISITORS} visitors, \
         {FOLD_MINUTES} minutes, 70% page views, one batch, {FOLD_REPETITIONS} repetitions",
        fold.events
    );
    println!(
        "   fold_batch into MemoryStore:            {:>7.2} ms per 10,000 events  {:>5.2} \
         µs/event  (best {:.2} ms)  {} rollup writes",
        per_10k(fold.median),
        per_event(fold.median),
        per_10k(fold.best),
        fold.writes
    );
    println!(
        "   count + observe loop alone:             {:>7.2} ms per 10,000 events  {:>5.2} µs/event",
        per_10k(fold.apply_median),
        per_event(fold.apply_median)
    );
    let median_and_max = |pick: fn(&Units) -> usize| {
        let mut units: Vec<usize> = fold.batch_units.iter().map(pick).collect();
        units.sort_unstable();
        (
            units.get(units.len() / 2).copied().unwrap_or_default(),
            units.last().copied().unwrap_or_default(),
        )
    };
    let (wcu, max_wcu) = median_and_max(|units| units.write);
    let (bucket_wcu, max_bucket_wcu) = median_and_max(|units| units.bucket_write);
    let (rcu, max_rcu) = median_and_max(|units| units.read);
    let (bucket_rcu, max_bucket_rcu) = median_and_max(|units| units.bucket_read);
    println!(
        "   units per 1-second batch at {BATCH_COST_VISITORS_PER_MINUTE} visitors/min ({} batches, \
         DynamoDB item sizes): writes median {wcu} WCU, max {max_wcu} WCU (fingerprint buckets: median \
         {bucket_wcu}, max {max_bucket_wcu}); consistent reads median {rcu} RCU, max {max_rcu} RCU \
         (fingerprint buckets: median {bucket_rcu}, max {max_bucket_rcu})",
        fold.batch_units.len(),
    );

    println!(
        "\n2. Realtime query (RealtimeService::view, limit 10, 20 feed events, site cached), \
         measured against moto on loopback:\n   latencies measure moto, not DynamoDB; request \
         counts and rollup item sizes carry over to DynamoDB (page counts approximately: at most \
         1 MB per Query page)."
    );
    println!(
        "   {:>9} {:>6} {:>4} {:>8} {:>8} {:>8} {:>6} {:>10} {:>8} {:>9}",
        "visit/min", "window", "runs", "p50 ms", "max ms", "requests", "items", "rollup KB", "≈RRU", "visitors"
    );
    for q in queries {
        println!(
            "   {:>9} {:>4} m {:>4} {:>8.1} {:>8.1} {:>8} {:>6} {:>10.1} {:>8.1} {:>9}",
            q.visitors_per_minute,
            q.minutes,
            q.timed.runs,
            ms(q.timed.p50),
            ms(q.timed.max),
            q.timed.requests,
            q.rollup_items,
            kb(q.rollup_bytes),
            read_units(q.rollup_bytes),
            q.timed.current_visitors
        );
    }
    println!(
        "   requests = DynamoDB requests per warm query: the rollup Query's pages + 2 feed Queries. \
         items/KB = rollup items read (DynamoDB item size).\n   ≈RRU = read request units of the \
         rollup Query. visitors = the view's currentVisitors."
    );

    println!(
        "\n3. collect → visible in GET /sites/{{site}}/realtime, local gateway + stream poller on \
         moto ({} page views, view polled every {} ms):",
        visible.visible.len(),
        VIEW_POLL.as_millis()
    );
    println!(
        "   visible:        p50 {:>6.0} ms   p90 {:>6.0} ms   p99 {:>6.0} ms (nearest rank: the \
         max of {} samples)",
        ms(percentile(&visible.visible, 0.5)),
        ms(percentile(&visible.visible, 0.9)),
        ms(percentile(&visible.visible, 0.99)),
        visible.visible.len(),
    );
    println!(
        "   POST /collect:  p50 {:>6.0} ms   p99 {:>6.0} ms",
        ms(percentile(&visible.collect, 0.5)),
        ms(percentile(&visible.collect, 0.99)),
    );
    println!(
        "   The local poller reads the stream every {} ms (Lambda also polls a shard 4 times a \
         second), so this is dominated by polling.",
        STREAM_POLL.as_millis()
    );
}
