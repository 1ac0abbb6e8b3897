//! Trust, tried as a user (or an attacker) would through the gateway: hits only from the site's own
//! pages, nothing around the CDN when its secret is set, revocation with no operator, an exact cap on
//! dashboards, and one site's flood leaving the others whole.

use std::time::{Duration, Instant};

use pulse_core::{ReadToken, SiteId};
use reqwest::StatusCode;
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use pulse_test_support::websocket::closed_within;

use crate::helpers::{FIREFOX, TestApp, moto_endpoint, spawn_app, spawn_app_at};
use crate::live::holds_within;

const SECRET: &str = "0123456789abcdef0123456789abcdef-cdn";

/// A page view on `host`, one of the site's domains.
fn page_view_on(site: &str, host: &str) -> String {
    json!({"s": site, "e": "pageview", "u": format!("https://{host}/pricing")}).to_string()
}

fn page_view(site: &str) -> String {
    page_view_on(site, "example.com")
}

impl TestApp {
    async fn post_with(&self, body: String, headers: &[(&str, &str)]) -> StatusCode {
        let mut request = self
            .http
            .post(format!("{}/collect", self.address))
            .header("content-type", "text/plain")
            .header("user-agent", FIREFOX)
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap().status()
    }
}

/// A page on another site cannot make its visitors' browsers post hits for `demo` by naming one of
/// demo's pages in `u`; the site's own page can, and a server-side sender (no Origin) still can.
#[tokio::test]
async fn hits_from_a_browser_on_another_site_are_refused() {
    let app = spawn_app().await;
    let forged = app
        .post_with(page_view("demo"), &[("origin", "https://evil.example")])
        .await;
    assert_eq!(forged, StatusCode::FORBIDDEN);
    let beacon = app
        .post_with(page_view("demo"), &[("referer", "https://evil.example/x")])
        .await;
    assert_eq!(beacon, StatusCode::FORBIDDEN);
    let own = app
        .post_with(page_view("demo"), &[("origin", "https://www.example.com")])
        .await;
    assert_eq!(own, StatusCode::NO_CONTENT);
    assert_eq!(app.post_with(page_view("demo"), &[]).await, StatusCode::NO_CONTENT);
    assert_eq!(app.events().await.len(), 2, "only the accepted hits are stored");
}

/// With the origin secret configured as the template does, collect, the realtime API, the web files and
/// `$connect` refuse what did not come through the CDN, and serve what did (CloudFront adds the header).
#[tokio::test]
async fn with_the_origin_secret_only_cdn_requests_are_served() {
    let app = spawn_app_at(moto_endpoint(), vec![("ORIGIN_VERIFY_SECRET", SECRET.into())]).await;
    assert_eq!(app.post_with(page_view("demo"), &[]).await, StatusCode::FORBIDDEN);
    let via_cdn = app.post_with(page_view("demo"), &[("x-origin-verify", SECRET)]).await;
    assert_eq!(via_cdn, StatusCode::NO_CONTENT);
    assert_eq!(app.events().await.len(), 1);

    let realtime = |secret: Option<&'static str>| {
        let mut request = app
            .http
            .get(format!("{}/sites/demo/realtime", app.address))
            .bearer_auth(&app.token);
        if let Some(secret) = secret {
            request = request.header("x-origin-verify", secret);
        }
        request.send()
    };
    assert_eq!(realtime(None).await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(realtime(Some(SECRET)).await.unwrap().status(), StatusCode::OK);

    let dashboard = |secret: Option<&'static str>| {
        let mut request = app.http.get(format!("{}/dashboard", app.address));
        if let Some(secret) = secret {
            request = request.header("x-origin-verify", secret);
        }
        request.send()
    };
    assert_eq!(dashboard(None).await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(dashboard(Some(SECRET)).await.unwrap().status(), StatusCode::OK);

    let query = format!("siteId=demo&token={}", app.token);
    assert_eq!(app.refused_status(&query).await, 403);
    let mut request = app.ws_url(&query).into_client_request().unwrap();
    request.headers_mut().insert("x-origin-verify", SECRET.parse().unwrap());
    assert!(
        tokio_tungstenite::connect_async(request).await.is_ok(),
        "through the CDN"
    );
}

/// `rotate-token` with no flags (here: the registry write it makes): the dashboard of the old token is
/// closed by the broadcast, from the table's stream, within seconds; one that tries the old token 5 s
/// after the rotation is refused; the new token connects and stays. Deleting the site closes the rest.
#[tokio::test]
async fn revocation_needs_no_operator() {
    let app = spawn_app().await;
    let mut old = app.dashboard().await;
    let demo = SiteId::parse("demo").unwrap();
    let new_token = ReadToken::generate();
    let rotated_at = Instant::now();
    app.store.set_token_hash(&demo, &new_token.hash()).await.unwrap();
    assert!(
        closed_within(&mut old, Duration::from_secs(15)).await,
        "the old token's dashboard stays open"
    );
    eprintln!("closed {:?} after the rotation", rotated_at.elapsed());

    tokio::time::sleep(Duration::from_secs(5).saturating_sub(rotated_at.elapsed())).await;
    assert_eq!(
        app.refused_status(&format!("siteId=demo&token={}", app.token)).await,
        401
    );
    let mut new = app.dashboard_for("demo", Some(new_token.expose())).await;
    assert!(
        !closed_within(&mut new, Duration::from_secs(2)).await,
        "the new token's dashboard stays"
    );

    app.store.delete_site(&demo).await.unwrap();
    assert!(
        closed_within(&mut new, Duration::from_secs(15)).await,
        "a deleted site's dashboard stays open"
    );
}

/// Twelve dashboards connecting at once to a site with a cap of three: exactly three get in.
#[tokio::test]
async fn the_dashboard_cap_is_exact_under_concurrent_connects() {
    let app = spawn_app_at(moto_endpoint(), vec![("MAX_CONNECTIONS_PER_SITE", "3".into())]).await;
    let query = format!("siteId=demo&token={}", app.token);
    let attempts = (0..12).map(|_| tokio_tungstenite::connect_async(app.ws_url(&query)));
    let outcomes = futures::future::join_all(attempts).await;
    let admitted: Vec<_> = outcomes.into_iter().filter_map(Result::ok).collect();
    assert_eq!(admitted.len(), 3);
    drop(admitted);
    // Closed ones free their slots.
    assert!(
        holds_within(Duration::from_secs(10), async || {
            tokio_tungstenite::connect_async(app.ws_url(&query)).await.is_ok()
        })
        .await
    );
}

/// A site flooded at several times its limit gets 429 past it, and at most its limit a second is
/// stored; another site's hits in the same seconds are all accepted.
#[tokio::test]
async fn one_sites_flood_leaves_another_sites_hits_whole() {
    const LIMIT: usize = 10;
    let app = spawn_app_at(moto_endpoint(), vec![("SITE_HIT_RATE_LIMIT", LIMIT.to_string())]).await;
    app.add_site("quiet", false).await;
    let started = Instant::now();
    let flood = (0..LIMIT * 6).map(|_| app.post_with(page_view("demo"), &[]));
    let quiet = (0..LIMIT).map(|_| app.post_with(page_view_on("quiet", "quiet.example"), &[]));
    let (flood, quiet) = tokio::join!(futures::future::join_all(flood), futures::future::join_all(quiet));
    let seconds = started.elapsed().as_secs() as usize + 1;
    assert!(
        quiet.iter().all(|status| *status == StatusCode::NO_CONTENT),
        "{quiet:?}"
    );
    let accepted = flood.iter().filter(|status| **status == StatusCode::NO_CONTENT).count();
    let limited = flood
        .iter()
        .filter(|status| **status == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(accepted + limited, flood.len(), "{flood:?}");
    assert!(
        accepted >= 1 && accepted <= LIMIT * seconds,
        "{accepted} in {seconds} s"
    );
    eprintln!(
        "flood of {} hits: {accepted} stored, {limited} answered 429, in {seconds} s",
        flood.len()
    );
    let stored = app.events().await;
    let stored_for = |site: &str| {
        stored
            .iter()
            .filter(|item| crate::helpers::s(item, "site") == site)
            .count()
    };
    assert_eq!(stored_for("quiet"), LIMIT);
    assert_eq!(stored_for("demo"), accepted);
}
