//! The realtime pipeline's pure logic against a brute-force oracle: random event traces are spread over
//! one to three stream shards (each with its own sequence numbers, overlapping the others'), each
//! shard's records delivered in batches (split anywhere, replayed, retried from the middle, out of
//! order), the shards' batches interleaved and folded concurrently into rollups (through their stored
//! encoding, with minutes spilling over several parts, and writes failing between a minute's parts,
//! fingerprint buckets and counts), and the view built from the rollups must equal the view computed
//! directly from the raw events: every event counted exactly once, whether stored with a keyed
//! fingerprint or, written before those, without one, and whichever of the site's spreads it is in
//! (the number of spreads changes in the middle of every trace).

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::collection::vec;
use proptest::prelude::*;
use pulse_core::enrich::Salt;
use pulse_core::goal::{Goal, GoalName, GoalRule};
use pulse_core::hooked::{HookedRollups, RollupCall, RollupHooks};
use pulse_core::memory::MemoryStore;
use pulse_core::realtime::aggregate::{AggregateConfig, RollupKey, RollupStore, StreamEvent, fold_batch};
use pulse_core::realtime::view::{FeedEvent, RealtimeParams, Window, build_view};
use pulse_core::realtime::{Fingerprint, FingerprintBucket, Minute, SequenceNumber, SequenceRange, Stamp};
use pulse_core::spread::Spreads;
use pulse_core::{EventKind, RealtimeStore, SiteId, StoreError, StoredEvent};
use serde_json::{Value, json};

const PATHS: [&str; 5] = ["/", "/pricing", "/docs", "/blog/post", "/signup"];
const COUNTRIES: [Option<&str>; 4] = [None, Some("US"), Some("DE"), Some("JP")];
const REFERRERS: [Option<&str>; 3] = [None, Some("news.ycombinator.com"), Some("www.google.com")];

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 15, 10, 30, 42).unwrap()
}

#[derive(Debug, Clone)]
struct Spec {
    /// The stream shard the event's record arrives on (modulo the number of shards).
    shard: usize,
    visitor: usize,
    seconds_ago: i64,
    kind: u8,
    path: usize,
    country: usize,
    referrer: usize,
}

impl Spec {
    /// A page view of `path` on shard 0 from country 1, without referrer.
    fn page_view(visitor: usize, seconds_ago: i64, path: usize) -> Self {
        Self {
            shard: 0,
            visitor,
            seconds_ago,
            kind: 0,
            path,
            country: 1,
            referrer: 0,
        }
    }

    /// The same visitor's page view of path 0 from country 0, on shard `shard`.
    fn on_shard(shard: usize, seconds_ago: i64) -> Self {
        Self {
            shard,
            visitor: shard,
            seconds_ago,
            kind: 0,
            path: 0,
            country: 0,
            referrer: 0,
        }
    }
}

fn event_strategy() -> impl Strategy<Value = Spec> {
    // Up to 40 minutes back: some events are outside every window, some older than the rollup TTL.
    (
        0..3usize,
        0..12usize,
        0..2_400i64,
        0..10u8,
        0..PATHS.len(),
        0..COUNTRIES.len(),
        0..REFERRERS.len(),
    )
        .prop_map(|(shard, visitor, seconds_ago, kind, path, country, referrer)| Spec {
            shard,
            visitor,
            seconds_ago,
            kind,
            path,
            country,
            referrer,
        })
}

fn visitor_id(index: usize) -> String {
    format!("{:02x}{:030x}", (index * 97) % 256, index)
}

/// Goals of every rule kind; the events that match them carry their conversions, as collect records them.
fn goals() -> Vec<Goal> {
    let goal = |name: &str, rule: GoalRule, value: Option<f64>| Goal {
        name: GoalName::parse(name).unwrap(),
        rule,
        value,
    };
    vec![
        goal(
            "signed up",
            GoalRule::Event {
                name: "signup".into(),
                property: None,
            },
            Some(10.0),
        ),
        goal("signup page", GoalRule::Page { path: "/signup".into() }, None),
        goal("docs", GoalRule::PagePrefix { prefix: "/d".into() }, Some(1.5)),
    ]
}

fn build_event(index: usize, spec: &Spec) -> StoredEvent {
    let mut event = build_raw_event(index, spec);
    event.goals = pulse_core::goal::conversions(&goals(), &event);
    event
}

fn build_raw_event(index: usize, spec: &Spec) -> StoredEvent {
    let kind = match spec.kind {
        0..=6 => EventKind::Pageview,
        7 | 8 => EventKind::Event,
        _ => EventKind::Outbound,
    };
    // Several events may share a millisecond: of those, the greater value is the latest.
    let ts = now() - Duration::seconds(spec.seconds_ago);
    let mut event = pulse_core::memory::sample_event(kind, &format!("e{index:05}"), ts);
    event.visitor = visitor_id(spec.visitor);
    event.path = PATHS[spec.path].into();
    event.referrer = REFERRERS[spec.referrer].map(str::to_owned);
    event.country = COUNTRIES[spec.country].map(str::to_owned);
    // Collect stores a keyed fingerprint with each event; every third one was written before it did
    // (a deploy in the middle of a minute), and is counted under its unkeyed fingerprint.
    if !index.is_multiple_of(3) {
        let key = Salt::from_hex("000102030405060708090a0b0c0d0e0f")
            .unwrap()
            .fingerprint_key();
        event.fingerprint = Some(Fingerprint::keyed(&key, &event));
    }
    event
}

/// The site's spreads: one until 20 minutes ago, four since, so traces cross a change and every
/// window reads spread rollups merged.
fn spreads() -> Spreads {
    let changed_at = now() - Duration::minutes(20);
    Spreads::default()
        .change_at(4, Minute::of(changed_at), changed_at)
        .unwrap()
}

/// The events in stream order, each with its sequence number.
fn stream_of(specs: &[Spec]) -> Vec<StreamEvent> {
    specs
        .iter()
        .enumerate()
        .map(|(i, spec)| StreamEvent {
            sequence: sequence(i),
            event: build_event(i, spec),
        })
        .collect()
}

/// The events spread over `shards` stream shards, as when DynamoDB splits a site's hot key range: each
/// shard's records in order with sequence numbers of its own, which overlap the other shards' (a
/// stretch of one shard says nothing about another's records).
fn shard_streams(specs: &[Spec], shards: usize) -> Vec<Vec<StreamEvent>> {
    let mut streams = vec![Vec::new(); shards];
    for (i, spec) in specs.iter().enumerate() {
        let stream: &mut Vec<StreamEvent> = &mut streams[spec.shard % shards];
        stream.push(StreamEvent {
            sequence: sequence(stream.len()),
            event: build_event(i, spec),
        });
    }
    streams
}

fn sequence(position: usize) -> SequenceNumber {
    // Realistic width: 21 digits, increasing along the stream.
    SequenceNumber::parse(&format!("{:021}", 4_000_000_000_000_000_000u64 + position as u64 * 7)).unwrap()
}

/// How the stream is delivered: contiguous batches, each possibly delivered twice, retried from a
/// middle record, or swapped with the next one.
#[derive(Debug, Clone)]
enum Delivery {
    Once,
    Replayed,
    RetriedFrom(usize),
    SwappedWithNext,
}

fn delivery_strategy() -> impl Strategy<Value = Delivery> {
    prop_oneof![
        4 => Just(Delivery::Once),
        1 => Just(Delivery::Replayed),
        1 => (0..50usize).prop_map(Delivery::RetriedFrom),
        1 => Just(Delivery::SwappedWithNext),
    ]
}

/// Brute force straight from the raw events, as the public JSON.
fn oracle(events: &[StoredEvent], params: &RealtimeParams) -> Value {
    let window = Window::ending_at(now(), params.minutes);
    let in_window: Vec<&StoredEvent> = events.iter().filter(|e| window.contains(Minute::of(e.ts))).collect();
    let visitors: HashSet<&str> = in_window.iter().map(|e| e.visitor.as_str()).collect();
    // For each visitor, the value of their latest event that has one (of equal stamps, the greater
    // value); then visitors per value.
    let latest = |key: &str, pick: &dyn Fn(&StoredEvent) -> Option<String>| -> Vec<Value> {
        let mut per_visitor: HashMap<&str, (Stamp, String)> = HashMap::new();
        for event in &in_window {
            let Some(value) = pick(event) else { continue };
            let stamp = Stamp::of(event);
            match per_visitor.get(event.visitor.as_str()) {
                Some(seen) if (seen.0, &seen.1) >= (stamp, &value) => {}
                _ => {
                    per_visitor.insert(&event.visitor, (stamp, value));
                }
            }
        }
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for (_, value) in per_visitor.into_values() {
            *counts.entry(value).or_default() += 1;
        }
        let mut counts: Vec<(String, usize)> = counts.into_iter().collect();
        counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        counts.truncate(params.limit);
        counts
            .into_iter()
            .map(|(value, visitors)| json!({ key: value, "visitors": visitors }))
            .collect()
    };
    let timeline: Vec<Value> = window
        .first
        .through(window.last)
        .map(|minute| {
            let of_minute: Vec<&&StoredEvent> = in_window.iter().filter(|e| Minute::of(e.ts) == minute).collect();
            let distinct: HashSet<&str> = of_minute.iter().map(|e| e.visitor.as_str()).collect();
            let pageviews = of_minute.iter().filter(|e| e.kind() == EventKind::Pageview).count();
            json!({ "minute": minute.to_string(), "visitors": distinct.len(), "pageViews": pageviews })
        })
        .collect();
    let mut recent = in_window.clone();
    recent.sort_by(|a, b| (b.ts, b.id.as_str()).cmp(&(a.ts, a.id.as_str())));
    let feed: Vec<Value> = recent
        .iter()
        .flat_map(|e| FeedEvent::entries_of(e).into_iter().rev())
        .take(params.events)
        .map(|entry| serde_json::to_value(entry).unwrap())
        .collect();
    // Per goal: conversions, their value, distinct converting visitors; rate over current visitors.
    let mut per_goal: BTreeMap<String, (u64, f64, HashSet<&str>)> = BTreeMap::new();
    for event in &in_window {
        for hit in &event.goals {
            let entry = per_goal.entry(hit.goal.to_string()).or_default();
            entry.0 += 1;
            entry.1 += hit.value.unwrap_or_default();
            entry.2.insert(&event.visitor);
        }
    }
    let mut goal_list: Vec<(String, u64, f64, usize)> = per_goal
        .into_iter()
        .map(|(goal, (conversions, value, converting))| (goal, conversions, value, converting.len()))
        .collect();
    goal_list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let goals_json: Vec<Value> = goal_list
        .into_iter()
        .map(|(goal, conversions, value, converting)| {
            let rate = if visitors.is_empty() { 0.0 } else { converting as f64 / visitors.len() as f64 };
            json!({"goal": goal, "conversions": conversions, "visitors": converting, "value": value, "conversionRate": rate})
        })
        .collect();
    json!({
        "siteId": "demo",
        "minutes": params.minutes,
        "generatedAt": pulse_core::time::iso_millis(now()),
        "currentVisitors": visitors.len(),
        "pageViews": in_window.iter().filter(|e| e.kind() == EventKind::Pageview).count(),
        "activePages": latest("path", &|e| (e.kind() == EventKind::Pageview).then(|| e.path.clone())),
        "countries": latest("country", &|e| e.country.clone()),
        "referrers": latest("referrer", &|e| e.referrer.clone()),
        "timeline": timeline,
        "goals": goals_json,
        "recentEvents": feed,
    })
}

/// Contiguous batches of the stream, delivered as `deliveries` says.
fn delivery_plan(stream: &[StreamEvent], sizes: &[usize], deliveries: &[Delivery]) -> Vec<Vec<StreamEvent>> {
    let mut batches = Vec::new();
    let mut start = 0;
    for size in sizes.iter().cycle() {
        if start >= stream.len() {
            break;
        }
        let end = (start + size).min(stream.len());
        batches.push(stream[start..end].to_vec());
        start = end;
    }
    let mut plan = Vec::new();
    let mut index = 0;
    while index < batches.len() {
        let batch = &batches[index];
        match &deliveries[index % deliveries.len()] {
            Delivery::Once => plan.push(batch.clone()),
            Delivery::Replayed => {
                plan.push(batch.clone());
                plan.push(batch.clone());
            }
            Delivery::RetriedFrom(from) => {
                plan.push(batch.clone());
                plan.push(batch[from % batch.len()..].to_vec());
            }
            Delivery::SwappedWithNext if index + 1 < batches.len() => {
                plan.push(batches[index + 1].clone());
                plan.push(batch.clone());
                index += 1;
            }
            Delivery::SwappedWithNext => plan.push(batch.clone()),
        }
        index += 1;
    }
    plan
}

fn range_of(batch: &[StreamEvent]) -> SequenceRange {
    SequenceRange {
        first: batch[0].sequence.clone(),
        last: batch[batch.len() - 1].sequence.clone(),
    }
}

async fn fold_all<S: RollupStore>(store: &S, config: &AggregateConfig, plan: Vec<Vec<StreamEvent>>) {
    for mut batch in plan {
        // As Lambda does with reported failures: again from the first failed record, until it passes.
        loop {
            let report = fold_batch(store, config, &range_of(&batch), batch.clone(), now()).await;
            let Some(first_failed) = report.failed.iter().min() else {
                break;
            };
            let from = batch.iter().position(|r| &r.sequence == first_failed).unwrap();
            batch.drain(..from);
        }
    }
}

/// Folds each shard's plan in order, the shards side by side: in each round the shards that `rounds`
/// names (a bit per shard) fold their next batch concurrently, their loads and writes interleaving;
/// once `rounds` is used up, every shard with batches left takes part in every round. As Lambda does,
/// a shard retries a batch from its first failed record before it moves on, while the others go on.
async fn fold_shards<S: RollupStore>(
    store: &S,
    config: &AggregateConfig,
    plans: Vec<Vec<Vec<StreamEvent>>>,
    rounds: &[u8],
) {
    let mut queues: Vec<std::collections::VecDeque<Vec<StreamEvent>>> = plans.into_iter().map(Into::into).collect();
    let mut round = 0;
    while queues.iter().any(|queue| !queue.is_empty()) {
        let mask = rounds.get(round).copied().unwrap_or(u8::MAX);
        round += 1;
        let folds = queues
            .iter_mut()
            .enumerate()
            .filter(|(shard, _)| mask & (1 << shard) != 0)
            .filter_map(|(_, queue)| queue.pop_front())
            .map(|batch| fold_all(store, config, vec![batch]));
        futures::future::join_all(folds).await;
    }
}

/// Gives way to the other folds running on the same thread `times` times, so that their loads and
/// writes interleave with this one's.
async fn give_way(times: usize) {
    for _ in 0..times {
        let mut yielded = false;
        std::future::poll_fn(|cx| {
            if yielded {
                std::task::Poll::Ready(())
            } else {
                yielded = true;
                cx.waker().wake_by_ref();
                std::task::Poll::Pending
            }
        })
        .await;
    }
}

/// Faults injected into the in-memory store's rollup writes: `fault` sees each write's key and its
/// number (from 1) and may fail it. Before each call the store gives way to concurrent folds as often as
/// `pauses` says (cyclically; empty: never), so that concurrent folds interleave in varied ways.
struct Faults<F> {
    fault: F,
    writes: std::sync::atomic::AtomicUsize,
    pauses: Vec<u8>,
    calls: std::sync::atomic::AtomicUsize,
}

type FaultyStore<F> = HookedRollups<MemoryStore, Faults<F>>;

fn faulty<F: Fn(&RollupKey, usize) -> Option<StoreError> + Send + Sync>(
    inner: MemoryStore,
    fault: F,
) -> FaultyStore<F> {
    let faults = Faults {
        fault,
        writes: Default::default(),
        pauses: Vec::new(),
        calls: Default::default(),
    };
    HookedRollups::new(inner, faults)
}

impl<F: Fn(&RollupKey, usize) -> Option<StoreError> + Send + Sync> RollupHooks for Faults<F> {
    async fn before(&self, call: &RollupCall<'_>) -> Result<(), StoreError> {
        if !self.pauses.is_empty() {
            let n = self.calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            give_way(self.pauses[n % self.pauses.len()].into()).await;
        }
        if !call.is_write() {
            return Ok(());
        }
        let n = self.writes.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        (self.fault)(call.key(), n).map_or(Ok(()), Err)
    }
}

/// Every `fail_every`-th of the first rollup writes fails as a timeout or throttling would (0: none),
/// leaving a minute's parts written and its counts not. Only among the first writes: a store that fails
/// in step with the fold's retries forever would stall it, which is a different test.
fn flaky(fail_every: usize) -> impl Fn(&RollupKey, usize) -> Option<StoreError> + Send + Sync {
    move |_, n| {
        (fail_every > 0 && n.is_multiple_of(fail_every) && n < 60)
            .then(|| StoreError::Unavailable("injected failure".into()))
    }
}

async fn view_from_rollups(store: &MemoryStore, params: &RealtimeParams) -> Value {
    let site = SiteId::parse("demo").unwrap();
    let window = Window::ending_at(now(), params.minutes);
    let spreads = spreads().in_use();
    let rollups = store.rollups(&site, &spreads, window.first, window.last).await.unwrap();
    let recent = store
        .recent_events(&site, &spreads, window.starts_at(), params.events)
        .await
        .unwrap();
    serde_json::to_value(build_view(&site, params, now(), rollups, &recent)).unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().build().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn rollups_read_back_equal_brute_force(
        specs in vec(event_strategy(), 1..90),
        shards in 1..=3usize,
        sizes in vec(1..15usize, 1..12),
        deliveries in vec(delivery_strategy(), 1..12),
        rounds in vec(1..8u8, 0..24),
        pauses in vec(0..3u8, 0..8),
        // From a part per visitor (every minute spills) to one part for all.
        part_limit_bytes in prop_oneof![40..400usize, Just(350 * 1024)],
        fail_every in prop_oneof![Just(0usize), 2..7usize],
        minutes in 1..=30u32,
        limit in 1..6usize,
        events in 0..15usize,
    ) {
        let mut streams = shard_streams(&specs, shards);
        // Placed as collect places them; a spread's records may be on any shard (the harder case).
        for record in streams.iter_mut().flatten() {
            record.event.spread = spreads().of(&record.event);
        }
        let raw: Vec<StoredEvent> = streams.iter().flatten().map(|record| record.event.clone()).collect();
        let mut store = faulty(MemoryStore::default(), flaky(fail_every));
        store.hooks.pauses = pauses;
        store.store.events.lock().unwrap().extend(raw.iter().cloned());
        let config = AggregateConfig { part_limit_bytes, ..AggregateConfig::default() };
        let params = RealtimeParams { minutes, limit, events };
        // Each shard batched and delivered its own way.
        let plans: Vec<Vec<Vec<StreamEvent>>> = streams
            .iter()
            .enumerate()
            .map(|(shard, stream)| {
                let sizes: Vec<usize> = sizes.iter().cycle().skip(shard).take(sizes.len()).copied().collect();
                let deliveries: Vec<Delivery> = deliveries.iter().cycle().skip(shard).take(deliveries.len()).cloned().collect();
                delivery_plan(stream, &sizes, &deliveries)
            })
            .collect();

        let view = runtime().block_on(async {
            fold_shards(&store, &config, plans, &rounds).await;
            view_from_rollups(&store.store, &params).await
        });
        prop_assert_eq!(view, oracle(&raw, &params));
    }
}

#[test]
fn replaying_a_batch_changes_no_rollup_and_writes_nothing() {
    let specs: Vec<Spec> = (0..40)
        .map(|i| Spec {
            shard: 0,
            visitor: i % 7,
            seconds_ago: (i as i64 * 37) % 600,
            kind: (i % 10) as u8,
            path: i % 5,
            country: i % 4,
            referrer: i % 3,
        })
        .collect();
    let stream = stream_of(&specs);
    // Records stored with a keyed fingerprint and records from before them, in the same minutes.
    assert!(stream.iter().any(|record| record.event.fingerprint.is_some()));
    assert!(stream.iter().any(|record| record.event.fingerprint.is_none()));
    let store = MemoryStore::default();
    let config = AggregateConfig {
        part_limit_bytes: 200,
        ..AggregateConfig::default()
    };
    runtime().block_on(async {
        let report = fold_batch(&store, &config, &range_of(&stream), stream.clone(), now()).await;
        assert!(report.writes > 0 && report.failed.is_empty());
        let rollups = store.rollups.lock().unwrap().clone();
        let buckets = store.buckets.lock().unwrap().clone();
        let writes = store.rollup_writes.load(std::sync::atomic::Ordering::Relaxed);

        let replay = fold_batch(&store, &config, &range_of(&stream), stream.clone(), now()).await;
        assert_eq!(replay.writes, 0);
        let overlap = fold_batch(&store, &config, &range_of(&stream[17..]), stream[17..].to_vec(), now()).await;
        assert_eq!(overlap.writes, 0);
        assert_eq!(*store.rollups.lock().unwrap(), rollups);
        assert_eq!(*store.buckets.lock().unwrap(), buckets);
        assert_eq!(store.rollup_writes.load(std::sync::atomic::Ordering::Relaxed), writes);
    });
}

#[test]
fn one_write_per_part_bucket_and_counts_per_batch_however_many_page_views() {
    // 500 page views of 3 visitors over 30 seconds of one minute fold into one visitor part, the six
    // fingerprint buckets of those seconds and the counts.
    let specs: Vec<Spec> = (0..500)
        .map(|i| Spec::page_view(i % 3, 2 + (i as i64 % 30), i % 5))
        .collect();
    let stream = stream_of(&specs);
    let store = MemoryStore::default();
    let report = runtime().block_on(fold_batch(
        &store,
        &AggregateConfig::default(),
        &range_of(&stream),
        stream,
        now(),
    ));
    assert_eq!(report.writes, 1 + 6 + 1);
    let rollups = store.rollups.lock().unwrap();
    let rollup = rollups.values().next().unwrap();
    assert_eq!(rollup.counts.pageviews, 500);
    assert_eq!(rollup.counts.buckets.len(), 6);
    assert_eq!(store.buckets.lock().unwrap().len(), 6);
    assert_eq!(rollup.parts.len(), 1);
    assert_eq!(rollup.visitors().len(), 3);
}

/// A write the store refuses as invalid is not retried: the batch does not fail (Lambda would retry it
/// and hold up the shard), the refused minute is counted as rejected, and every other minute is folded.
#[test]
fn a_permanently_refused_minute_is_skipped_not_retried() {
    let specs: Vec<Spec> = (0..40)
        .map(|i| Spec::page_view(i % 5, (i as i64 * 13) % 240, i % 5))
        .collect();
    let stream = stream_of(&specs);
    let refused = Minute::of(now());
    // Every write of one minute is refused as invalid: a permanent failure.
    let store = faulty(MemoryStore::default(), |key: &RollupKey, _| {
        (key.minute == refused).then(|| StoreError::Rejected("item too large".into()))
    });
    let report = runtime().block_on(fold_batch(
        &store,
        &AggregateConfig::default(),
        &range_of(&stream),
        stream.clone(),
        now(),
    ));
    assert!(report.failed.is_empty(), "{report:?}");
    assert_eq!(report.rejected, 1);
    let rollups = store.store.rollups.lock().unwrap();
    let minutes: HashSet<Minute> = stream.iter().map(|r| Minute::of(r.event.ts)).collect();
    assert!(minutes.len() > 1);
    for minute in minutes {
        let written = rollups.keys().any(|key| key.minute == minute);
        assert_eq!(written, minute != refused, "{minute}");
    }
}

/// The counts write fails after the bucket's: the bucket holds the events, so a redelivery finds
/// nothing new, and copies the bucket's totals into the counts all the same.
#[test]
fn a_bucket_whose_copy_failed_is_copied_by_the_retry() {
    let specs: Vec<Spec> = (0..5).map(|i| Spec::page_view(0, 2 + i as i64, i % 5)).collect();
    let stream = stream_of(&specs);
    // One visitor part, one bucket (10:30:36–41), then the counts: the third write fails.
    let store = faulty(MemoryStore::default(), |_: &RollupKey, n| {
        (n == 3).then(|| StoreError::Unavailable("injected failure".into()))
    });
    let config = AggregateConfig::default();
    let params = RealtimeParams::default();
    runtime().block_on(async {
        let first = fold_batch(&store, &config, &range_of(&stream), stream.clone(), now()).await;
        assert_eq!((first.writes, first.failed.len()), (0, 1), "{first:?}");
        assert_eq!(store.store.buckets.lock().unwrap().len(), 1);
        assert_eq!(
            store
                .store
                .rollups
                .lock()
                .unwrap()
                .values()
                .next()
                .unwrap()
                .counts
                .pageviews,
            0
        );

        let retry = fold_batch(&store, &config, &range_of(&stream), stream.clone(), now()).await;
        assert_eq!((retry.writes, retry.failed.len()), (1, 0), "{retry:?}");
        let raw: Vec<StoredEvent> = stream.iter().map(|r| r.event.clone()).collect();
        store.store.events.lock().unwrap().extend(raw.iter().cloned());
        assert_eq!(view_from_rollups(&store.store, &params).await, oracle(&raw, &params));
    });
}

/// Two shards' records of one minute with the same sequence numbers: each is counted, once.
#[test]
fn shards_with_overlapping_sequence_numbers_are_each_counted() {
    let spec = Spec::on_shard;
    let specs = [spec(0, 3), spec(0, 2), spec(1, 3), spec(1, 1)];
    let streams = shard_streams(&specs, 2);
    assert_eq!(range_of(&streams[0]), range_of(&streams[1]));
    let store = MemoryStore::default();
    let config = AggregateConfig::default();
    runtime().block_on(async {
        for stream in streams.iter().chain(&streams) {
            fold_batch(&store, &config, &range_of(stream), stream.clone(), now()).await;
        }
    });
    let rollups = store.rollups.lock().unwrap();
    let rollup = rollups.values().next().unwrap();
    assert_eq!(rollup.counts.pageviews, 4);
    assert_eq!(rollup.visitors().len(), 2);
}

/// Serves the buckets as they were at some earlier moment and everything else as it is now: a fold
/// that read a bucket just before a concurrent fold wrote it and the counts.
struct StaleBuckets(BTreeMap<(RollupKey, u8), FingerprintBucket>);

impl RollupHooks for StaleBuckets {
    fn bucket_instead(&self, key: &RollupKey, index: u8) -> Option<Option<FingerprintBucket>> {
        Some(self.0.get(&(key.clone(), index)).cloned())
    }
}

/// A redelivered batch whose fold reads a bucket older than the counts' copy of it (read before another
/// shard's fold wrote both) leaves the newer copy in place.
#[test]
fn a_bucket_read_before_a_concurrent_write_never_takes_the_counts_back() {
    let spec = Spec::on_shard;
    let streams = shard_streams(&[spec(0, 3), spec(1, 2)], 2);
    let config = AggregateConfig::default();
    runtime().block_on(async {
        let store = MemoryStore::default();
        fold_batch(&store, &config, &range_of(&streams[0]), streams[0].clone(), now()).await;
        let before_shard_one = store.buckets.lock().unwrap().clone();
        fold_batch(&store, &config, &range_of(&streams[1]), streams[1].clone(), now()).await;
        let stale = HookedRollups::new(store, StaleBuckets(before_shard_one));
        let replay = fold_batch(&stale, &config, &range_of(&streams[0]), streams[0].clone(), now()).await;
        assert_eq!(replay.writes, 0);
        let rollups = stale.store.rollups.lock().unwrap();
        assert_eq!(rollups.values().next().unwrap().counts.pageviews, 2);
    });
}
