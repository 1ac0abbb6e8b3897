//! Section 3: collect → visible in the realtime view, through the local stack.

use super::*;

pub(crate) struct VisibleResult {
    /// `POST /collect` until its response.
    pub(crate) collect: Vec<Duration>,
    /// `POST /collect` until a realtime view counts the page view.
    pub(crate) visible: Vec<Duration>,
}

pub(crate) async fn bench_collect_to_visible(endpoint: &str) -> VisibleResult {
    println!("[3/3] {HITS} page views through the local gateway and stream poller …");
    let stack = Stack::spawn(endpoint).await;
    let http = reqwest::Client::new();

    // The first hit creates the day's salt and fills the site caches: a cold start, not measured.
    let mut seen = stack.page_views(&http).await;
    stack.post_page_view(&http, "/bench/warm-up").await;
    seen = stack.wait_for_page_views(&http, seen + 1).await;

    let mut rng = SplitMix(7);
    let mut result = VisibleResult {
        collect: Vec::new(),
        visible: Vec::new(),
    };
    for hit in 0..HITS {
        // A random pause de-phases hits from the poller: sent right after a detection, every hit
        // would land just after a poll and wait a whole interval.
        let pause = rng.below(STREAM_POLL.as_millis() as u64);
        tokio::time::sleep(Duration::from_millis(pause)).await;

        let started = Instant::now();
        stack.post_page_view(&http, &format!("/bench/{hit}")).await;
        result.collect.push(started.elapsed());
        seen = stack.wait_for_page_views(&http, seen + 1).await;
        result.visible.push(started.elapsed());
    }
    result
}

/// The local stack on a fresh table with a `demo` site, as the API tests have it.
pub(crate) struct Stack {
    pub(crate) address: String,
    pub(crate) token: String,
}

impl Stack {
    pub(crate) async fn spawn(endpoint: &str) -> Self {
        let table = format!("bench-{}", EventId::random());
        let stack = LocalStack::start(endpoint, &table)
            .await
            .expect("the local stack starts on moto");
        let (_, token) = create_site(&stack.store, "demo").await;
        Self {
            address: stack.address,
            token,
        }
    }

    pub(crate) async fn post_page_view(&self, http: &reqwest::Client, path: &str) {
        let hit = json!({
            "s": "demo",
            "e": "pageview",
            "u": format!("https://example.com{path}"),
            "r": "https://www.google.com/",
        });
        let response = http
            .post(format!("{}/collect", self.address))
            .header("content-type", "text/plain")
            .header("user-agent", CHROME)
            .header("cloudfront-viewer-country", "DE")
            .body(hit.to_string())
            .send()
            .await
            .expect("the gateway answers POST /collect");
        assert_eq!(
            response.status(),
            reqwest::StatusCode::NO_CONTENT,
            "the hit is accepted"
        );
    }

    /// Polls the realtime view every `VIEW_POLL` until it counts at least `at_least` page views.
    pub(crate) async fn wait_for_page_views(&self, http: &reqwest::Client, at_least: u64) -> u64 {
        let deadline = Instant::now() + VISIBLE_TIMEOUT;
        loop {
            let seen = self.page_views(http).await;
            if seen >= at_least {
                return seen;
            }
            assert!(
                Instant::now() < deadline,
                "page view {at_least} not visible after {VISIBLE_TIMEOUT:?} (seen {seen})"
            );
            tokio::time::sleep(VIEW_POLL).await;
        }
    }

    pub(crate) async fn page_views(&self, http: &reqwest::Client) -> u64 {
        let view: Value = http
            .get(format!("{}/sites/demo/realtime", self.address))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("the gateway answers GET /sites/demo/realtime")
            .error_for_status()
            .expect("the realtime view is readable with the site's token")
            .json()
            .await
            .expect("the realtime view is JSON");
        view["pageViews"].as_u64().expect("the view has a pageViews count")
    }
}
