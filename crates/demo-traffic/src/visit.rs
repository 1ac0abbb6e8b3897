//! A visitor and the hits of one visit.

use super::*;

#[derive(Debug)]
pub(crate) struct Visitor {
    pub(crate) user_agent: String,
    pub(crate) country: &'static str,
    pub(crate) session_id: String,
    pub(crate) screen: (u32, u32),
}

impl Visitor {
    pub(crate) fn new(rng: &mut fastrand::Rng, serial: u64) -> Self {
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
pub(crate) fn base_hit(site: &str, visitor: &Visitor, kind: &str, url: &str) -> Value {
    json!({
        "s": site,
        "e": kind,
        "u": url,
        "sid": visitor.session_id,
        "sw": visitor.screen.0,
        "sh": visitor.screen.1,
    })
}

pub(crate) fn pageview_hit(site: &str, visitor: &Visitor, url: &str, page: &Page, referrer: Option<&str>) -> Value {
    let mut hit = base_hit(site, visitor, "pageview", url);
    hit["t"] = json!(page.title);
    if let Some(referrer) = referrer {
        hit["r"] = json!(referrer);
    }
    hit
}

pub(crate) fn event_hit(site: &str, visitor: &Visitor, url: &str, name: &str, value: Option<f64>) -> Value {
    let mut hit = base_hit(site, visitor, "event", url);
    hit["p"] = match value {
        Some(value) => json!({ "name": name, "value": value }),
        None => json!({ "name": name }),
    };
    hit
}

pub(crate) fn outbound_hit(site: &str, visitor: &Visitor, url: &str, link: &str) -> Value {
    let mut hit = base_hit(site, visitor, "outbound", url);
    hit["p"] = json!({ "url": link });
    hit
}

/// A custom event that fits the page, so the event breakdowns look plausible.
pub(crate) fn custom_event(rng: &mut fastrand::Rng, page: &Page) -> (&'static str, Option<f64>) {
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
pub(crate) fn landing(rng: &mut fastrand::Rng) -> (&'static Page, String, Option<&'static str>) {
    let page = pick(rng, PAGES);
    if rng.f64() < CAMPAIGN_CHANCE {
        // Clicks from an email client carry no referrer.
        let url = format!("{DEMO_ORIGIN}{}{CAMPAIGN_QUERY}", page.path);
        return (page, url, None);
    }
    (page, format!("{DEMO_ORIGIN}{}", page.path), *pick(rng, REFERRERS))
}

/// Any page but the current one: a reload is not a navigation.
pub(crate) fn next_page(rng: &mut fastrand::Rng, current: &Page) -> &'static Page {
    loop {
        let page = pick(rng, PAGES);
        if page != current {
            return page;
        }
    }
}

/// `secs` of simulated time, in real time at `speed`.
pub(crate) fn scaled(secs: f64, speed: f64) -> Duration {
    Duration::from_secs_f64(secs / speed)
}

/// One visit: 1 to 8 page views 5 to 40 s apart, sometimes an event, sometimes an outbound click
/// (which ends the visit: the visitor has left for another site).
pub(crate) async fn visit(sender: Arc<Sender>, mut rng: fastrand::Rng, serial: u64, speed: f64) {
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
