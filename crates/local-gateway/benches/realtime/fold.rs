//! Section 1: fold CPU time.

use super::*;

pub(crate) struct FoldResult {
    pub(crate) events: usize,
    pub(crate) writes: usize,
    pub(crate) median: Duration,
    pub(crate) best: Duration,
    pub(crate) apply_median: Duration,
    /// Write and read units of each one-second batch of a minute at `BATCH_COST_VISITORS_PER_MINUTE`.
    pub(crate) batch_units: Vec<Units>,
}

pub(crate) async fn bench_fold() -> FoldResult {
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
pub(crate) fn time_apply(records: &[StreamEvent]) -> Duration {
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
pub(crate) struct Units {
    pub(crate) write: usize,
    /// Of `write`, the fingerprint buckets'.
    pub(crate) bucket_write: usize,
    pub(crate) read: usize,
    /// Of `read`, the fingerprint buckets' GetItems.
    pub(crate) bucket_read: usize,
}

/// One minute of a site with `BATCH_COST_VISITORS_PER_MINUTE` visitors (a third of them new, as in
/// section 2), delivered as sixty one-second batches: the write and read units each batch costs, by
/// DynamoDB's item-size rules (1 WCU per KB, rounded up per item written; a consistent read 1 RCU per
/// 4 KB, rounded up per GetItem and per Query, at least 1).
pub(crate) async fn batch_units(traffic: &mut Traffic, minute: Minute, now: DateTime<Utc>) -> Vec<Units> {
    let visitors = BATCH_COST_VISITORS_PER_MINUTE;
    let mut events = traffic.minute_events(minute, 0..visitors, (visitors + visitors / 2) as usize);
    events.sort_by_key(|event| event.ts);
    let store = sizing(MemoryStore::default());
    let mut units = Vec::new();
    for second in 0..60 {
        let in_second = events_in_second(&events, minute, second);
        if in_second.is_empty() {
            continue;
        }
        let (batch, records) = traffic.as_stream(in_second);
        store.hooks.take_units();
        let report = fold_batch(&store, &AggregateConfig::default(), &batch, records, now).await;
        assert!(report.failed.is_empty());
        units.push(store.hooks.take_units());
    }
    units
}
