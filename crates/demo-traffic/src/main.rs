//! Demo traffic for the local stack: simulated visitors browse a demo site and send tracker hits to
//! the gateway's `POST /collect`, so that the realtime numbers move during development.
//!
//! The server derives the visitor id from (site, client IP, User-Agent). Locally every request comes
//! from 127.0.0.1, so each simulated visitor carries its own User-Agent: a real browser's, made
//! unique by its last version component so that it still parses as that browser. The country comes
//! from the `CloudFront-Viewer-Country` header, which the gateway trusts when no CDN secret is set.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use clap::Parser;
use reqwest::header::{CONTENT_TYPE, USER_AGENT};
use reqwest::{Client, Url};
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::time::{Instant, MissedTickBehavior};

mod audience;
mod send;
mod visit;

use audience::*;
use send::*;
use visit::*;

/// Visitors beyond this many at once are turned away rather than queued, so that a slow gateway
/// cannot make memory and open connections grow without bound.
const MAX_CONCURRENT_VISITORS: usize = 2_000;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
const REPORT_EVERY: Duration = Duration::from_secs(60);
/// Far above what a demo needs; keeps a typo from flooding the gateway.
const MAX_VISITORS_PER_MINUTE: f64 = 60_000.0;
const MAX_SPEED: f64 = 100.0;
/// The demo site's origin: the demo site allows `localhost`, and 8080 is where a dev server would be.
const DEMO_ORIGIN: &str = "http://localhost:8080";
const CAMPAIGN_QUERY: &str = "?utm_source=newsletter&utm_medium=email&utm_campaign=launch";
const MAX_PAGE_VIEWS: usize = 8;
const EVENT_CHANCE: f64 = 0.15;
const OUTBOUND_CHANCE: f64 = 0.05;
const CAMPAIGN_CHANCE: f64 = 0.10;

#[derive(Parser, Debug)]
#[command(
    name = "demo-traffic",
    version,
    about = "Simulated visitors for the local stack: POSTs tracker hits to {base}/collect"
)]
struct Args {
    /// Gateway base URL (plain http); hits go to `{base}/collect` and nowhere else.
    #[arg(long, env = "DEMO_BASE", default_value = "http://127.0.0.1:3000")]
    base: String,
    /// Site id sent as `s` in every hit.
    #[arg(long, env = "DEMO_SITE", default_value = "demo")]
    site: String,
    /// Mean arrival rate of new visitors (random arrivals around this rate).
    #[arg(long, env = "DEMO_VISITORS_PER_MINUTE", default_value_t = 60.0, value_parser = rate)]
    visitors_per_minute: f64,
    /// Time scale of a visit: 2.0 makes page views follow each other twice as fast.
    #[arg(long, env = "DEMO_SPEED", default_value_t = 1.0, value_parser = speed)]
    speed: f64,
    /// Stop after this many seconds; without it, run until Ctrl-C.
    #[arg(long, env = "DEMO_DURATION_SECONDS")]
    duration_seconds: Option<u64>,
    /// Seed for reproducible visitors and behaviour (answer timing still varies).
    #[arg(long, env = "DEMO_SEED")]
    seed: Option<u64>,
}

fn rate(raw: &str) -> Result<f64, String> {
    bounded_f64(raw, MAX_VISITORS_PER_MINUTE)
}

fn speed(raw: &str) -> Result<f64, String> {
    bounded_f64(raw, MAX_SPEED)
}

fn bounded_f64(raw: &str, max: f64) -> Result<f64, String> {
    let value: f64 = raw.parse().map_err(|_| format!("{raw:?} is not a number"))?;
    if value > 0.0 && value <= max {
        Ok(value)
    } else {
        Err(format!("must be more than 0 and at most {max}"))
    }
}

/// `{base}/collect`, plain http only: the workspace's reqwest has no TLS, and the target is local.
fn collect_url(base: &str) -> Result<Url, String> {
    let url = Url::parse(&format!("{}/collect", base.trim_end_matches('/')))
        .map_err(|err| format!("--base {base:?} is not a URL: {err}"))?;
    if url.scheme() != "http" {
        return Err(format!("--base {base:?} must be a plain http:// URL"));
    }
    Ok(url)
}

// ---------------------------------------------------------------------------------------------
// Arrivals, reporting and shutdown.
// ---------------------------------------------------------------------------------------------

/// Waiting time to the next arrival of a Poisson process with the given mean; capped so a rare
/// huge draw cannot stall the demo.
fn arrival_gap(rng: &mut fastrand::Rng, mean_secs: f64) -> Duration {
    let gap = -mean_secs * (1.0 - rng.f64()).ln();
    Duration::from_secs_f64(gap.min(20.0 * mean_secs))
}

/// Starts visitors at random around the configured rate, forever.
async fn arrivals(sender: Arc<Sender>, mut rng: fastrand::Rng, per_minute: f64, speed: f64) {
    let limit = Arc::new(Semaphore::new(MAX_CONCURRENT_VISITORS));
    // Serials start at a per-run offset so that two unseeded runs on the same day mostly bring new
    // visitors rather than replaying the previous run's ones as returning visitors.
    let first_serial = rng.u64(1..100_000);
    let mean_gap = 60.0 / per_minute;
    let mut next = Instant::now();
    for serial in first_serial.. {
        next += arrival_gap(&mut rng, mean_gap);
        tokio::time::sleep_until(next).await;
        // Drawn before the capacity check so a seed gives the same visitors whatever the gateway does.
        let visitor_rng = fastrand::Rng::with_seed(rng.u64(..));
        let Ok(permit) = Arc::clone(&limit).try_acquire_owned() else {
            sender.stats.turned_away.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        sender.stats.visitors.fetch_add(1, Ordering::Relaxed);
        let sender = Arc::clone(&sender);
        tokio::spawn(async move {
            visit(Arc::clone(&sender), visitor_rng, serial, speed).await;
            sender.stats.finished.fetch_add(1, Ordering::Relaxed);
            drop(permit);
        });
    }
}

/// Prints the running totals once a minute, forever.
async fn report(sender: Arc<Sender>, started: Instant) {
    let mut ticks = tokio::time::interval_at(started + REPORT_EVERY, REPORT_EVERY);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        eprintln!("{}", sender.stats.summary(started.elapsed()));
    }
}

/// Resolves on Ctrl-C, or on SIGTERM (how `make dev` stops its children).
async fn shutdown_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => return "interrupted",
                _ = term.recv() => return "terminated",
            }
        }
    }
    match tokio::signal::ctrl_c().await {
        Ok(()) => "interrupted",
        Err(err) => {
            // Without a handler the default action still stops the process; just never return.
            eprintln!("demo-traffic: cannot listen for Ctrl-C: {err}");
            std::future::pending().await
        }
    }
}

async fn deadline(seconds: Option<u64>) -> &'static str {
    match seconds {
        Some(seconds) => {
            tokio::time::sleep(Duration::from_secs(seconds)).await;
            "duration reached"
        }
        None => std::future::pending().await,
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let url = match collect_url(&args.base) {
        Ok(url) => url,
        Err(message) => {
            eprintln!("demo-traffic: {message}");
            return ExitCode::from(2);
        }
    };
    let client = match http_client() {
        Ok(client) => client,
        Err(err) => {
            eprintln!("demo-traffic: cannot build the HTTP client: {err}");
            return ExitCode::FAILURE;
        }
    };
    let rng = args.seed.map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed);
    eprintln!(
        "demo-traffic: ~{} visitors/min to {url} for site {:?} at speed {}; Ctrl-C stops",
        args.visitors_per_minute, args.site, args.speed
    );
    let sender = Arc::new(Sender {
        client,
        url,
        site: args.site,
        stats: Arc::default(),
        origin_verify: std::env::var("ORIGIN_VERIFY_SECRET")
            .ok()
            .filter(|secret| !secret.is_empty()),
    });
    let started = Instant::now();
    let why = tokio::select! {
        why = shutdown_signal() => why,
        why = deadline(args.duration_seconds) => why,
        () = arrivals(Arc::clone(&sender), rng, args.visitors_per_minute, args.speed) => "done",
        () = report(Arc::clone(&sender), started) => "done",
    };
    eprintln!("{} ({why})", sender.stats.summary(started.elapsed()));
    // Visits still running are dropped with the runtime: their remaining hits are simply not sent.
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests;
