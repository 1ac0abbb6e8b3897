//! Statistics and output.

use super::*;

/// Nearest-rank percentile (`p` from 0 to 1) of the samples.
pub(crate) fn percentile(samples: &[Duration], p: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

pub(crate) fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

pub(crate) fn kb(bytes: usize) -> f64 {
    bytes as f64 / 1024.0
}

/// Eventually consistent read units of the rollup Query: 0.5 per 4 KB read (DynamoDB rounds up
/// per page, so this is a lower bound).
pub(crate) fn read_units(bytes: usize) -> f64 {
    bytes.div_ceil(4096) as f64 / 2.0
}

pub(crate) fn print_summary(fold: &FoldResult, queries: &[QueryResult], visible: &VisibleResult) {
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
