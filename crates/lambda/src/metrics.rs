//! Counters as CloudWatch embedded metric format (EMF): one JSON line on standard output per
//! invocation, which CloudWatch Logs turns into metrics without an API call or an agent. Namespace
//! `Pulse`, one dimension, `Function`. Counts only: no site, visitor, path or address ever goes in.
//! Written only inside Lambda (`AWS_LAMBDA_FUNCTION_NAME` set), so local runs and tests stay quiet.
//!
//! Lambda's log-level filtering (the template's `LogLevel`) drops a JSON line whose `level` is below the
//! configured one, and reads a line without a level (or without an RFC 3339 `timestamp`) as INFO: at WARN
//! the metrics, and the alarms on them, would go blind. So each line carries the configured level
//! (`AWS_LAMBDA_LOG_LEVEL`), never less than INFO, and a timestamp: it passes every allowed setting.

use std::collections::BTreeMap;

use serde_json::{Value, json};

pub const NAMESPACE: &str = "Pulse";

/// The counts of one invocation, written by [`Metrics::emit`].
#[derive(Debug)]
pub struct Metrics {
    function: &'static str,
    counts: BTreeMap<&'static str, u64>,
}

impl Metrics {
    pub fn new(function: &'static str) -> Self {
        Self {
            function,
            counts: BTreeMap::new(),
        }
    }

    pub fn add(&mut self, metric: &'static str, count: u64) -> &mut Self {
        *self.counts.entry(metric).or_default() += count;
        self
    }

    /// The EMF document, or `None` when nothing was counted. `level` is the line's log level.
    pub fn document(&self, timestamp_millis: i64, level: &str) -> Option<Value> {
        if self.counts.is_empty() {
            return None;
        }
        let definitions: Vec<Value> = self
            .counts
            .keys()
            .map(|name| json!({"Name": name, "Unit": "Count"}))
            .collect();
        let mut document = json!({
            "_aws": {
                "Timestamp": timestamp_millis,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [["Function"]],
                    "Metrics": definitions,
                }],
            },
            "Function": self.function,
            "level": level,
            "timestamp": chrono::DateTime::from_timestamp_millis(timestamp_millis)
                .map(pulse_core::time::iso_millis)
                .unwrap_or_default(),
        });
        for (name, count) in &self.counts {
            document[*name] = json!(count);
        }
        Some(document)
    }

    /// Prints the document as one line, inside Lambda only.
    pub fn emit(&self) {
        if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_none() {
            return;
        }
        let configured = std::env::var("AWS_LAMBDA_LOG_LEVEL").ok();
        let level = line_level(configured.as_deref());
        if let Some(document) = self.document(chrono::Utc::now().timestamp_millis(), level) {
            println!("{document}");
        }
    }
}

/// The level a metrics line needs to pass Lambda's filter at `configured` (`AWS_LAMBDA_LOG_LEVEL`): the
/// configured level itself, or INFO below it, so that TRACE and DEBUG filters do not make metrics debug
/// output.
pub fn line_level(configured: Option<&str>) -> &'static str {
    match configured.map(str::to_ascii_uppercase).as_deref() {
        Some("WARN") => "WARN",
        Some("ERROR") => "ERROR",
        Some("FATAL") => "FATAL",
        _ => "INFO",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_become_one_emf_document() {
        let mut metrics = Metrics::new("collect");
        assert_eq!(metrics.document(0, "INFO"), None);
        metrics
            .add("HitsAccepted", 1)
            .add("HitsDuplicate", 2)
            .add("HitsAccepted", 1);
        let document = metrics.document(1_700_000_000_000, "WARN").unwrap();
        assert_eq!(document["level"], "WARN");
        assert_eq!(document["timestamp"], "2023-11-14T22:13:20.000Z");
        let directive = &document["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "Pulse");
        assert_eq!(directive["Dimensions"], json!([["Function"]]));
        assert_eq!(
            directive["Metrics"],
            json!([{"Name": "HitsAccepted", "Unit": "Count"}, {"Name": "HitsDuplicate", "Unit": "Count"}])
        );
        assert_eq!(document["_aws"]["Timestamp"], 1_700_000_000_000i64);
        assert_eq!(document["Function"], "collect");
        assert_eq!(document["HitsAccepted"], 2);
        assert_eq!(document["HitsDuplicate"], 2);
    }

    /// Every level the template's `LogLevel` allows lets the metrics line through: Lambda keeps a line
    /// whose level is at or above the configured one.
    #[test]
    fn metrics_lines_pass_every_allowed_log_level() {
        const ORDER: [&str; 6] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
        let rank = |level: &str| ORDER.iter().position(|l| *l == level).unwrap();
        let template: serde_json::Value =
            serde_norway::from_str::<serde_norway::Value>(include_str!("../../../template.yaml"))
                .ok()
                .and_then(|t| serde_json::to_value(&t["Parameters"]["LogLevel"]["AllowedValues"]).ok())
                .unwrap();
        let allowed: Vec<String> = serde_json::from_value(template).unwrap();
        assert!(!allowed.is_empty());
        for configured in &allowed {
            let level = line_level(Some(configured));
            assert!(rank(level) >= rank(configured), "{configured}: {level}");
            assert!(rank(level) >= rank("INFO"), "{configured}: {level}");
        }
        assert_eq!(line_level(None), "INFO");
    }
}
