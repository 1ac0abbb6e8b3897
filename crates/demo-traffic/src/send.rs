//! Sending the hits and counting what came of them.

use super::*;

#[derive(Default)]
pub(crate) struct Stats {
    pub(crate) visitors: AtomicU64,
    pub(crate) turned_away: AtomicU64,
    pub(crate) hits: AtomicU64,
    pub(crate) accepted: AtomicU64,
    /// Non-204 answers by status code.
    pub(crate) rejected: Mutex<BTreeMap<u16, u64>>,
    /// Visits over (or ended early); `visitors - finished` are still browsing.
    pub(crate) finished: AtomicU64,
    pub(crate) timeouts: AtomicU64,
    pub(crate) connect_errors: AtomicU64,
    pub(crate) other_errors: AtomicU64,
    pub(crate) reported_failure: AtomicBool,
}

impl Stats {
    pub(crate) fn record_status(&self, status: u16) {
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

    pub(crate) fn record_failure(&self, err: &reqwest::Error) {
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

    pub(crate) fn summary(&self, elapsed: Duration) -> String {
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
pub(crate) struct Sender {
    pub(crate) client: Client,
    pub(crate) url: Url,
    pub(crate) site: String,
    pub(crate) stats: Arc<Stats>,
    /// `ORIGIN_VERIFY_SECRET`, when `make dev` runs with one: the visitors then arrive as through
    /// CloudFront, which adds it to every request.
    pub(crate) origin_verify: Option<String>,
}

impl Sender {
    pub(crate) async fn send(&self, visitor: &Visitor, hit: &Value) {
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

pub(crate) fn http_client() -> reqwest::Result<Client> {
    Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(REQUEST_TIMEOUT)
        // Talk to `--base` and nothing else: no proxy from the environment, no redirects.
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(64)
        .build()
}
