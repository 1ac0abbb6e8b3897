//! The event source mappings of template.yaml, read from the template itself so that the local poller
//! applies exactly the filters, batch size and retry limit that Lambda will.

use anyhow::{Context as _, anyhow, bail};
use serde_json::Value;
use serde_norway::Value as Yaml;

/// One DynamoDB event source mapping.
#[derive(Debug, Clone)]
pub struct MappingSpec {
    pub function: String,
    pub batch_size: usize,
    pub max_retries: u32,
    /// `BisectBatchOnFunctionError`: a batch whose invocation fails is split in two, each half retried.
    pub bisect_on_error: bool,
    /// Lambda event-filtering patterns (ORed).
    pub filters: Vec<Value>,
}

/// The first DynamoDB event of the function `logical_id` in template.yaml.
pub fn mapping_from_template(logical_id: &str) -> anyhow::Result<MappingSpec> {
    let template: Yaml = pulse_dynamodb::template::parse().context("template.yaml is not YAML")?;
    let events = template
        .get("Resources")
        .and_then(|r| r.get(logical_id))
        .and_then(|f| f.get("Properties"))
        .and_then(|p| p.get("Events"))
        .and_then(Yaml::as_mapping)
        .ok_or_else(|| anyhow!("{logical_id} has no Events in template.yaml"))?;
    let properties = events
        .values()
        .find(|event| event.get("Type").and_then(Yaml::as_str) == Some("DynamoDB"))
        .and_then(|event| event.get("Properties"))
        .ok_or_else(|| anyhow!("{logical_id} has no DynamoDB event in template.yaml"))?;
    let number = |name: &str| -> anyhow::Result<u64> {
        let value = properties
            .get(name)
            .ok_or_else(|| anyhow!("{logical_id}: {name} is missing"))?;
        resolve(&template, value)
            .as_u64()
            .ok_or_else(|| anyhow!("{logical_id}: {name} is not a number"))
    };
    let filters = properties
        .get("FilterCriteria")
        .and_then(|c| c.get("Filters"))
        .and_then(Yaml::as_sequence)
        .map(|filters| {
            filters
                .iter()
                .map(|filter| {
                    let pattern = filter
                        .get("Pattern")
                        .and_then(Yaml::as_str)
                        .context("a filter without a Pattern")?;
                    serde_json::from_str(pattern).context("a filter Pattern that is not JSON")
                })
                .collect::<anyhow::Result<Vec<Value>>>()
        })
        .transpose()?
        .unwrap_or_default();
    if filters.is_empty() {
        bail!("{logical_id}: the DynamoDB event has no FilterCriteria");
    }
    Ok(MappingSpec {
        function: logical_id.to_owned(),
        batch_size: number("BatchSize")? as usize,
        max_retries: number("MaximumRetryAttempts")? as u32,
        bisect_on_error: resolve(&template, &properties["BisectBatchOnFunctionError"])
            .as_bool()
            .unwrap_or(false),
        filters,
    })
}

/// A literal, or `!Ref Parameter` resolved to the parameter's default.
fn resolve<'a>(template: &'a Yaml, value: &'a Yaml) -> &'a Yaml {
    if let Yaml::Tagged(tagged) = value
        && tagged.tag == "Ref"
        && let Some(name) = tagged.value.as_str()
        && let Some(default) = template
            .get("Parameters")
            .and_then(|p| p.get(name))
            .and_then(|p| p.get("Default"))
    {
        return default;
    }
    value
}

/// Whether a stream record (in Lambda's JSON shape) passes any of the filters.
pub fn passes(filters: &[Value], record: &Value) -> bool {
    filters.iter().any(|pattern| matches(pattern, Some(record)))
}

/// The subset of Lambda's filter rule syntax the template uses: nested objects, and arrays of literal,
/// `{"prefix": …}` and `{"exists": …}` matchers.
fn matches(pattern: &Value, value: Option<&Value>) -> bool {
    match pattern {
        Value::Object(fields) => fields
            .iter()
            .all(|(key, sub)| matches(sub, value.and_then(|v| v.get(key)))),
        Value::Array(matchers) => matchers.iter().any(|matcher| leaf_matches(matcher, value)),
        _ => false,
    }
}

fn leaf_matches(matcher: &Value, value: Option<&Value>) -> bool {
    match matcher {
        Value::Object(rule) if rule.contains_key("exists") => rule["exists"].as_bool() == Some(value.is_some()),
        Value::Object(rule) if rule.contains_key("prefix") => {
            matches!((value, rule["prefix"].as_str()), (Some(Value::String(s)), Some(prefix)) if s.starts_with(prefix))
        }
        literal => value == Some(literal),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use pulse_dynamodb::keys;
    use serde_json::json;

    use super::*;

    fn record(sk: &str, with_image: bool) -> Value {
        let pk = format!("{}demo", keys::SITE_PREFIX);
        let mut change = json!({"Keys": {"pk": {"S": pk}, "sk": {"S": sk}}});
        if with_image {
            change["NewImage"] = json!({"pk": {"S": pk}, "sk": {"S": sk}});
        }
        json!({"eventName": "INSERT", "dynamodb": change})
    }

    fn key(prefix: &str, rest: &str) -> String {
        format!("{prefix}{rest}")
    }

    /// The template's filters name exactly the key prefixes that keys.rs writes for raw events.
    #[test]
    fn filter_prefixes_are_the_raw_event_prefixes_of_the_key_layout() {
        for function in ["AggregateFunction", "BroadcastFunction"] {
            let spec = mapping_from_template(function).unwrap();
            let prefix_of = |field: &str| -> BTreeSet<String> {
                raw_event_filters(&spec.filters)
                    .map(|f| {
                        f["dynamodb"]["Keys"][field]["S"][0]["prefix"]
                            .as_str()
                            .unwrap()
                            .to_owned()
                    })
                    .collect()
            };
            let raw: BTreeSet<String> = keys::RAW_EVENT_PREFIXES.iter().map(|p| p.to_string()).collect();
            assert_eq!(prefix_of("sk"), raw, "{function}");
            assert_eq!(
                prefix_of("pk"),
                BTreeSet::from([keys::SITE_PREFIX.to_owned()]),
                "{function}"
            );
        }
    }

    /// Both consumers' mappings, read from the template, pass raw event inserts and nothing else.
    #[test]
    fn both_mappings_pass_raw_event_inserts_only() {
        for function in ["AggregateFunction", "BroadcastFunction"] {
            let spec = mapping_from_template(function).unwrap();
            assert_eq!(raw_event_filters(&spec.filters).count(), 3, "{function}");
            assert!(spec.batch_size >= 1 && spec.max_retries >= 1, "{function}");
            let pageview = key(keys::PAGEVIEW_PREFIX, "2026-01-15T10:30:00.000Z#a");
            let passing = [
                pageview.clone(),
                key(keys::EVENT_PREFIX, "2026-01-15T10:30:00.000Z#a"),
                key(keys::CLIENT_ID_PREFIX, "abc"),
            ];
            for sk in &passing {
                assert!(passes(&spec.filters, &record(sk, true)), "{function}: {sk}");
            }
            for sk in [
                key(keys::ROLLUP_PREFIX, "2026-01-15T10:30#00"),
                key(keys::CONNECTION_PREFIX, "abc"),
            ] {
                assert!(!passes(&spec.filters, &record(&sk, true)), "{function}: {sk}");
            }
            // A REMOVE (TTL deletion) has no NewImage.
            assert!(!passes(&spec.filters, &record(&pageview, false)), "{function}");
        }
    }

    fn raw_event_filters(filters: &[Value]) -> impl Iterator<Item = &Value> {
        filters
            .iter()
            .filter(|f| f["dynamodb"]["Keys"]["pk"]["S"][0]["prefix"].is_string())
    }

    /// The broadcast also sees a site's registry entry change or go (to close revoked dashboards); an
    /// insert (a new site) is not its business, and the aggregate sees none of it.
    #[test]
    fn the_broadcast_alone_sees_registry_changes() {
        let registry = |event_name: &str| {
            let keys = json!({"pk": {"S": keys::SITES_PK}, "sk": {"S": format!("{}demo", keys::SITE_PREFIX)}});
            json!({"eventName": event_name, "dynamodb": {"Keys": keys}})
        };
        let broadcast = mapping_from_template("BroadcastFunction").unwrap();
        let aggregate = mapping_from_template("AggregateFunction").unwrap();
        for event_name in ["MODIFY", "REMOVE"] {
            assert!(passes(&broadcast.filters, &registry(event_name)), "{event_name}");
            assert!(!passes(&aggregate.filters, &registry(event_name)), "{event_name}");
        }
        assert!(!passes(&broadcast.filters, &registry("INSERT")));
    }

    /// `sam build` builds each function's `BuildProperties.Binary` with cargo-lambda: every one must be
    /// a binary of a function crate.
    #[test]
    fn every_template_function_names_a_binary_of_the_workspace() {
        let template: Yaml = pulse_dynamodb::template::parse().unwrap();
        let binaries: Vec<&str> = template["Resources"]
            .as_mapping()
            .unwrap()
            .values()
            .filter_map(|resource| {
                resource
                    .get("Metadata")?
                    .get("BuildProperties")?
                    .get("Binary")?
                    .as_str()
            })
            .collect();
        assert_eq!(binaries.len(), 8, "{binaries:?}");
        let functions_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../functions");
        let manifests: Vec<String> = std::fs::read_dir(functions_dir)
            .unwrap()
            .map(|entry| std::fs::read_to_string(entry.unwrap().path().join("Cargo.toml")).unwrap_or_default())
            .collect();
        for binary in binaries {
            let declared = format!("name = \"{binary}\"");
            assert!(
                manifests.iter().any(|m| m.contains(&declared)),
                "no crate builds the binary {binary}"
            );
        }
    }
}
