//! A load run that proves nothing was lost. Synthetic visitors send page views and custom events
//! through the local gateway (loopback only) for a bounded time while dashboards listen on WebSockets;
//! the run keeps the ground truth of every hit that got a 2xx. Then: every accepted hit is in the table
//! exactly once, the realtime view counts each exactly once (page views, visitors, each visitor's
//! latest page, goal conversions), and every dashboard received every accepted event exactly once.
//!
//! Throughput is moto's: it takes ~100–150 writes a second on this kind of machine, so the figures
//! say how the pipeline behaves at moto's speed, not DynamoDB's.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use pulse_core::goal::{Goal, GoalName, GoalRule};
use pulse_core::realtime::Minute;
use pulse_core::spread::Spreads;
use pulse_core::time::iso_millis;
use pulse_core::{ReadToken, Site, SiteDirectory, SiteId};
use pulse_dynamodb::keys;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::LocalStack;

const SITE: &str = "load";
const PAGES: [&str; 5] = ["/", "/pricing", "/docs/start", "/blog/launch", "/signup"];
/// The custom event every fifth hit sends, counted through a goal of the same name.
const SIGNUP: &str = "signup";

#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub visitors: usize,
    /// How long the visitors send.
    pub duration: Duration,
    pub dashboards: usize,
    /// Longest wait, after the last hit, for the aggregate and the broadcast to catch up.
    pub settle: Duration,
    /// The load site's spreads (`pulse-admin site spread`), in effect from the start.
    pub spreads: u8,
}

#[derive(Debug, Default)]
pub struct LoadReport {
    pub accepted: usize,
    /// Hits that never got a 2xx (after retrying 503s and 429s with the same id).
    pub refused: usize,
    /// Answers 503 or 429 that a visitor had to retry (DynamoDB or API Gateway throttling reaching
    /// the tracker).
    pub throttled: usize,
    /// From a hit's 2xx to its arrival at a dashboard, every event at every dashboard, sorted.
    pub push_delays: Vec<Duration>,
    pub sending: Duration,
    /// From the last hit until the table, the view and every dashboard agreed with the ground truth.
    pub settling: Duration,
    /// Every way the result differs from the ground truth; empty when nothing was lost.
    pub problems: Vec<String>,
}

impl LoadReport {
    pub fn hits_per_second(&self) -> f64 {
        self.accepted as f64 / self.sending.as_secs_f64().max(f64::EPSILON)
    }

    /// The push delay at quantile `q` (0 to 1); zero when nothing was pushed.
    pub fn push_delay(&self, q: f64) -> Duration {
        let last = self.push_delays.len().saturating_sub(1);
        self.push_delays
            .get(((last as f64) * q).round() as usize)
            .copied()
            .unwrap_or_default()
    }
}

/// What one dashboard received: each event id with when it arrived.
type Inbox = Arc<Mutex<Vec<(String, Instant)>>>;

#[derive(Debug, Clone)]
struct Accepted {
    id: String,
    visitor: usize,
    pageview: Option<&'static str>,
    at: Instant,
}

/// Runs the load against `stack`, on a site of its own.
pub async fn run(stack: &LocalStack, options: &LoadOptions) -> anyhow::Result<LoadReport> {
    let token = ReadToken::generate();
    let now = Utc::now();
    let spreads = Spreads::default().change_at(options.spreads, Minute::of(now).plus(-1), now)?;
    stack
        .store
        .create_site(
            &Site::new(SiteId::parse(SITE)?, vec!["example.com".into()], token.hash())
                .with_goals(vec![Goal {
                    name: GoalName::parse(SIGNUP)?,
                    rule: GoalRule::Event {
                        name: SIGNUP.into(),
                        property: None,
                    },
                    value: None,
                }])
                .with_spreads(spreads),
        )
        .await?;

    let received: Vec<Inbox> = (0..options.dashboards).map(|_| Arc::default()).collect();
    let ws_url = format!(
        "{}/ws?siteId={SITE}&token={}",
        stack.address.replace("http://", "ws://"),
        token.expose()
    );
    for inbox in &received {
        let socket = connect_dashboard(&ws_url).await?;
        let inbox = inbox.clone();
        tokio::spawn(async move {
            let (_, mut incoming) = socket.split();
            while let Some(Ok(message)) = incoming.next().await {
                let Message::Text(text) = message else { continue };
                let Ok(message) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                let arrived = Instant::now();
                let ids = message["events"].as_array().into_iter().flatten().filter_map(|event| {
                    (event["type"] != "goal")
                        .then(|| event["id"].as_str().map(|id| (id.to_owned(), arrived)))
                        .flatten()
                });
                inbox.lock().expect("inbox lock").extend(ids);
            }
        });
    }

    let http = reqwest::Client::new();
    let collect = format!("{}/collect", stack.address);
    let started = Instant::now();
    let sending_from = Utc::now();
    let deadline = started + options.duration;
    let visitors = (0..options.visitors).map(|visitor| {
        let http = http.clone();
        let collect = collect.clone();
        tokio::spawn(async move { visit(&http, &collect, visitor, deadline).await })
    });
    let mut accepted = Vec::new();
    let (mut refused, mut throttled) = (0, 0);
    for outcome in futures::future::join_all(visitors).await {
        let visited = outcome?;
        accepted.extend(visited.accepted);
        refused += visited.refused;
        throttled += visited.throttled;
    }
    let sending = started.elapsed();
    let sent = (sending_from, Utc::now());

    let settle_started = Instant::now();
    let mut problems;
    loop {
        // A read that fails (moto busy) is a difference like any other: the next round tries again.
        problems = check(stack, token.expose(), sent, &accepted, &received)
            .await
            .unwrap_or_else(|err| vec![format!("could not read the results: {err:#}")]);
        if problems.is_empty() || settle_started.elapsed() > options.settle {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let accepted_at: HashMap<&str, Instant> = accepted.iter().map(|hit| (hit.id.as_str(), hit.at)).collect();
    let mut push_delays: Vec<Duration> = received
        .iter()
        .flat_map(|inbox| inbox.lock().expect("inbox lock").clone())
        .filter_map(|(id, arrived)| Some(arrived.saturating_duration_since(*accepted_at.get(id.as_str())?)))
        .collect();
    push_delays.sort();
    Ok(LoadReport {
        accepted: accepted.len(),
        refused,
        throttled,
        push_delays,
        sending,
        settling: settle_started.elapsed(),
        problems,
    })
}

/// A dashboard's WebSocket, retried with backoff while `$connect` answers 503 or 429 (its writes
/// throttled under a scaled-down partition limit), as the dashboard reconnects.
async fn connect_dashboard(
    url: &str,
) -> anyhow::Result<tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>> {
    use tokio_tungstenite::tungstenite::Error as WsError;
    let mut attempt = 0u64;
    loop {
        match tokio_tungstenite::connect_async(url).await {
            Ok((socket, _)) => return Ok(socket),
            Err(WsError::Http(response)) if [429, 503].contains(&response.status().as_u16()) && attempt < 20 => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
            }
            Err(err) => return Err(err.into()),
        }
    }
}

/// What one visitor got done.
struct Visited {
    accepted: Vec<Accepted>,
    refused: usize,
    throttled: usize,
}

/// One visitor: a hit at a time until the deadline, each retried with its id while the answer is a 503
/// or a 429, as the tracker does.
async fn visit(http: &reqwest::Client, collect: &str, visitor: usize, deadline: Instant) -> Visited {
    // Locally every request comes from 127.0.0.1, so the User-Agent alone tells visitors apart.
    let user_agent = format!(
        "Mozilla/5.0 (X11; Linux x86_64; rv:{major}.{minor}) Gecko/20100101 Firefox/{major}.{minor}",
        major = 100 + visitor / 100,
        minor = visitor % 100
    );
    let mut accepted = Vec::new();
    let (mut refused, mut throttled) = (0, 0);
    let mut serial = visitor;
    while Instant::now() < deadline {
        serial += 7;
        let page = PAGES[serial % PAGES.len()];
        let id = uuid_v7(Utc::now());
        let pageview = !serial.is_multiple_of(5);
        let hit = if pageview {
            json!({"s": SITE, "e": "pageview", "u": format!("https://example.com{page}"), "id": id})
        } else {
            json!({"s": SITE, "e": "event", "u": format!("https://example.com{page}"), "id": id, "p": {"name": SIGNUP}})
        };
        let mut stored = false;
        for attempt in 0..20u32 {
            let answer = http
                .post(collect)
                .header("content-type", "text/plain")
                .header("user-agent", &user_agent)
                .body(hit.to_string())
                .send()
                .await;
            match answer.map(|response| response.status().as_u16()) {
                Ok(200..=299) => {
                    stored = true;
                    break;
                }
                Ok(429 | 503) => {
                    throttled += 1;
                    tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt + 1))).await;
                }
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt + 1))).await;
                }
                Ok(_) => break,
            }
        }
        if stored {
            accepted.push(Accepted {
                id,
                visitor,
                pageview: pageview.then_some(page),
                at: Instant::now(),
            });
        } else {
            refused += 1;
        }
    }
    Visited {
        accepted,
        refused,
        throttled,
    }
}

/// Every difference between the stack's state and the ground truth.
async fn check(
    stack: &LocalStack,
    token: &str,
    sent: (DateTime<Utc>, DateTime<Utc>),
    accepted: &[Accepted],
    received: &[Inbox],
) -> anyhow::Result<Vec<String>> {
    let mut problems = Vec::new();

    // The table: each accepted id exactly once, and nothing else of this site.
    let stored = stored_ids(stack, sent).await?;
    let missing = accepted.iter().filter(|hit| !stored.contains_key(&hit.id)).count();
    let extra = stored.len().saturating_sub(accepted.len() - missing);
    let doubled = stored.values().filter(|&&copies| copies > 1).count();
    if missing + extra + doubled > 0 {
        problems.push(format!(
            "table: {missing} accepted hits missing, {extra} unexpected, {doubled} stored twice"
        ));
    }

    // The realtime view against the ground truth.
    let view: Value = reqwest::Client::new()
        .get(format!("{}/sites/{SITE}/realtime?minutes=30&limit=50", stack.address))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await?
        .json()
        .await?;
    let pageviews = accepted.iter().filter(|hit| hit.pageview.is_some()).count() as u64;
    let signups = accepted.len() as u64 - pageviews;
    let mut latest_page: BTreeMap<usize, (Instant, &str)> = BTreeMap::new();
    let mut visitors = std::collections::BTreeSet::new();
    for hit in accepted {
        visitors.insert(hit.visitor);
        if let Some(page) = hit.pageview {
            let entry = latest_page.entry(hit.visitor).or_insert((hit.at, page));
            if hit.at >= entry.0 {
                *entry = (hit.at, page);
            }
        }
    }
    let mut active: BTreeMap<&str, u64> = BTreeMap::new();
    for (_, page) in latest_page.values() {
        *active.entry(page).or_default() += 1;
    }
    let shown_active: BTreeMap<&str, u64> = view["activePages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|entry| Some((entry["path"].as_str()?, entry["visitors"].as_u64()?)))
        .collect();
    let shown_signups = view["goals"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|goal| goal["goal"] == SIGNUP)
        .and_then(|goal| goal["conversions"].as_u64())
        .unwrap_or(0);
    for (what, shown, truth) in [
        ("page views", view["pageViews"].as_u64(), pageviews),
        (
            "current visitors",
            view["currentVisitors"].as_u64(),
            visitors.len() as u64,
        ),
        ("signup conversions", Some(shown_signups), signups),
    ] {
        if shown != Some(truth) {
            problems.push(format!("view: {what} {shown:?}, ground truth {truth}"));
        }
    }
    if shown_active != active {
        problems.push(format!("view: active pages {shown_active:?}, ground truth {active:?}"));
    }

    // Every dashboard: each accepted event exactly once.
    for (dashboard, inbox) in received.iter().enumerate() {
        let inbox = inbox.lock().expect("inbox lock");
        let mut copies: HashMap<&str, usize> = HashMap::new();
        for (id, _) in inbox.iter() {
            *copies.entry(id).or_default() += 1;
        }
        let missing = accepted
            .iter()
            .filter(|hit| !copies.contains_key(hit.id.as_str()))
            .count();
        let doubled = copies.values().filter(|&&count| count > 1).count();
        if missing + doubled > 0 {
            problems.push(format!(
                "dashboard {dashboard}: {missing} accepted events not received, {doubled} received twice"
            ));
        }
    }
    Ok(problems)
}

/// How many items of the load's site carry each id, over every spread it uses. The events are keyed by their ids' times, all
/// within the sending time, so they are read in 5-second slices of it: moto filters a partition by key
/// range cheaply but pages through a whole partition slowly. Plus any keyed by id alone (none expected).
async fn stored_ids(
    stack: &LocalStack,
    sent: (DateTime<Utc>, DateTime<Utc>),
) -> anyhow::Result<HashMap<String, usize>> {
    let site = SiteId::parse(SITE)?;
    let spreads = stack
        .store
        .find_site(&site)
        .await?
        .map(|site| site.spreads.in_use())
        .unwrap_or_default();
    let mut by_key: HashMap<(String, String), String> = HashMap::new();
    let mut ranges = Vec::new();
    for prefix in [keys::PAGEVIEW_PREFIX, keys::EVENT_PREFIX] {
        let mut from = sent.0 - chrono::Duration::seconds(1);
        while from <= sent.1 + chrono::Duration::seconds(1) {
            let to = from + chrono::Duration::seconds(5);
            ranges.push((
                format!("{prefix}{}", iso_millis(from)),
                format!("{prefix}{}", iso_millis(to)),
            ));
            from = to;
        }
    }
    ranges.push((
        keys::CLIENT_ID_PREFIX.to_owned(),
        format!("{}~", keys::CLIENT_ID_PREFIX),
    ));
    let pks: Vec<String> = spreads.iter().map(|&spread| keys::spread_pk(&site, spread)).collect();
    for (pk, (low, high)) in pks.iter().flat_map(|pk| ranges.iter().map(move |range| (pk, range))) {
        let mut start = None;
        loop {
            let page = stack
                .dynamodb
                .query()
                .table_name(stack.store.table())
                .key_condition_expression("pk = :pk AND sk BETWEEN :low AND :high")
                .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
                .expression_attribute_values(":low", AttributeValue::S(low.clone()))
                .expression_attribute_values(":high", AttributeValue::S(high.clone()))
                .set_exclusive_start_key(start)
                .send()
                .await?;
            for item in page.items() {
                if let (Some(Ok(sk)), Some(Ok(id))) =
                    (item.get("sk").map(|v| v.as_s()), item.get("id").map(|v| v.as_s()))
                {
                    // Slices share their boundary millisecond: the key, not the read, is what counts.
                    by_key.insert((pk.clone(), sk.clone()), id.clone());
                }
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
    }
    let mut stored: HashMap<String, usize> = HashMap::new();
    for id in by_key.into_values() {
        *stored.entry(id).or_default() += 1;
    }
    Ok(stored)
}

/// A UUIDv7 whose embedded time is `at`, as the tracker makes them: the event is keyed by that time.
pub fn uuid_v7(at: DateTime<Utc>) -> String {
    let millis = at.timestamp_millis() as u64;
    let mut random = [0u8; 10];
    getrandom::fill(&mut random).expect("the operating system's random source is available");
    let hex: String = random.iter().map(|byte| format!("{byte:02x}")).collect();
    format!(
        "{:08x}-{:04x}-7{}-8{}-{}",
        millis >> 16,
        millis & 0xffff,
        &hex[0..3],
        &hex[3..6],
        &hex[6..18]
    )
}
