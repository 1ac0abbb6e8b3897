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
// The demo site and its audience. Weights are relative; each table is non-empty.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, PartialEq)]
struct Page {
    path: &'static str,
    title: &'static str,
}

const PAGES: &[(Page, u32)] = &[
    (page("/", "Pulse Demo: realtime web analytics"), 30),
    (page("/pricing", "Pricing · Pulse Demo"), 12),
    (page("/docs", "Documentation · Pulse Demo"), 10),
    (page("/docs/getting-started", "Getting started · Pulse Demo"), 9),
    (page("/blog", "Blog · Pulse Demo"), 6),
    (
        page(
            "/blog/realtime-analytics-in-rust",
            "Realtime analytics in Rust · Pulse Demo",
        ),
        8,
    ),
    (page("/signup", "Sign up · Pulse Demo"), 6),
    (page("/about", "About · Pulse Demo"), 4),
    (page("/changelog", "Changelog · Pulse Demo"), 4),
];

const fn page(path: &'static str, title: &'static str) -> Page {
    Page { path, title }
}

/// `None` is a direct visit (typed URL, bookmark).
const REFERRERS: &[(Option<&str>, u32)] = &[
    (None, 30),
    (Some("https://www.google.com/"), 25),
    (Some("https://news.ycombinator.com/"), 15),
    (Some("https://www.reddit.com/r/rust/"), 10),
    (Some("https://twitter.com/"), 8),
    (Some("https://github.com/"), 8),
];

const COUNTRIES: &[(&str, u32)] = &[
    ("US", 30),
    ("DE", 10),
    ("GB", 9),
    ("IN", 9),
    ("FR", 7),
    ("BR", 6),
    ("JP", 5),
    ("CA", 5),
    ("NL", 4),
    ("ES", 4),
    ("IT", 3),
    ("AU", 3),
    ("SE", 2),
    ("PL", 2),
];

const OUTBOUND_LINKS: &[(&str, u32)] = &[
    ("https://github.com/tokio-rs/tokio", 3),
    ("https://github.com/rust-lang/rust", 2),
    ("https://github.com/awslabs/aws-lambda-rust-runtime", 3),
    ("https://github.com/serde-rs/json", 1),
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Device {
    Desktop,
    Mobile,
    Tablet,
}

/// A real browser's User-Agent split around its last version component, which carries the
/// visitor's serial number: the string stays unique per visitor and parses as the same browser.
struct Browser {
    device: Device,
    before: &'static str,
    after: &'static str,
}

const BROWSERS: &[(Browser, u32)] = &[
    (
        browser(
            Device::Desktop,
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/131.0.6778.",
            " Safari/537.36",
        ),
        30,
    ),
    (
        browser(
            Device::Desktop,
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/131.0.6778.",
            " Safari/537.36",
        ),
        8,
    ),
    (
        browser(
            Device::Desktop,
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 \
             (KHTML, like Gecko) Version/18.1.",
            " Safari/605.1.15",
        ),
        10,
    ),
    (
        browser(
            Device::Desktop,
            "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0.",
            "",
        ),
        5,
    ),
    (
        browser(
            Device::Desktop,
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0.",
            "",
        ),
        4,
    ),
    (
        browser(
            Device::Desktop,
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.",
            "",
        ),
        7,
    ),
    (
        browser(
            Device::Mobile,
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 \
             (KHTML, like Gecko) Version/18.1.",
            " Mobile/15E148 Safari/604.1",
        ),
        16,
    ),
    (
        browser(
            Device::Mobile,
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/131.0.6778.",
            " Mobile Safari/537.36",
        ),
        14,
    ),
    (
        browser(
            Device::Tablet,
            "Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 \
             (KHTML, like Gecko) Version/18.1.",
            " Mobile/15E148 Safari/604.1",
        ),
        4,
    ),
    (
        // Android tablets send no "Mobile" token; that is how they are told apart from phones.
        browser(
            Device::Tablet,
            "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/131.0.6778.",
            " Safari/537.36",
        ),
        2,
    ),
];

const fn browser(device: Device, before: &'static str, after: &'static str) -> Browser {
    Browser { device, before, after }
}

impl Browser {
    fn user_agent(&self, serial: u64) -> String {
        format!("{}{serial}{}", self.before, self.after)
    }
}

const DESKTOP_SCREENS: &[((u32, u32), u32)] = &[
    ((1920, 1080), 30),
    ((1536, 864), 12),
    ((2560, 1440), 10),
    ((1366, 768), 10),
    ((1440, 900), 8),
    ((1280, 720), 5),
];
const MOBILE_SCREENS: &[((u32, u32), u32)] = &[
    ((390, 844), 10),
    ((393, 852), 8),
    ((412, 915), 8),
    ((430, 932), 6),
    ((360, 800), 6),
];
const TABLET_SCREENS: &[((u32, u32), u32)] = &[((820, 1180), 6), ((768, 1024), 4), ((1024, 1366), 3), ((800, 1280), 3)];

fn screens(device: Device) -> &'static [((u32, u32), u32)] {
    match device {
        Device::Desktop => DESKTOP_SCREENS,
        Device::Mobile => MOBILE_SCREENS,
        Device::Tablet => TABLET_SCREENS,
    }
}

/// One of `items`, chosen with probability proportional to its weight.
fn pick<'a, T>(rng: &mut fastrand::Rng, items: &'a [(T, u32)]) -> &'a T {
    let total: u32 = items.iter().map(|(_, weight)| weight).sum();
    let mut roll = rng.u32(0..total);
    for (item, weight) in items {
        if roll < *weight {
            return item;
        }
        roll -= weight;
    }
    // Unreachable: the rolls above cover `0..total`.
    &items[items.len() - 1].0
}

// ---------------------------------------------------------------------------------------------
// A visitor and the hits of one visit.
// ---------------------------------------------------------------------------------------------

#[derive(Debug)]
struct Visitor {
    user_agent: String,
    country: &'static str,
    session_id: String,
    screen: (u32, u32),
}

impl Visitor {
    fn new(rng: &mut fastrand::Rng, serial: u64) -> Self {
        let browser = pick(rng, BROWSERS);
        Self {
            user_agent: browser.user_agent(serial),
            country: *pick(rng, COUNTRIES),
            session_id: format!("{:016x}", rng.u64(..)),
            screen: *pick(rng, screens(browser.device)),
        }
    }
}

/// The fields every hit of a visit shares.
fn base_hit(site: &str, visitor: &Visitor, kind: &str, url: &str) -> Value {
    json!({
        "s": site,
        "e": kind,
        "u": url,
        "sid": visitor.session_id,
        "sw": visitor.screen.0,
        "sh": visitor.screen.1,
    })
}

fn pageview_hit(site: &str, visitor: &Visitor, url: &str, page: &Page, referrer: Option<&str>) -> Value {
    let mut hit = base_hit(site, visitor, "pageview", url);
    hit["t"] = json!(page.title);
    if let Some(referrer) = referrer {
        hit["r"] = json!(referrer);
    }
    hit
}

fn event_hit(site: &str, visitor: &Visitor, url: &str, name: &str, value: Option<f64>) -> Value {
    let mut hit = base_hit(site, visitor, "event", url);
    hit["p"] = match value {
        Some(value) => json!({ "name": name, "value": value }),
        None => json!({ "name": name }),
    };
    hit
}

fn outbound_hit(site: &str, visitor: &Visitor, url: &str, link: &str) -> Value {
    let mut hit = base_hit(site, visitor, "outbound", url);
    hit["p"] = json!({ "url": link });
    hit
}

/// A custom event that fits the page, so the event breakdowns look plausible.
fn custom_event(rng: &mut fastrand::Rng, page: &Page) -> (&'static str, Option<f64>) {
    match page.path {
        "/signup" => ("signup", None),
        "/pricing" => ("add_to_cart", Some(*pick(rng, &[(9.0, 3), (29.0, 4), (99.0, 1)]))),
        "/docs/getting-started" => ("copy_snippet", None),
        path if path.starts_with("/blog") => ("play_video", None),
        _ => *pick(
            rng,
            &[
                (("newsletter_subscribe", None), 3),
                (("play_video", None), 2),
                (("signup", None), 1),
            ],
        ),
    }
}

/// The first page of a visit: its URL (sometimes from the newsletter campaign) and referrer.
fn landing(rng: &mut fastrand::Rng) -> (&'static Page, String, Option<&'static str>) {
    let page = pick(rng, PAGES);
    if rng.f64() < CAMPAIGN_CHANCE {
        // Clicks from an email client carry no referrer.
        let url = format!("{DEMO_ORIGIN}{}{CAMPAIGN_QUERY}", page.path);
        return (page, url, None);
    }
    (page, format!("{DEMO_ORIGIN}{}", page.path), *pick(rng, REFERRERS))
}

/// Any page but the current one: a reload is not a navigation.
fn next_page(rng: &mut fastrand::Rng, current: &Page) -> &'static Page {
    loop {
        let page = pick(rng, PAGES);
        if page != current {
            return page;
        }
    }
}

/// `secs` of simulated time, in real time at `speed`.
fn scaled(secs: f64, speed: f64) -> Duration {
    Duration::from_secs_f64(secs / speed)
}

/// One visit: 1 to 8 page views 5 to 40 s apart, sometimes an event, sometimes an outbound click
/// (which ends the visit: the visitor has left for another site).
async fn visit(sender: Arc<Sender>, mut rng: fastrand::Rng, serial: u64, speed: f64) {
    let visitor = Visitor::new(&mut rng, serial);
    let site = sender.site.as_str();
    let views = rng.usize(1..=MAX_PAGE_VIEWS);
    let (mut page, mut url, referrer) = landing(&mut rng);
    let mut referrer = referrer.map(str::to_owned);
    for view in 1..=views {
        if view > 1 {
            tokio::time::sleep(scaled(5.0 + 35.0 * rng.f64(), speed)).await;
            page = next_page(&mut rng, page);
            // The previous page becomes the referrer, as a browser sends it: a self-referral,
            // which the server drops from the traffic sources.
            referrer = Some(std::mem::replace(&mut url, format!("{DEMO_ORIGIN}{}", page.path)));
        }
        let hit = pageview_hit(site, &visitor, &url, page, referrer.as_deref());
        sender.send(&visitor, &hit).await;
        if rng.f64() < EVENT_CHANCE {
            tokio::time::sleep(scaled(1.0 + 4.0 * rng.f64(), speed)).await;
            let (name, value) = custom_event(&mut rng, page);
            sender
                .send(&visitor, &event_hit(site, &visitor, &url, name, value))
                .await;
        }
        if rng.f64() < OUTBOUND_CHANCE {
            tokio::time::sleep(scaled(1.0 + 4.0 * rng.f64(), speed)).await;
            let link = pick(&mut rng, OUTBOUND_LINKS);
            sender.send(&visitor, &outbound_hit(site, &visitor, &url, link)).await;
            return;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Sending and counting.
// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct Stats {
    visitors: AtomicU64,
    turned_away: AtomicU64,
    hits: AtomicU64,
    accepted: AtomicU64,
    /// Non-204 answers by status code.
    rejected: Mutex<BTreeMap<u16, u64>>,
    /// Visits over (or ended early); `visitors - finished` are still browsing.
    finished: AtomicU64,
    timeouts: AtomicU64,
    connect_errors: AtomicU64,
    other_errors: AtomicU64,
    reported_failure: AtomicBool,
}

impl Stats {
    fn record_status(&self, status: u16) {
        if status == 204 {
            self.accepted.fetch_add(1, Ordering::Relaxed);
            return;
        }
        // A poisoned map only means another task panicked mid-insert; the counts are still usable.
        let mut rejected = self.rejected.lock().unwrap_or_else(PoisonError::into_inner);
        let count = rejected.entry(status).or_default();
        if *count == 0 {
            // Say so at once: a wrong site id or a stopped store should not wait for the report.
            eprintln!("demo-traffic: the gateway answered {status} (first time)");
        }
        *count += 1;
    }

    fn record_failure(&self, err: &reqwest::Error) {
        let counter = if err.is_timeout() {
            &self.timeouts
        } else if err.is_connect() {
            &self.connect_errors
        } else {
            &self.other_errors
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if !self.reported_failure.swap(true, Ordering::Relaxed) {
            eprintln!("demo-traffic: a request failed (counted from now on): {err}");
        }
    }

    fn summary(&self, elapsed: Duration) -> String {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        // Read separately, so a visit ending in between could show as still active: fine for a log.
        let active = load(&self.visitors).saturating_sub(load(&self.finished));
        let rejected = self.rejected.lock().unwrap_or_else(PoisonError::into_inner);
        let rejected = if rejected.is_empty() {
            "none".to_owned()
        } else {
            let parts: Vec<String> = rejected.iter().map(|(s, n)| format!("{s}:{n}")).collect();
            parts.join(" ")
        };
        format!(
            "demo-traffic: {}m{:02}s: visitors {} (active {active}, turned away {}), hits sent {}, \
             204 {}, non-204 {rejected}, failed: timeout {} connect {} other {}",
            elapsed.as_secs() / 60,
            elapsed.as_secs() % 60,
            load(&self.visitors),
            load(&self.turned_away),
            load(&self.hits),
            load(&self.accepted),
            load(&self.timeouts),
            load(&self.connect_errors),
            load(&self.other_errors),
        )
    }
}

/// Posts hits to the one collect URL; every outcome is counted, none is fatal.
struct Sender {
    client: Client,
    url: Url,
    site: String,
    stats: Arc<Stats>,
    /// `ORIGIN_VERIFY_SECRET`, when `make dev` runs with one: the visitors then arrive as through
    /// CloudFront, which adds it to every request.
    origin_verify: Option<String>,
}

impl Sender {
    async fn send(&self, visitor: &Visitor, hit: &Value) {
        self.stats.hits.fetch_add(1, Ordering::Relaxed);
        let request = self
            .client
            .post(self.url.clone())
            .header(USER_AGENT, &visitor.user_agent)
            .header("CloudFront-Viewer-Country", visitor.country)
            // What the tracker's sendBeacon sends: a "simple" content type needs no CORS preflight.
            .header(CONTENT_TYPE, "text/plain;charset=UTF-8")
            .body(hit.to_string());
        let request = match &self.origin_verify {
            Some(secret) => request.header("X-Origin-Verify", secret),
            None => request,
        };
        match request.send().await {
            Ok(response) => {
                self.stats.record_status(response.status().as_u16());
                // Read the (small, usually empty) body so the connection can be reused; its
                // content does not matter here.
                let _ = response.bytes().await;
            }
            Err(err) => self.stats.record_failure(&err),
        }
    }
}

fn http_client() -> reqwest::Result<Client> {
    Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(REQUEST_TIMEOUT)
        // Talk to `--base` and nothing else: no proxy from the environment, no redirects.
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(64)
        .build()
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
mod tests {
    use super::*;

    #[test]
    fn user_agents_are_unique_per_visitor_and_look_like_browsers() {
        for (browser, _) in BROWSERS {
            let (a, b) = (browser.user_agent(1234), browser.user_agent(1235));
            assert_ne!(a, b);
            assert!(a.starts_with("Mozilla/5.0 ("), "{a}");
            let lower = a.to_lowercase();
            for word in ["bot", "crawl", "spider", "headless", "python", "curl"] {
                assert!(!lower.contains(word), "{a} contains {word}");
            }
            let mobile_token = a.contains("Mobile");
            match browser.device {
                Device::Desktop => assert!(!mobile_token, "{a}"),
                Device::Mobile => assert!(mobile_token, "{a}"),
                Device::Tablet => assert!(a.contains("iPad") || !mobile_token, "{a}"),
            }
        }
    }

    #[test]
    fn weights_are_positive() {
        assert!(PAGES.iter().all(|(_, w)| *w > 0));
        assert!(REFERRERS.iter().all(|(_, w)| *w > 0));
        assert!(COUNTRIES.iter().all(|(_, w)| *w > 0));
        assert!(BROWSERS.iter().all(|(_, w)| *w > 0));
        assert!(OUTBOUND_LINKS.iter().all(|(_, w)| *w > 0));
    }

    #[test]
    fn pick_follows_weights() {
        let mut rng = fastrand::Rng::with_seed(7);
        let items = [("rare", 1), ("common", 9)];
        let common = (0..10_000).filter(|_| *pick(&mut rng, &items) == "common").count();
        assert!((8_500..9_500).contains(&common), "{common}");
    }

    #[test]
    fn hits_match_the_wire_format() {
        let mut rng = fastrand::Rng::with_seed(1);
        let visitor = Visitor::new(&mut rng, 42);
        let url = format!("{DEMO_ORIGIN}/pricing");
        let view = pageview_hit("demo", &visitor, &url, &PAGES[1].0, None);
        assert_eq!(view["e"], "pageview");
        assert_eq!(view["u"], "http://localhost:8080/pricing");
        assert!(view.get("r").is_none() && view.get("p").is_none());
        assert!(view["sw"].is_u64() && view["sh"].is_u64() && view["sid"].is_string());
        let event = event_hit("demo", &visitor, &url, "add_to_cart", Some(29.0));
        assert_eq!(event["p"], json!({ "name": "add_to_cart", "value": 29.0 }));
        let out = outbound_hit("demo", &visitor, &url, OUTBOUND_LINKS[0].0);
        assert_eq!(out["p"]["url"], "https://github.com/tokio-rs/tokio");
    }

    #[test]
    fn collect_url_is_plain_http_under_base() {
        assert_eq!(
            collect_url("http://127.0.0.1:3000/").map(String::from),
            Ok("http://127.0.0.1:3000/collect".to_owned())
        );
        assert!(collect_url("https://example.com").is_err());
        assert!(collect_url("not a url").is_err());
    }

    #[test]
    fn rates_are_bounded() {
        assert_eq!(rate("60"), Ok(60.0));
        assert!(rate("0").is_err() && rate("-1").is_err() && rate("1e9").is_err());
        assert!(speed("NaN").is_err());
    }
}
