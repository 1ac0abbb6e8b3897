//! Section 2: query cost against moto.

use super::*;

pub(crate) struct QueryResult {
    pub(crate) visitors_per_minute: u64,
    pub(crate) minutes: u32,
    pub(crate) timed: Timed,
    /// Rollup items in the window, and their total DynamoDB item size.
    pub(crate) rollup_items: usize,
    pub(crate) rollup_bytes: usize,
}

/// Repeated warm queries of one window.
pub(crate) struct Timed {
    pub(crate) runs: usize,
    pub(crate) p50: Duration,
    pub(crate) max: Duration,
    /// HTTP requests of one query.
    pub(crate) requests: usize,
    /// The view's `currentVisitors`: a check that the window read what was written.
    pub(crate) current_visitors: usize,
}

/// One table per traffic level, populated with 30 minutes of rollups and some raw events.
pub(crate) struct Populated {
    pub(crate) events: usize,
    pub(crate) writes: usize,
    pub(crate) largest_item: usize,
    /// DynamoDB size of every rollup item, by minute.
    pub(crate) item_sizes: Vec<(Minute, usize)>,
}

pub(crate) async fn bench_queries(endpoint: &str) -> Vec<QueryResult> {
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
pub(crate) async fn populate(store: &DynamoStore, visitors_per_minute: u64, now: DateTime<Utc>) -> Populated {
    let config = AggregateConfig::default();
    let sizing = sizing(store.clone());
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

    let sizes = sizing.hooks.sizes.into_inner().expect("sizes lock");
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
pub(crate) async fn put_recent_events(store: &DynamoStore, traffic: &mut Traffic, visitors: u64, now: DateTime<Utc>) {
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
pub(crate) enum Slot {
    Counts,
    Part(usize),
    Bucket(u8),
}

/// A rollup store, recording the DynamoDB size of every rollup item it writes, and the write and read
/// units its calls cost. Reading the items back instead (a Scan) would cost moto minutes at the highest
/// traffic level.
pub(crate) type SizingStore<S> = HookedRollups<S, Sizing>;

pub(crate) fn sizing<S: RollupStore>(store: S) -> SizingStore<S> {
    HookedRollups::new(store, Sizing::default())
}

#[derive(Default)]
pub(crate) struct Sizing {
    pub(crate) sizes: Mutex<BTreeMap<(RollupKey, Slot), usize>>,
    pub(crate) units: Mutex<Units>,
    /// The writes in flight, sized once before they reach the store (to refuse those over 400 KB) and
    /// priced once it has answered.
    in_flight: Mutex<BTreeMap<(RollupKey, Slot), usize>>,
}

impl Sizing {
    /// The units spent since the last call.
    pub(crate) fn take_units(&self) -> Units {
        std::mem::take(&mut *self.units.lock().expect("units lock"))
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

impl RollupHooks for Sizing {
    async fn before(&self, call: &RollupCall<'_>) -> Result<(), StoreError> {
        let sizes = self.sizes.lock().expect("sizes lock");
        let read = match *call {
            RollupCall::LoadMinute { key } => Some((
                sizes
                    .iter()
                    .filter(|((stored, slot), _)| stored == key && !matches!(slot, Slot::Bucket(_)))
                    .map(|(_, size)| size)
                    .sum(),
                None,
            )),
            RollupCall::LoadBucket { key, index } => Some((
                sizes
                    .get(&(key.clone(), Slot::Bucket(index)))
                    .copied()
                    .unwrap_or_default(),
                Some(Slot::Bucket(index)),
            )),
            _ => None,
        };
        drop(sizes);
        if let Some((bytes, slot)) = read {
            self.read(bytes, slot);
        }
        let Some((slot, size)) = write_size(call) else {
            return Ok(());
        };
        // DynamoDB refuses an item over 400 KB; the fold then gives the minute up.
        if size > MAX_ITEM_BYTES {
            return Err(StoreError::Rejected(
                format!("an item of {size} bytes is over DynamoDB's 400 KB").into(),
            ));
        }
        self.in_flight
            .lock()
            .expect("in-flight lock")
            .insert((call.key().clone(), slot), size);
        Ok(())
    }

    /// A write of this size: a conditional write costs its units even when its condition fails.
    fn after_write(&self, call: &RollupCall<'_>, outcome: SaveOutcome) {
        let Some(slot) = slot_of(call) else {
            return;
        };
        let Some(size) = self
            .in_flight
            .lock()
            .expect("in-flight lock")
            .remove(&(call.key().clone(), slot))
        else {
            return;
        };
        let mut spent = self.units.lock().expect("units lock");
        spent.write += size.div_ceil(1024);
        if matches!(slot, Slot::Bucket(_)) {
            spent.bucket_write += size.div_ceil(1024);
        }
        drop(spent);
        if outcome == SaveOutcome::Saved {
            self.sizes
                .lock()
                .expect("sizes lock")
                .insert((call.key().clone(), slot), size);
        }
    }
}

/// DynamoDB's largest item.
const MAX_ITEM_BYTES: usize = 400 * 1024;

/// The slot a write goes to.
fn slot_of(call: &RollupCall<'_>) -> Option<Slot> {
    match *call {
        RollupCall::SavePart { index, .. } => Some(Slot::Part(index)),
        RollupCall::SaveBucket { index, .. } => Some(Slot::Bucket(index)),
        RollupCall::SaveCounts { .. } => Some(Slot::Counts),
        RollupCall::LoadMinute { .. } | RollupCall::LoadBucket { .. } => None,
    }
}

/// The slot a write goes to and the size of its item, as the adapter writes it.
fn write_size(call: &RollupCall<'_>) -> Option<(Slot, usize)> {
    let slot = slot_of(call)?;
    let item = match *call {
        RollupCall::SavePart {
            key,
            index,
            part,
            expires_at,
        } => pulse_dynamodb::part_item(key, index, part, expires_at),
        RollupCall::SaveBucket {
            key,
            index,
            bucket,
            expires_at,
        } => bucket_item(key, index, bucket, expires_at),
        RollupCall::SaveCounts {
            key,
            counts,
            expires_at,
        } => pulse_dynamodb::counts_item(key, counts, expires_at).expect("counts convert to an item"),
        RollupCall::LoadMinute { .. } | RollupCall::LoadBucket { .. } => return None,
    };
    Some((slot, item_size(&item)))
}

/// A fingerprint bucket item as the adapter writes it (`rollups.rs`): the totals' attributes, the
/// fingerprints as `f`, the keys and `ttl`.
pub(crate) fn bucket_item(
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
    item.insert("pk".into(), AttributeValue::S(keys::spread_pk(&key.site, key.spread)));
    item.insert(
        "sk".into(),
        AttributeValue::S(keys::rollup_bucket_sk(key.minute, index)),
    );
    item.insert("ttl".into(), AttributeValue::N(expires_at.timestamp().to_string()));
    item
}

/// A site's realtime queries, with the request counter of the store's client.
pub(crate) struct Query<'a> {
    pub(crate) service: &'a RealtimeService<DynamoStore>,
    pub(crate) counter: &'a RequestCounter,
    pub(crate) site: &'a SiteId,
    pub(crate) token: &'a str,
}

impl Query<'_> {
    /// The first query reads the site from the registry; later ones find it in the cache, as in a
    /// warm Lambda. This one reads as little else as possible: one minute, no feed.
    pub(crate) async fn warm_site_cache(&self, now: DateTime<Utc>) {
        let params = RealtimeParams {
            minutes: 1,
            events: 0,
            ..RealtimeParams::default()
        };
        self.view(&params, now).await;
    }

    /// Times the view a dashboard asks for (default limit and feed length) over a window.
    pub(crate) async fn measure(&self, minutes: u32, now: DateTime<Utc>) -> Timed {
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
    pub(crate) async fn view(&self, params: &RealtimeParams, now: DateTime<Utc>) -> usize {
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
pub(crate) struct RequestCounter(pub(crate) Arc<AtomicUsize>);

impl RequestCounter {
    /// The count so far, resetting it.
    pub(crate) fn take(&self) -> usize {
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
pub(crate) async fn counted_client(endpoint: &str, counter: &RequestCounter) -> Client {
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
pub(crate) fn item_size(item: &HashMap<String, AttributeValue>) -> usize {
    item.iter().map(|(name, value)| name.len() + value_size(value)).sum()
}

pub(crate) fn value_size(value: &AttributeValue) -> usize {
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
pub(crate) fn number_size(number: &str) -> usize {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len().max(1);
    significant.div_ceil(2) + 1
}
