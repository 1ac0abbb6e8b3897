//! The collect handler's own cost per request: parse, validate, enrich and build the DynamoDB item, with
//! the store replaced by an in-process sink. Prints µs per request.
//!
//! `cargo bench -p collect` (or `make bench`, which also prints the arm64 release binary's size).

use std::hint::black_box;
use std::time::Instant;

use chrono::{DateTime, NaiveDate, Utc};
use collect::{CollectApp, Config, function_handler};
use pulse_core::enrich::Salt;
use pulse_core::memory::MemoryStore;
use pulse_core::{EventStore, PutOutcome, SaltStore, Site, SiteDirectory, SiteId, StoreError, StoredEvent, TokenHash};

/// Real site and salt lookups (cached after the first request, as in a warm function); events are turned
/// into the exact DynamoDB item the adapter would write, then dropped.
struct ItemSink(MemoryStore);

impl SiteDirectory for ItemSink {
    async fn find_site(&self, id: &SiteId) -> Result<Option<Site>, StoreError> {
        self.0.find_site(id).await
    }

    async fn site_ids(&self) -> Result<Vec<SiteId>, StoreError> {
        self.0.site_ids().await
    }
}

impl SaltStore for ItemSink {
    async fn daily_salt(&self, day: NaiveDate) -> Result<Salt, StoreError> {
        self.0.daily_salt(day).await
    }
}

impl pulse_core::rate::RateCounter for ItemSink {
    async fn claim(&self, site: &SiteId, second: i64, tokens: u32, limit: u32) -> Result<bool, StoreError> {
        self.0.claim(site, second, tokens, limit).await
    }
}

impl EventStore for ItemSink {
    async fn put_event(&self, event: &StoredEvent, expires_at: DateTime<Utc>) -> Result<PutOutcome, StoreError> {
        black_box(pulse_dynamodb::event_item(event, expires_at)?);
        Ok(PutOutcome::Stored)
    }
}

const FIXTURES: [&str; 3] = ["collect/pageview", "collect/event", "collect/beacon-text-plain"];
const REQUESTS: usize = 30_000;

fn main() {
    let fixtures = FIXTURES.map(pulse_test_support::event);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let site = Site::new(
        SiteId::parse("demo").unwrap(),
        vec!["localhost".into()],
        TokenHash::of("bench"),
    );
    // The per-site limit stays on (its cost is part of a hit's), high enough for the bench's rate.
    let config = Config::from_lookup(|name| match name {
        "TABLE_NAME" => Some("bench".into()),
        "SITE_HIT_RATE_LIMIT" => Some("100000".into()),
        _ => None,
    })
    .unwrap();
    let app = CollectApp::new(ItemSink(MemoryStore::with_site(site)), &config);

    // Warm-up: first-use initialisation (UA regexes, bot list, caches) is a cold-start cost, not per request.
    let warmup_started = Instant::now();
    runtime.block_on(handle(&app, lambda_http::request::from_str(&fixtures[0]).unwrap()));
    println!(
        "first request (lazy UA parser and bot list initialisation): {:.2} ms",
        warmup_started.elapsed().as_secs_f64() * 1e3
    );

    let requests: Vec<_> = (0..REQUESTS)
        .map(|i| lambda_http::request::from_str(&fixtures[i % fixtures.len()]).unwrap())
        .collect();
    let started = Instant::now();
    runtime.block_on(async {
        for request in requests {
            handle(&app, request).await;
        }
    });
    let handler_us = started.elapsed().as_secs_f64() * 1e6 / REQUESTS as f64;

    let started = Instant::now();
    runtime.block_on(async {
        for i in 0..REQUESTS {
            handle(
                &app,
                lambda_http::request::from_str(&fixtures[i % fixtures.len()]).unwrap(),
            )
            .await;
        }
    });
    let with_decoding_us = started.elapsed().as_secs_f64() * 1e6 / REQUESTS as f64;

    println!("collect handler, {REQUESTS} requests (pageview, event, base64 beacon), store = in-process sink:");
    println!("  handler only (parse, validate, enrich, build item): {handler_us:.2} µs/request");
    println!("  plus API Gateway event JSON decoding:               {with_decoding_us:.2} µs/request");
}

async fn handle(app: &CollectApp<ItemSink>, request: lambda_http::Request) {
    let response = function_handler(app, request).await.unwrap();
    assert_eq!(response.status(), 204, "benchmark requests must be accepted");
}
