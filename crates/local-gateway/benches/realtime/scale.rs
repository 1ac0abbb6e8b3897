//! `make scale`: one site at 10,000 events a second for a minute, in memory through the real fold code
//! and the adapter's item shapes (no moto: its throughput would be what is measured). What each
//! partition key is asked for per second against DynamoDB's 1,000 WCU and 3,000 RCU, the largest item
//! against its 400 KB, and whether the counts still equal the truth: first with the site on one
//! partition key (what a site has by default), then spread over the keys `pulse-admin site spread`
//! gives it, each spread folded on its own as its stream shard would.

use std::collections::{BTreeMap, HashSet};

use pulse_core::spread::{Spread, Spreads};

use super::*;

/// Events a second of the one site.
const RATE: usize = 10_000;
/// Distinct visitors in the minute.
const VISITORS: u64 = 400_000;
/// DynamoDB's per-partition limits.
const PARTITION_WCU: usize = 1_000;
const PARTITION_RCU: usize = 3_000;
/// The spreads the capacity rule gives a site at `RATE`: one per 500 events a second.
const SPREADS: u8 = (RATE / 500) as u8;
/// The other rates the cost per million events is measured at (10,000 is the run above), each with
/// 40 visitors a minute per event a second, as at `RATE`.
const COST_RATES: [usize; 2] = [10, 1_000];

pub(crate) async fn bench_scale() {
    println!("one site at {RATE} events/s for 60 s, {VISITORS} visitors, folded in 1-second batches …");
    let now = Utc::now();
    let mut at_rate = None;
    for spreads in [1, SPREADS] {
        let measured = measure_minute(RATE, VISITORS, spreads, now).await;
        println!();
        println!("### {spreads} spread(s)");
        measured.print();
        at_rate = Some(measured);
    }
    let mut by_rate = Vec::new();
    for rate in COST_RATES {
        let spreads = u8::try_from(rate.div_ceil(500)).expect("at most 64 spreads");
        by_rate.push(measure_minute(rate, rate as u64 * 40, spreads, now).await);
    }
    by_rate.extend(at_rate);
    super::costs::print(&by_rate);
}

/// One minute of one site at `rate` events a second from `visitors` visitors, spread over `spreads`
/// keys, folded per spread in one-second batches.
async fn measure_minute(rate: usize, visitors: u64, spreads: u8, now: DateTime<Utc>) -> Measured {
    let minute = Minute::of(now).plus(-1);
    let mut traffic = Traffic::new(site_id("scale"));
    let mut events = traffic.minute_events(minute, 0..visitors, rate * 60);
    events.sort_by_key(|event| event.ts);
    let schedule = Spreads::default()
        .change_at(spreads, minute.plus(-1), now)
        .expect("a valid number of spreads");
    for event in &mut events {
        event.spread = schedule.of(event);
    }
    run(&mut traffic, &events, minute, now).await
}

/// Units one partition key was asked for in each second of the minute.
#[derive(Default)]
struct PerKey(BTreeMap<Spread, Vec<usize>>);

impl PerKey {
    fn add(&mut self, spread: Spread, second: usize, units: usize) {
        let seconds = self.0.entry(spread).or_insert_with(|| vec![0; 60]);
        seconds[second] += units;
    }

    /// The most any key was asked for in any second.
    fn worst(&self) -> usize {
        self.0.values().flatten().copied().max().unwrap_or_default()
    }

    /// What all keys were asked for in the minute: what is billed.
    fn total(&self) -> usize {
        self.0.values().flatten().sum()
    }
}

/// What a minute of one site asked of DynamoDB, and what it counted.
pub(crate) struct Measured {
    pub(crate) rate: usize,
    pub(crate) spreads: usize,
    pub(crate) events: usize,
    raw_wcu: PerKey,
    rollup_wcu: PerKey,
    rollup_rcu: PerKey,
    /// Aggregate invocations: one per spread with events in each second.
    pub(crate) folds: usize,
    pub(crate) fold_time: Duration,
    largest: usize,
    rejected: usize,
    failed: usize,
    counted: (u64, usize),
    truth: (u64, usize),
}

impl Measured {
    pub(crate) fn raw_wcu(&self) -> usize {
        self.raw_wcu.total()
    }

    pub(crate) fn rollup_wcu(&self) -> usize {
        self.rollup_wcu.total()
    }

    pub(crate) fn rollup_rcu(&self) -> usize {
        self.rollup_rcu.total()
    }
}

async fn run(traffic: &mut Traffic, events: &[StoredEvent], minute: Minute, now: DateTime<Utc>) -> Measured {
    let expires_at = now + chrono::Duration::days(1);
    let store = sizing(MemoryStore::default());
    let (mut raw_wcu, mut rollup_wcu, mut rollup_rcu) = (PerKey::default(), PerKey::default(), PerKey::default());
    let (mut rejected, mut failed, mut fold_time, mut folds) = (0, 0, Duration::ZERO, 0);
    for second in 0..60 {
        let mut per_spread: BTreeMap<Spread, Vec<StoredEvent>> = BTreeMap::new();
        for event in events_in_second(events, minute, second as i64) {
            // Collect's writes: one item per event, under its spread's partition key.
            let units =
                item_size(&pulse_dynamodb::event_item(&event, expires_at).expect("an event item")).div_ceil(1024);
            raw_wcu.add(event.spread, second, units);
            per_spread.entry(event.spread).or_default().push(event);
        }
        // Each spread's batch folded on its own, as the shard holding its key delivers it.
        for (spread, in_second) in per_spread {
            folds += 1;
            let (batch, records) = traffic.as_stream(in_second);
            store.hooks.take_units();
            let started = Instant::now();
            let report = fold_batch(&store, &AggregateConfig::default(), &batch, records, now).await;
            fold_time += started.elapsed();
            rejected += report.rejected;
            failed += report.failed.len();
            let units = store.hooks.take_units();
            rollup_wcu.add(spread, second, units.write);
            rollup_rcu.add(spread, second, units.read);
        }
    }

    let truth_pageviews = events.iter().filter(|e| e.kind() == EventKind::Pageview).count() as u64;
    let truth_visitors = events.iter().map(|e| e.visitor.as_str()).collect::<HashSet<_>>().len();
    let largest = store
        .hooks
        .sizes
        .lock()
        .expect("sizes lock")
        .values()
        .copied()
        .max()
        .unwrap_or_default();
    let rollups = store.store.rollups.lock().expect("rollups lock");
    let counted_pageviews: u64 = rollups.values().map(|rollup| rollup.counts.pageviews).sum();
    // A visitor's events may be in several spreads: the view merges them by key, and so does this.
    let counted_visitors = rollups
        .values()
        .flat_map(|rollup| rollup.visitors().into_keys())
        .collect::<HashSet<_>>()
        .len();
    let spreads = raw_wcu.0.len();
    Measured {
        rate: events.len() / 60,
        spreads,
        events: events.len(),
        raw_wcu,
        rollup_wcu,
        rollup_rcu,
        folds,
        fold_time,
        largest,
        rejected,
        failed,
        counted: (counted_pageviews, counted_visitors),
        truth: (truth_pageviews, truth_visitors),
    }
}

impl Measured {
    fn print(&self) {
        let share = |units: usize, limit: usize| units as f64 / limit as f64 * 100.0;
        println!();
        println!("| partition key (worst key, worst second) | asked | limit | share | all keys, the minute |");
        println!("|---|---:|---:|---:|---:|");
        let rows = [
            (
                "events table (collect's raw events)",
                &self.raw_wcu,
                PARTITION_WCU,
                "WCU",
            ),
            (
                "rollup table (the fold's writes)",
                &self.rollup_wcu,
                PARTITION_WCU,
                "WCU",
            ),
            (
                "rollup table (the fold's reads)",
                &self.rollup_rcu,
                PARTITION_RCU,
                "RCU",
            ),
        ];
        for (key, units, limit, unit) in rows {
            let asked = units.worst();
            println!(
                "| {key} | {asked} {unit} | {limit} {unit} | {:.0}% | {} {unit} |",
                share(asked, limit),
                units.total()
            );
        }
        println!();
        println!(
            "largest rollup item {:.0} KB (DynamoDB refuses over 400 KB); writes refused for size: {}; failed: {}; \
             fold CPU {:.1} s for the minute, the pricing of each item included",
            kb(self.largest),
            self.rejected,
            self.failed,
            self.fold_time.as_secs_f64()
        );
        let ((counted_pageviews, counted_visitors), (truth_pageviews, truth_visitors)) = (self.counted, self.truth);
        println!(
            "page views counted {counted_pageviews} of {truth_pageviews} ({:+.1}%), visitors counted \
             {counted_visitors} of {truth_visitors}",
            (counted_pageviews as f64 / truth_pageviews as f64 - 1.0) * 100.0
        );
    }
}
