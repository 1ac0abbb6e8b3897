//! `make scale`: one site at 10,000 events a second for a minute, as the present design takes it, in
//! memory through the real fold code and the adapter's item shapes (no moto: its throughput would be
//! what is measured). What each partition key is asked for per second against DynamoDB's 1,000 WCU and
//! 3,000 RCU, the largest item against its 400 KB, and whether the counts still equal the truth. These
//! are the figures a design for that rate is measured against.

use super::*;

/// Events a second of the one site.
const RATE: usize = 10_000;
/// Distinct visitors in the minute.
const VISITORS: u64 = 400_000;
/// DynamoDB's per-partition limits.
const PARTITION_WCU: usize = 1_000;
const PARTITION_RCU: usize = 3_000;

pub(crate) async fn bench_scale() {
    println!("one site at {RATE} events/s for 60 s, {VISITORS} visitors, folded in 1-second batches …");
    let now = Utc::now();
    let minute = Minute::of(now).plus(-1);
    let mut traffic = Traffic::new(site_id("scale"));
    let mut events = traffic.minute_events(minute, 0..VISITORS, RATE * 60);
    events.sort_by_key(|event| event.ts);
    let expires_at = now + chrono::Duration::days(1);

    let store = sizing(MemoryStore::default());
    let (mut raw_wcu, mut rollup_wcu, mut rollup_rcu) = (Vec::new(), Vec::new(), Vec::new());
    let (mut rejected, mut failed, mut fold_time) = (0, 0, Duration::ZERO);
    for second in 0..60 {
        let in_second = events_in_second(&events, minute, second);
        // Collect's writes: one item per event, all under the site's partition key.
        raw_wcu.push(
            in_second
                .iter()
                .map(|event| {
                    item_size(&pulse_dynamodb::event_item(event, expires_at).expect("an event item")).div_ceil(1024)
                })
                .sum::<usize>(),
        );
        let (batch, records) = traffic.as_stream(in_second);
        store.hooks.take_units();
        let started = Instant::now();
        let report = fold_batch(&store, &AggregateConfig::default(), &batch, records, now).await;
        fold_time += started.elapsed();
        rejected += report.rejected;
        failed += report.failed.len();
        let units = store.hooks.take_units();
        rollup_wcu.push(units.write);
        rollup_rcu.push(units.read);
    }

    let truth_pageviews = events.iter().filter(|e| e.kind() == EventKind::Pageview).count() as u64;
    let truth_visitors = events
        .iter()
        .map(|e| e.visitor.as_str())
        .collect::<std::collections::HashSet<_>>()
        .len();
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
    let (counted_pageviews, counted_visitors) = rollups
        .values()
        .map(|rollup| (rollup.counts.pageviews, rollup.visitors().len()))
        .fold((0, 0), |(p, v), (pageviews, visitors)| (p + pageviews, v + visitors));
    let max = |per_second: &[usize]| per_second.iter().copied().max().unwrap_or_default();
    let share = |units: usize, limit: usize| units as f64 / limit as f64 * 100.0;

    println!();
    println!("| partition key (per second, worst second) | asked | limit | share |");
    println!("|---|---:|---:|---:|");
    let rows = [
        (
            "events table, `SITE#scale` (collect's raw events)",
            max(&raw_wcu),
            PARTITION_WCU,
            "WCU",
        ),
        (
            "rollup table, `SITE#scale` (the fold's writes)",
            max(&rollup_wcu),
            PARTITION_WCU,
            "WCU",
        ),
        (
            "rollup table, `SITE#scale` (the fold's reads)",
            max(&rollup_rcu),
            PARTITION_RCU,
            "RCU",
        ),
    ];
    for (key, asked, limit, unit) in rows {
        println!(
            "| {key} | {asked} {unit} | {limit} {unit} | {:.0}% |",
            share(asked, limit)
        );
    }
    println!();
    println!(
        "largest rollup item {:.0} KB (DynamoDB refuses over 400 KB); writes refused for size: {rejected}; \
         failed: {failed}; fold CPU {:.1} s for the minute, the pricing of each item included",
        kb(largest),
        fold_time.as_secs_f64()
    );
    println!(
        "page views counted {counted_pageviews} of {truth_pageviews} ({:+.1}%), visitors counted {counted_visitors} \
         of {truth_visitors}",
        (counted_pageviews as f64 / truth_pageviews as f64 - 1.0) * 100.0
    );
}
