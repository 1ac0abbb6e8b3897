//! Live push latency on the local stack: event → WebSocket client, p50 and p99, with 1 and 100
//! dashboards connected, and the messages sent per broadcast batch.
//!
//! Needs moto (AWS_ENDPOINT_URL_DYNAMODB): `make bench` starts one. The path measured is the local one —
//! collect's write to moto, the local stream poller (every 250 ms, like Lambda's four polls a second per
//! shard), the broadcast handler's connection Query on moto and its posts to the gateway's
//! `@connections` API — so the figures describe the pipeline's shape, with moto's speed, not AWS's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use local_gateway::{Gateway, LocalStack};
use pulse_core::{ReadToken, Site, SiteId};
use tokio_tungstenite::tungstenite::Message;

const EVENTS_PER_RUN: usize = 20;
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

/// Receive times per path, per client.
type Arrivals = Arc<Mutex<Vec<HashMap<String, Instant>>>>;

#[tokio::main]
async fn main() {
    let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB")
        .expect("AWS_ENDPOINT_URL_DYNAMODB is not set: run `make bench`, which starts moto");
    println!("live push: event → WebSocket client, local stack against moto at {endpoint}");
    println!(
        "{:>8} {:>8} {:>10} {:>10} {:>10} {:>18}",
        "clients", "events", "p50 ms", "p99 ms", "max ms", "messages/batch"
    );
    for clients in [1, 100] {
        let figures = run(&endpoint, clients).await;
        println!(
            "{:>8} {:>8} {:>10.1} {:>10.1} {:>10.1} {:>18.1}",
            clients, EVENTS_PER_RUN, figures.p50, figures.p99, figures.max, figures.messages_per_batch
        );
    }
}

struct Figures {
    p50: f64,
    p99: f64,
    max: f64,
    messages_per_batch: f64,
}

async fn run(endpoint: &str, clients: usize) -> Figures {
    let (address, gateway, token) = start_stack(endpoint).await;
    let arrivals: Arrivals = Arc::new(Mutex::new(vec![HashMap::new(); clients]));
    let ws_url = format!("{}/ws?siteId=bench&token={token}", address.replace("http://", "ws://"));
    for client in 0..clients {
        let (socket, _) = tokio_tungstenite::connect_async(&ws_url)
            .await
            .expect("dashboard connects");
        let arrivals = arrivals.clone();
        tokio::spawn(async move {
            let (_, mut incoming) = socket.split();
            while let Some(Ok(Message::Text(text))) = incoming.next().await {
                let received = Instant::now();
                let message: serde_json::Value = serde_json::from_str(&text).expect("messages are JSON");
                for event in message["events"].as_array().into_iter().flatten() {
                    let path = event["path"].as_str().unwrap_or_default().to_owned();
                    arrivals.lock().unwrap()[client].insert(path, received);
                }
            }
        });
    }
    let http = reqwest::Client::new();
    let batches_before = gateway.broadcast_batches.load(std::sync::atomic::Ordering::Relaxed);
    let posted_before = gateway.connections.messages_posted();
    let mut latencies = Vec::with_capacity(clients * EVENTS_PER_RUN);
    for i in 0..EVENTS_PER_RUN {
        // Spread the send times over the poller's 250 ms cycle: sending right after the previous
        // delivery would always land at the start of a sleep and measure the worst case only.
        tokio::time::sleep(Duration::from_millis((i as u64 * 97) % 250)).await;
        let path = format!("/live-{clients}-{i}");
        let hit = serde_json::json!({"s": "bench", "e": "pageview", "u": format!("https://bench.example{path}")});
        let sent = Instant::now();
        let response = http
            .post(format!("{address}/collect"))
            .header("user-agent", FIREFOX)
            .header("content-type", "application/json")
            .body(hit.to_string())
            .send()
            .await
            .expect("collect answers");
        assert_eq!(response.status(), 204);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let arrived: Vec<Option<Instant>> = arrivals
                .lock()
                .unwrap()
                .iter()
                .map(|per_client| per_client.get(&path).copied())
                .collect();
            if arrived.iter().all(Option::is_some) {
                latencies.extend(arrived.into_iter().flatten().map(|at| (at - sent).as_secs_f64() * 1e3));
                break;
            }
            assert!(Instant::now() < deadline, "event {path} did not reach every dashboard");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    let batches = gateway.broadcast_batches.load(std::sync::atomic::Ordering::Relaxed) - batches_before;
    let posted = gateway.connections.messages_posted() - posted_before;
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
    Figures {
        p50: at(0.5),
        p99: at(0.99),
        max: at(1.0),
        messages_per_batch: posted as f64 / batches.max(1) as f64,
    }
}

/// A fresh table with a `bench` site, the gateway and the stream consumers.
async fn start_stack(endpoint: &str) -> (String, Arc<Gateway>, String) {
    let table = format!("bench-live-{}", pulse_core::EventId::random());
    let stack = LocalStack::start(endpoint, &table)
        .await
        .expect("local stack starts on moto");
    let token = ReadToken::generate();
    let site = Site::new(
        SiteId::parse("bench").unwrap(),
        vec!["bench.example".into()],
        token.hash(),
    );
    stack.store.create_site(&site).await.expect("site created");
    (stack.address, stack.gateway, token.expose().to_owned())
}
