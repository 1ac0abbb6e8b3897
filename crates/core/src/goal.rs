//! Goals: what a site owner counts as a conversion. Defined per site (stored with the site, so the
//! lookup collect already makes brings them), matched at ingest, and recorded on the raw event.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::event::{EventKind, PropValue, StoredEvent};

/// At most this many goals per site: matching is a linear scan per hit.
pub const MAX_GOALS_PER_SITE: usize = 50;

/// A goal's name, `[A-Za-z0-9 _.-]{1,64}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct GoalName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("goal name must be 1 to 64 characters of A-Z, a-z, 0-9, space, '_', '.', '-'")]
pub struct GoalNameError;

impl GoalName {
    pub fn parse(raw: &str) -> Result<Self, GoalNameError> {
        let valid_char = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b' ' | b'_' | b'.' | b'-');
        if raw.is_empty() || raw.len() > 64 || !raw.bytes().all(valid_char) {
            return Err(GoalNameError);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for GoalName {
    // `pad`, so that the admin CLI's tables line up (`{:<32}`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl<'de> Deserialize<'de> for GoalName {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        GoalName::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// What completes a goal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GoalRule {
    /// A page view of exactly this path.
    Page { path: String },
    /// A page view of a path starting with this.
    PagePrefix { prefix: String },
    /// A custom event of this name, optionally with a property of this value.
    Event {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        property: Option<(String, String)>,
    },
}

/// A goal as defined for a site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Goal {
    pub name: GoalName,
    pub rule: GoalRule,
    /// A fixed value per conversion; an event's own `value` wins over it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
}

impl Goal {
    pub fn matches(&self, event: &StoredEvent) -> bool {
        match (&self.rule, event.kind()) {
            (GoalRule::Page { path }, EventKind::Pageview) => event.path == *path,
            (GoalRule::PagePrefix { prefix }, EventKind::Pageview) => event.path.starts_with(prefix.as_str()),
            (GoalRule::Event { name, property }, EventKind::Event) => {
                event.name() == Some(name.as_str())
                    && property.as_ref().is_none_or(|(key, wanted)| {
                        event.props.get(key).is_some_and(|value| prop_text(value) == *wanted)
                    })
            }
            _ => false,
        }
    }

    /// The conversion this event makes, if it matches.
    pub fn convert(&self, event: &StoredEvent) -> Option<GoalHit> {
        self.matches(event).then(|| GoalHit {
            goal: self.name.clone(),
            value: event.value().or(self.value),
        })
    }
}

/// A property as the CLI's `--event-prop key=value` spells it: numbers in their shortest form
/// (`3`, not `3.0`), booleans as `true`/`false`.
fn prop_text(value: &PropValue) -> String {
    match value {
        PropValue::Text(text) => text.clone(),
        PropValue::Number(number) => number.to_string(),
        PropValue::Bool(flag) => flag.to_string(),
    }
}

/// A goal an event completed, with the conversion's value, recorded on the raw event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoalHit {
    #[serde(rename = "g")]
    pub goal: GoalName,
    #[serde(rename = "v", default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
}

/// The goals `event` completes among `goals`.
pub fn conversions(goals: &[Goal], event: &StoredEvent) -> Vec<GoalHit> {
    goals.iter().filter_map(|goal| goal.convert(event)).collect()
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::event::EventDetail;
    use crate::memory::sample_event;

    fn goal(rule: GoalRule, value: Option<f64>) -> Goal {
        Goal {
            name: GoalName::parse("signup").unwrap(),
            rule,
            value,
        }
    }

    #[test]
    fn names_are_checked() {
        assert!(GoalName::parse("Signed up 2.0_x-y").is_ok());
        for bad in ["", "a#b", "ü", &"x".repeat(65)] {
            assert!(GoalName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn each_rule_matches_what_it_says() {
        let mut page = sample_event(EventKind::Pageview, "p", Utc::now());
        page.path = "/signup/done".into();
        let mut docs = page.clone();
        docs.path = "/docs/install".into();
        let mut event = sample_event(EventKind::Event, "e", Utc::now());
        event.detail = EventDetail::Event {
            name: "button_click".into(),
            value: None,
        };
        event.props.insert("plan".into(), PropValue::Text("pro".into()));
        event.props.insert("seats".into(), PropValue::Number(3.0));
        let outbound = sample_event(EventKind::Outbound, "o", Utc::now());

        let exact = goal(
            GoalRule::Page {
                path: "/signup/done".into(),
            },
            None,
        );
        assert!(exact.matches(&page) && !exact.matches(&docs) && !exact.matches(&event));
        let prefix = goal(
            GoalRule::PagePrefix {
                prefix: "/docs/".into(),
            },
            None,
        );
        assert!(prefix.matches(&docs) && !prefix.matches(&page));
        let named = |property: Option<(&str, &str)>| {
            goal(
                GoalRule::Event {
                    name: "button_click".into(),
                    property: property.map(|(k, v)| (k.into(), v.into())),
                },
                None,
            )
        };
        assert!(named(None).matches(&event));
        assert!(named(Some(("plan", "pro"))).matches(&event));
        assert!(named(Some(("seats", "3"))).matches(&event));
        assert!(!named(Some(("plan", "free"))).matches(&event));
        assert!(!named(Some(("missing", "x"))).matches(&event));
        assert!(!named(None).matches(&page) && !named(None).matches(&outbound));
        // A page view at a path named like an event goal is no event.
        page.path = "button_click".into();
        assert!(!named(None).matches(&page));
    }

    #[test]
    fn the_events_own_value_wins_over_the_goals() {
        let fixed = goal(
            GoalRule::Event {
                name: "buy".into(),
                property: None,
            },
            Some(10.0),
        );
        let mut event = sample_event(EventKind::Event, "e", Utc::now());
        event.detail = EventDetail::Event {
            name: "buy".into(),
            value: None,
        };
        assert_eq!(fixed.convert(&event).unwrap().value, Some(10.0));
        event.detail = EventDetail::Event {
            name: "buy".into(),
            value: Some(49.5),
        };
        assert_eq!(fixed.convert(&event).unwrap().value, Some(49.5));
    }
}
