//! Counters as CloudWatch embedded metric format (EMF): one JSON line on standard output per
//! invocation, which CloudWatch Logs turns into metrics without an API call or an agent. Namespace
//! `Pulse`, one dimension, `Function`. Counts only: no site, visitor, path or address ever goes in.
//! Written only inside Lambda (`AWS_LAMBDA_FUNCTION_NAME` set), so local runs and tests stay quiet.

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

    /// The EMF document, or `None` when nothing was counted.
    pub fn document(&self, timestamp_millis: i64) -> Option<Value> {
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
        if let Some(document) = self.document(chrono::Utc::now().timestamp_millis()) {
            println!("{document}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_become_one_emf_document() {
        let mut metrics = Metrics::new("collect");
        assert_eq!(metrics.document(0), None);
        metrics
            .add("HitsAccepted", 1)
            .add("HitsDuplicate", 2)
            .add("HitsAccepted", 1);
        let document = metrics.document(1_700_000_000_000).unwrap();
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
}
