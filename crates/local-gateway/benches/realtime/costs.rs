//! `make scale`'s last table: what a million events cost at 10, 1,000 and 10,000 events a second for
//! one site, from the DynamoDB units the real fold asked for and the request counts the design
//! implies, at on-demand prices in us-east-1 (the same as docs/operations.md). What depends on how
//! many dashboards are open (the broadcast's messages) is given per dashboard.

use super::scale::Measured;

/// DynamoDB on-demand, per write and read request unit.
const WRU: f64 = 0.625e-6;
const RRU: f64 = 0.125e-6;
/// HTTP API, per request; WebSocket API, per message (up to 32 KB).
const HTTP_REQUEST: f64 = 1.00e-6;
const WEBSOCKET_MESSAGE: f64 = 1.00e-6;
/// Lambda on arm64: per request and per GB-second.
const LAMBDA_REQUEST: f64 = 0.20e-6;
const LAMBDA_GB_SECOND: f64 = 0.000_013_333_4;
/// The functions' memory (`FunctionMemorySize`), and the share of a vCPU it buys (one at 1,769 MB).
const MEMORY_GB: f64 = 0.25;
const VCPU_SHARE: f64 = 256.0 / 1769.0;
/// collect's billed time per hit: its conditional PutItem's round trip dominates.
const COLLECT_SECONDS: f64 = 0.010;
/// An aggregate invocation's round trips (a Query, then the writes of a part, a bucket, the counts).
const FOLD_ROUND_TRIPS_SECONDS: f64 = 0.030;
/// A broadcast invocation's billed time besides its posts: the connections Query.
const BROADCAST_SECONDS: f64 = 0.010;
/// Lambda polls a stream shard four times a second; the broadcast waits for no batch to fill.
const SHARD_POLLS_PER_SECOND: f64 = 4.0;
/// The per-site limit's default and the size of the blocks collect claims (`pulse_core::rate`).
const SITE_LIMIT: f64 = 200.0;

pub(crate) fn print(runs: &[Measured]) {
    println!();
    println!("### Cost per million events, one site (on-demand, us-east-1)");
    println!();
    println!(
        "| events/s | spreads | HTTP API | collect λ | raw writes + rate counter | fold writes / reads | \
         aggregate λ | broadcast λ + connections Query | total | + per open dashboard |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for run in runs {
        let per_event = |units: usize| units as f64 / run.events as f64;
        let million = 1e6;
        let rate = run.rate as f64;
        let http = HTTP_REQUEST * million;
        let collect = (LAMBDA_REQUEST + COLLECT_SECONDS * MEMORY_GB * LAMBDA_GB_SECOND) * million;
        // One claim a second per collect instance at least, one per block of the site's allowance.
        let limit = SITE_LIMIT.max(run.spreads as f64 * 500.0);
        let block = (limit / 20.0).clamp(1.0, 50.0);
        let counter_writes = (rate / block).max(1.0) / rate;
        let raw = (per_event(run.raw_wcu()) + counter_writes) * WRU * million;
        let fold_writes = per_event(run.rollup_wcu()) * WRU * million;
        let fold_reads = per_event(run.rollup_rcu()) * RRU * million;
        let folds_per_event = run.folds as f64 / run.events as f64;
        let fold_seconds =
            FOLD_ROUND_TRIPS_SECONDS + run.fold_time.as_secs_f64() / run.folds.max(1) as f64 / VCPU_SHARE;
        let aggregate = folds_per_event * (LAMBDA_REQUEST + fold_seconds * MEMORY_GB * LAMBDA_GB_SECOND) * million;
        // Each spread's shard: a batch per poll while events arrive.
        let per_shard = rate / run.spreads as f64;
        let batches_per_event = per_shard.min(SHARD_POLLS_PER_SECOND) * run.spreads as f64 / rate;
        let broadcast = batches_per_event
            * (LAMBDA_REQUEST + BROADCAST_SECONDS * MEMORY_GB * LAMBDA_GB_SECOND + 0.5 * RRU)
            * million;
        let per_dashboard = batches_per_event * WEBSOCKET_MESSAGE * million;
        let total = http + collect + raw + fold_writes + fold_reads + aggregate + broadcast;
        println!(
            "| {} | {} | ${http:.2} | ${collect:.3} | ${raw:.3} | ${fold_writes:.3} / ${fold_reads:.3} | \
             ${aggregate:.3} | ${broadcast:.3} | **${total:.2}** | ${per_dashboard:.3} |",
            run.rate, run.spreads
        );
    }
    println!();
    println!(
        "Assumed: collect bills {:.0} ms a hit; an aggregate invocation {:.0} ms of round trips plus the \
         bench's fold CPU time at {:.2} vCPU (256 MB), one invocation per spread a second; the broadcast \
         one invocation per shard poll with records (at most {SHARD_POLLS_PER_SECOND} a second a shard), \
         a message per batch per open dashboard.",
        COLLECT_SECONDS * 1e3,
        FOLD_ROUND_TRIPS_SECONDS * 1e3,
        VCPU_SHARE
    );
}
