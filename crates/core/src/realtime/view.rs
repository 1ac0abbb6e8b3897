//! The realtime view: `GET /sites/{siteId}/realtime`, computed from the window's rollups and the newest
//! raw events.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{GoalTotals, Minute, MinuteRollup, VisitorKey, VisitorState};
use crate::event::{EventDetail, EventKind, StoredEvent};
use crate::site::SiteId;
use crate::time::iso_millis;

pub const MAX_MINUTES: u32 = 30;
pub const MAX_LIMIT: usize = 100;
pub const MAX_EVENTS: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RealtimeParams {
    /// Window length: the current UTC minute and the `minutes - 1` before it.
    pub minutes: u32,
    /// Length of the top lists.
    pub limit: usize,
    /// Length of the event feed.
    pub events: usize,
}

impl Default for RealtimeParams {
    fn default() -> Self {
        Self {
            minutes: 5,
            limit: 10,
            events: 20,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParamError {
    pub field: &'static str,
    pub message: String,
}

impl RealtimeParams {
    /// Parses the query parameters; absent ones take their defaults.
    pub fn parse<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<Self, ParamError> {
        let defaults = Self::default();
        let bounded = |field: &'static str, min: u64, max: u64, default: u64| -> Result<u64, ParamError> {
            let Some(raw) = get(field) else {
                return Ok(default);
            };
            raw.trim()
                .parse::<u64>()
                .ok()
                .filter(|v| (min..=max).contains(v))
                .ok_or_else(|| ParamError {
                    field,
                    message: format!("{field} must be a whole number from {min} to {max}"),
                })
        };
        Ok(Self {
            minutes: bounded("minutes", 1, MAX_MINUTES.into(), defaults.minutes.into())? as u32,
            limit: bounded("limit", 1, MAX_LIMIT as u64, defaults.limit as u64)? as usize,
            events: bounded("events", 0, MAX_EVENTS as u64, defaults.events as u64)? as usize,
        })
    }
}

/// The minutes a query covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub first: Minute,
    pub last: Minute,
}

impl Window {
    pub fn ending_at(now: DateTime<Utc>, minutes: u32) -> Self {
        let last = Minute::of(now);
        Self {
            first: last.plus(1 - i64::from(minutes)),
            last,
        }
    }

    pub fn contains(&self, minute: Minute) -> bool {
        (self.first..=self.last).contains(&minute)
    }

    pub fn starts_at(&self) -> DateTime<Utc> {
        self.first.start()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RealtimeView {
    pub site_id: SiteId,
    pub minutes: u32,
    pub generated_at: String,
    pub current_visitors: usize,
    pub page_views: u64,
    pub active_pages: Vec<PathCount>,
    pub countries: Vec<CountryCount>,
    pub referrers: Vec<ReferrerCount>,
    pub timeline: Vec<TimelinePoint>,
    pub goals: Vec<GoalCount>,
    pub recent_events: Vec<FeedEvent>,
}

/// One goal over the window: conversions, distinct converting visitors, the conversions' summed value,
/// and converting visitors / current visitors.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GoalCount {
    pub goal: String,
    pub conversions: u64,
    pub visitors: usize,
    pub value: f64,
    pub conversion_rate: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathCount {
    pub path: String,
    pub visitors: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CountryCount {
    pub country: String,
    pub visitors: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReferrerCount {
    pub referrer: String,
    pub visitors: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TimelinePoint {
    pub minute: String,
    pub visitors: usize,
    pub page_views: u64,
}

/// One entry of the live feed; the same objects go out over WebSockets. `id` is the event's id, so a
/// client merging pushed events into a polled feed can drop the ones it already has.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum FeedEvent {
    Pageview {
        id: String,
        path: String,
        timestamp: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        country: Option<String>,
        device: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        browser: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        referrer: Option<String>,
    },
    Event {
        id: String,
        name: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        value: Option<f64>,
        path: String,
        timestamp: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        country: Option<String>,
        device: String,
    },
    Outbound {
        id: String,
        url: String,
        path: String,
        timestamp: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        country: Option<String>,
        device: String,
    },
    /// A goal the event with the same timestamp completed: `path` for a page goal, `name` for an event
    /// goal. Its `id` is the event's, a `:` and the goal's name.
    Goal {
        id: String,
        goal: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        path: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        value: Option<f64>,
        timestamp: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        country: Option<String>,
        device: String,
    },
}

impl FeedEvent {
    /// The feed entries of one event, in the order they happened: the event, then each goal it
    /// completed.
    pub fn entries_of(event: &StoredEvent) -> Vec<FeedEvent> {
        let mut entries = vec![FeedEvent::from(event)];
        entries.extend(event.goals.iter().map(|hit| FeedEvent::Goal {
            id: format!("{}:{}", event.id, hit.goal),
            goal: hit.goal.to_string(),
            path: (event.kind() == EventKind::Pageview).then(|| event.path.clone()),
            name: event.name().map(str::to_owned),
            value: hit.value,
            timestamp: iso_millis(event.ts),
            country: event.country.clone(),
            device: event.device.clone(),
        }));
        entries
    }
}

impl From<&StoredEvent> for FeedEvent {
    fn from(event: &StoredEvent) -> Self {
        let id = event.id.to_string();
        let timestamp = iso_millis(event.ts);
        let path = event.path.clone();
        let country = event.country.clone();
        let device = event.device.clone();
        match &event.detail {
            EventDetail::Pageview => FeedEvent::Pageview {
                id,
                path,
                timestamp,
                country,
                device,
                browser: event.browser.clone(),
                referrer: event.referrer.clone(),
            },
            EventDetail::Event { name, value } => FeedEvent::Event {
                id,
                name: name.clone(),
                value: *value,
                path,
                timestamp,
                country,
                device,
            },
            EventDetail::Outbound { url } => FeedEvent::Outbound {
                id,
                url: url.clone(),
                path,
                timestamp,
                country,
                device,
            },
        }
    }
}

/// Builds the view. `rollups` may include minutes outside the window (they are ignored, so an item that
/// DynamoDB has not yet deleted after its TTL is never read as current).
/// `recent` are the newest raw events, in any order.
pub fn build_view(
    site: &SiteId,
    params: &RealtimeParams,
    now: DateTime<Utc>,
    rollups: impl IntoIterator<Item = (Minute, MinuteRollup)>,
    recent: &[StoredEvent],
) -> RealtimeView {
    let window = Window::ending_at(now, params.minutes);
    let mut minutes: BTreeMap<Minute, (HashSet<VisitorKey>, u64)> = window
        .first
        .through(window.last)
        .map(|minute| (minute, Default::default()))
        .collect();
    let mut visitors: HashMap<VisitorKey, VisitorState> = HashMap::new();
    let mut goal_totals: Vec<BTreeMap<String, GoalTotals>> = Vec::new();
    for (minute, rollup) in rollups {
        let Some((minute_visitors, minute_pageviews)) = minutes.get_mut(&minute) else {
            continue;
        };
        *minute_pageviews += rollup.counts.pageviews;
        goal_totals.push(rollup.counts.goals);
        for part in &rollup.parts {
            for (visitor, state) in &part.visitors {
                visitors.entry(*visitor).or_default().merge(state);
                minute_visitors.insert(*visitor);
            }
        }
    }

    let top = |values: Vec<&str>| -> Vec<(String, usize)> {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for value in values {
            *counts.entry(value).or_default() += 1;
        }
        let mut counts: Vec<(String, usize)> = counts.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        counts.truncate(params.limit);
        counts
    };
    let latest = |pick: fn(&VisitorState) -> Option<&str>| top(visitors.values().filter_map(pick).collect());

    let mut recent: Vec<&StoredEvent> = recent
        .iter()
        .filter(|e| e.ts >= window.starts_at() && e.ts <= now)
        .collect();
    recent.sort_by(|a, b| (b.ts, b.id.as_str()).cmp(&(a.ts, a.id.as_str())));
    // Newest first: each event's goal entries come just above it.
    let mut feed: Vec<FeedEvent> = recent
        .into_iter()
        .flat_map(|event| FeedEvent::entries_of(event).into_iter().rev())
        .collect();
    feed.truncate(params.events);

    let mut goals: BTreeMap<&str, GoalCount> = BTreeMap::new();
    for (goal, totals) in goal_totals.iter().flat_map(|totals| totals.iter()) {
        let count = goals.entry(goal.as_str()).or_insert_with(|| GoalCount {
            goal: goal.clone(),
            conversions: 0,
            visitors: 0,
            value: 0.0,
            conversion_rate: 0.0,
        });
        count.conversions += totals.conversions;
        count.value = crate::number::saturating_add(count.value, totals.value);
    }
    for state in visitors.values() {
        for goal in &state.goals {
            if let Some(count) = goals.get_mut(goal.as_str()) {
                count.visitors += 1;
            }
        }
    }
    let mut goals: Vec<GoalCount> = goals.into_values().collect();
    for goal in &mut goals {
        goal.conversion_rate = match visitors.len() {
            0 => 0.0,
            current => goal.visitors as f64 / current as f64,
        };
    }
    goals.sort_by(|a, b| b.conversions.cmp(&a.conversions).then_with(|| a.goal.cmp(&b.goal)));

    RealtimeView {
        site_id: site.clone(),
        minutes: params.minutes,
        generated_at: iso_millis(now),
        current_visitors: visitors.len(),
        page_views: minutes.values().map(|(_, pageviews)| pageviews).sum(),
        active_pages: latest(|s| s.page.as_ref().map(|p| p.value.as_str()))
            .into_iter()
            .map(|(path, visitors)| PathCount { path, visitors })
            .collect(),
        countries: latest(|s| s.country.as_ref().map(|c| c.value.as_str()))
            .into_iter()
            .map(|(country, visitors)| CountryCount { country, visitors })
            .collect(),
        referrers: latest(|s| s.referrer.as_ref().map(|r| r.value.as_str()))
            .into_iter()
            .map(|(referrer, visitors)| ReferrerCount { referrer, visitors })
            .collect(),
        timeline: minutes
            .into_iter()
            .map(|(minute, (visitors, page_views))| TimelinePoint {
                minute: minute.to_string(),
                visitors: visitors.len(),
                page_views,
            })
            .collect(),
        goals,
        recent_events: feed,
    }
}

#[cfg(test)]
mod tests;
