//! The tracker wire format (compatible with the ts-analytics trackers): parsing and validation.
//!
//! Besides our own tracker's shape, the shapes ts-analytics' trackers send are accepted as they are:
//! `en`/`ec`/`ev` (event name, category, value), `e:"event"` with `en:"outbound_click"` (an outbound
//! click), events without `u` (GA4-style `gtag`: the page comes from the request's Referer or Origin),
//! and heatmap hits (`hm_click`, `hm_move`, `hm_scroll`), which are accepted and not stored.
//!
//! The body is parsed into a JSON object first and each field is then checked by hand, so every
//! rejection names the offending field.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use url::Url;

use crate::event::{EventDetail, EventKind, PropValue};
use crate::site::SiteId;

pub const MAX_BODY_BYTES: usize = 8 * 1024;
pub const MAX_URL_LEN: usize = 2048;
pub const MAX_TITLE_CHARS: usize = 300;
pub const MAX_SESSION_ID_LEN: usize = 64;
pub const MAX_CLIENT_ID_LEN: usize = 64;
pub const MAX_EVENT_NAME_CHARS: usize = 100;
/// Ten properties of at most 200 characters keep a hit within a few write units (one site's hits
/// should not cost much more to store than another's): see the per-site limit in [`crate::rate`].
pub const MAX_EXTRA_PROPS: usize = 10;
pub const MAX_PROP_KEY_CHARS: usize = 64;
pub const MAX_PROP_STRING_CHARS: usize = 200;

/// A rejected hit: what is wrong, and with which field (`None` for the body as a whole).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct HitError {
    pub field: Option<String>,
    pub message: String,
}

impl HitError {
    fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    fn body(message: impl Into<String>) -> Self {
        Self {
            field: None,
            message: message.into(),
        }
    }
}

/// What a valid body asks for.
#[derive(Debug, Clone, PartialEq)]
// Lives for one request and is matched at once: boxing would only add an allocation per hit.
#[allow(clippy::large_enum_variant)]
pub enum ParsedHit {
    Track(ValidHit),
    /// A heatmap hit (`hm_click`, `hm_move`, `hm_scroll`): heatmaps are not supported, so it is accepted
    /// (a tracker must not retry it) and nothing is stored.
    Heatmap,
}

/// The ts-analytics name of an outbound click sent as a custom event.
const OUTBOUND_EVENT_NAME: &str = "outbound_click";

/// A hit whose every field has been checked. Nothing here has been trusted without validation.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidHit {
    pub site: SiteId,
    /// The kind, with a custom event's name and value or an outbound click's target.
    pub detail: EventDetail,
    /// The page: `u`, or for a hit without `u` the request's Referer or Origin.
    pub url: Url,
    /// False when the page came from an Origin or an origin-only Referer: the path is unknown.
    pub path_known: bool,
    pub referrer: Option<Url>,
    pub title: Option<String>,
    pub session_id: Option<String>,
    pub screen_width: Option<u32>,
    pub screen_height: Option<u32>,
    /// The remaining properties.
    pub props: BTreeMap<String, PropValue>,
    /// Client event id (`id`): `[A-Za-z0-9_-]{1,64}`; a retry carrying it is stored once.
    pub client_id: Option<String>,
}

impl ParsedHit {
    /// Parses a body. `page_header` is the request's Referer, else its Origin: the page of a hit that
    /// has no `u`.
    pub fn parse(body: &[u8], page_header: Option<&str>) -> Result<Self, HitError> {
        let value: Value = serde_json::from_slice(body).map_err(|_| HitError::body("body is not valid JSON"))?;
        let Value::Object(mut fields) = value else {
            return Err(HitError::body("body must be a JSON object"));
        };

        let site = SiteId::parse(required_str(&fields, "s")?).map_err(|e| HitError::field("s", e.to_string()))?;
        let mut kind = match required_str(&fields, "e")? {
            "pageview" => EventKind::Pageview,
            "event" => EventKind::Event,
            "outbound" => EventKind::Outbound,
            "hm_click" | "hm_move" | "hm_scroll" => return Ok(ParsedHit::Heatmap),
            _ => {
                return Err(HitError::field("e", "e must be one of pageview, event, outbound"));
            }
        };
        let (mut url, path_known) = match fields.get("u") {
            None | Some(Value::Null) => page_from_header(page_header)?,
            Some(_) => (web_url("u", required_str(&fields, "u")?)?, true),
        };
        let ts_name = optional_str(&fields, "en", MAX_EVENT_NAME_CHARS)?
            .filter(|name| !name.trim().is_empty())
            .map(str::to_owned);
        let ts_category = optional_str(&fields, "ec", MAX_PROP_STRING_CHARS)?
            .filter(|category| !category.is_empty())
            .map(str::to_owned);
        let ts_value = match fields.get("ev") {
            None | Some(Value::Null) => None,
            Some(value) => Some(storable_number("ev", value)?),
        };
        if kind == EventKind::Event && ts_name.as_deref() == Some(OUTBOUND_EVENT_NAME) {
            kind = EventKind::Outbound;
        }
        let referrer = optional_str(&fields, "r", MAX_URL_LEN)?
            .filter(|r| !r.is_empty())
            .map(|r| Url::parse(r).map_err(|_| HitError::field("r", "r must be an absolute URL")))
            .transpose()?;
        let title = optional_str(&fields, "t", MAX_TITLE_CHARS)?.map(str::to_owned);
        let session_id = optional_str(&fields, "sid", MAX_SESSION_ID_LEN)?.map(str::to_owned);
        let screen_width = optional_dimension(&fields, "sw")?;
        let screen_height = optional_dimension(&fields, "sh")?;
        let client_id = optional_str(&fields, "id", MAX_CLIENT_ID_LEN)?
            .map(|id| {
                let valid = !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                valid
                    .then(|| id.to_owned())
                    .ok_or_else(|| HitError::field("id", "id must be 1 to 64 characters of A-Z, a-z, 0-9, '_', '-'"))
            })
            .transpose()?;

        let mut props = match fields.remove("p") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(props)) => props,
            Some(_) => return Err(HitError::field("p", "p must be an object")),
        };
        let detail = match kind {
            EventKind::Pageview => {
                // ts-analytics' full tracker sends the page's path and title in `p` too; its
                // `trackPageView(path)` names a virtual page there, which then is the page's path.
                if let Some(Value::String(path)) = props.remove("path")
                    && path.starts_with('/')
                    && path.len() <= MAX_URL_LEN
                {
                    let path = path.split(['?', '#']).next().unwrap_or_default();
                    url.set_path(path);
                }
                props.remove("title");
                EventDetail::Pageview
            }
            EventKind::Event => {
                // `en` names the event when present; `p.name` is then an ordinary property.
                let name = match ts_name {
                    Some(name) => name,
                    None => match props.remove("name") {
                        Some(Value::String(name)) if !name.trim().is_empty() => name,
                        Some(Value::String(_)) | None | Some(Value::Null) => {
                            return Err(HitError::field("p.name", "p.name (or en) is required for an event"));
                        }
                        Some(_) => return Err(HitError::field("p.name", "p.name must be a string")),
                    },
                };
                if name.chars().count() > MAX_EVENT_NAME_CHARS {
                    return Err(HitError::field("p.name", "p.name is longer than 100 characters"));
                }
                let value = match ts_value {
                    Some(value) => Some(value),
                    None => match props.remove("value") {
                        None | Some(Value::Null) => None,
                        Some(value) => Some(storable_number("p.value", &value)?),
                    },
                };
                if let Some(category) = ts_category {
                    props.entry("category").or_insert(Value::String(category));
                }
                EventDetail::Event { name, value }
            }
            EventKind::Outbound => {
                let url = match props.remove("url") {
                    Some(Value::String(link)) => web_url("p.url", &link)?,
                    None | Some(Value::Null) => {
                        return Err(HitError::field("p.url", "p.url is required for an outbound click"));
                    }
                    Some(_) => return Err(HitError::field("p.url", "p.url must be a string")),
                };
                // ts-analytics sends the target's host besides its URL: derivable, not a property.
                props.remove("hostname");
                EventDetail::Outbound { url: url.into() }
            }
        };
        let props = extra_props(props)?;

        Ok(ParsedHit::Track(ValidHit {
            site,
            detail,
            url,
            path_known,
            referrer,
            title,
            session_id,
            screen_width,
            screen_height,
            props,
            client_id,
        }))
    }
}

/// The page of a hit without `u`: the request's Referer (or Origin). A browser sends only the origin to
/// another site under the default referrer policy, so a bare `https://host/` says nothing of the path.
fn page_from_header(page_header: Option<&str>) -> Result<(Url, bool), HitError> {
    let url = page_header
        .and_then(|header| web_url("u", header).ok())
        .ok_or_else(|| {
            HitError::field(
                "u",
                "u is required (or send the hit from the page, with a Referer or Origin)",
            )
        })?;
    let path_known = url.path() != "/" || url.query().is_some();
    Ok((url, path_known))
}

/// A number DynamoDB can store (see [`crate::number`]): out of range is the client's error, never a
/// failed write.
fn storable_number(field: &str, value: &Value) -> Result<f64, HitError> {
    let Value::Number(number) = value else {
        return Err(HitError::field(field, format!("{field} must be a number")));
    };
    number
        .as_f64()
        .filter(|v| crate::number::is_storable(*v))
        .ok_or_else(|| {
            HitError::field(
                field,
                format!("{field} must be 0 or of magnitude from 1e-130 up to (not including) 1e126"),
            )
        })
}

fn required_str<'a>(fields: &'a Map<String, Value>, name: &str) -> Result<&'a str, HitError> {
    match fields.get(name) {
        Some(Value::String(s)) => Ok(s),
        None | Some(Value::Null) => Err(HitError::field(name, format!("{name} is required"))),
        Some(_) => Err(HitError::field(name, format!("{name} must be a string"))),
    }
}

fn optional_str<'a>(fields: &'a Map<String, Value>, name: &str, max_chars: usize) -> Result<Option<&'a str>, HitError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= max_chars => Ok(Some(s)),
        Some(Value::String(_)) => Err(HitError::field(
            name,
            format!("{name} is longer than {max_chars} characters"),
        )),
        Some(_) => Err(HitError::field(name, format!("{name} must be a string"))),
    }
}

fn optional_dimension(fields: &Map<String, Value>, name: &str) -> Result<Option<u32>, HitError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|v| u32::try_from(v).ok())
            .map(Some)
            .ok_or_else(|| HitError::field(name, format!("{name} must be a non-negative integer"))),
        Some(_) => Err(HitError::field(name, format!("{name} must be a non-negative integer"))),
    }
}

/// An absolute http(s) URL with a host, at most [`MAX_URL_LEN`] characters. Rejects `javascript:`,
/// `data:`, `file:` and relative URLs.
fn web_url(field: &str, raw: &str) -> Result<Url, HitError> {
    if raw.len() > MAX_URL_LEN {
        return Err(HitError::field(
            field,
            format!("{field} is longer than {MAX_URL_LEN} characters"),
        ));
    }
    let url = Url::parse(raw)
        .map_err(|_| HitError::field(field, format!("{field} must be an absolute http or https URL")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(HitError::field(
            field,
            format!("{field} must be an absolute http or https URL"),
        ));
    }
    Ok(url)
}

fn extra_props(props: Map<String, Value>) -> Result<BTreeMap<String, PropValue>, HitError> {
    if props.len() > MAX_EXTRA_PROPS {
        return Err(HitError::field(
            "p",
            format!("p has more than {MAX_EXTRA_PROPS} properties"),
        ));
    }
    props
        .into_iter()
        .map(|(key, value)| {
            let field = || format!("p.{}", key.chars().take(MAX_PROP_KEY_CHARS).collect::<String>());
            if key.is_empty() || key.chars().count() > MAX_PROP_KEY_CHARS {
                return Err(HitError::field(field(), "property names must be 1 to 64 characters"));
            }
            let value = match value {
                Value::String(s) if s.chars().count() <= MAX_PROP_STRING_CHARS => PropValue::Text(s),
                Value::String(_) => {
                    return Err(HitError::field(
                        field(),
                        "property strings must be at most 200 characters",
                    ));
                }
                Value::Number(_) => PropValue::Number(storable_number(&field(), &value)?),
                Value::Bool(b) => PropValue::Bool(b),
                _ => {
                    return Err(HitError::field(
                        field(),
                        "properties must be strings, numbers or booleans",
                    ));
                }
            };
            Ok((key, value))
        })
        .collect()
}

#[cfg(test)]
mod tests;
