//! Least privilege, read from template.yaml: every function's DynamoDB permissions, by table, action and
//! the partitions (`dynamodb:LeadingKeys`) it may touch, must be exactly the ones listed here, built from
//! the prefixes `keys.rs` writes. So a policy that widens (a missing condition, a `*`, a new action)
//! fails this test, and so does a key layout change that the policies do not follow.

use std::collections::BTreeSet;

use pulse_dynamodb::keys;
use serde_norway::Value as Yaml;

/// (function, table resource, action, partitions it may touch)
type Grant = (String, String, String, Vec<String>);

fn grant(function: &str, table: &str, actions: &[&str], partitions: &[String]) -> Vec<Grant> {
    actions
        .iter()
        .map(|action| {
            (
                function.to_owned(),
                table.to_owned(),
                format!("dynamodb:{action}"),
                partitions.to_vec(),
            )
        })
        .collect()
}

fn expected_grants() -> BTreeSet<Grant> {
    let sites = vec![keys::SITES_PK.to_owned()];
    let salt = vec![keys::SALT_PK.to_owned()];
    let hit_counters = vec![format!("{}*", keys::RATE_PREFIX)];
    let site_items = vec![format!("{}*", keys::SITE_PREFIX)];
    let connections = vec![
        format!("{}*", keys::LIVE_PREFIX),
        format!("{}*", keys::CONNECTION_PREFIX),
    ];
    [
        grant("CollectFunction", "Table", &["GetItem", "Query"], &sites),
        grant("CollectFunction", "Table", &["PutItem"], &site_items),
        grant("CollectFunction", "RollupTable", &["GetItem", "PutItem"], &salt),
        grant("CollectFunction", "RollupTable", &["UpdateItem"], &hit_counters),
        grant(
            "AggregateFunction",
            "RollupTable",
            &["Query", "GetItem", "PutItem"],
            &site_items,
        ),
        grant("RealtimeFunction", "Table", &["GetItem", "Query"], &sites),
        grant("RealtimeFunction", "Table", &["Query"], &site_items),
        grant("RealtimeFunction", "RollupTable", &["Query"], &site_items),
        grant("WsConnectFunction", "Table", &["GetItem", "Query"], &sites),
        grant("WsConnectFunction", "Table", &["Query", "PutItem"], &connections),
        grant(
            "WsDisconnectFunction",
            "Table",
            &["GetItem", "DeleteItem"],
            &connections,
        ),
        grant(
            "BroadcastFunction",
            "Table",
            &["Query", "GetItem", "DeleteItem"],
            &connections,
        ),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn template() -> Yaml {
    pulse_dynamodb::template::parse().expect("template.yaml parses")
}

/// The text inside a CloudFormation tag (`!GetAtt Table.Arn` → `Table.Arn`), or the plain string.
fn tag_text(value: &Yaml) -> String {
    match value {
        Yaml::Tagged(tagged) => tag_text(&tagged.value),
        Yaml::String(text) => text.clone(),
        other => format!("{other:?}"),
    }
}

fn strings(value: &Yaml) -> Vec<String> {
    match value {
        Yaml::Sequence(items) => items.iter().map(tag_text).collect(),
        other => vec![tag_text(other)],
    }
}

/// Every policy statement a function's role holds (its own `Policies`, or those of the role it names).
fn statements(function: &str) -> Vec<Yaml> {
    pulse_dynamodb::policy::raw_statements(function).expect("the function's policies parse")
}

fn leading_keys(statement: &Yaml) -> Option<Vec<String>> {
    let condition = statement.get("Condition")?;
    ["ForAllValues:StringEquals", "ForAllValues:StringLike"]
        .iter()
        .find_map(|operator| condition.get(*operator)?.get("dynamodb:LeadingKeys"))
        .map(strings)
}

fn functions(template: &Yaml) -> Vec<(String, Yaml)> {
    template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, resource)| resource["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|(name, resource)| (name.as_str().unwrap().to_owned(), resource.clone()))
        .collect()
}

/// Stream reads are the only DynamoDB actions not on a table item: they are checked apart.
const STREAM_ACTIONS: [&str; 4] = [
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
];

#[test]
fn every_function_reaches_only_the_partitions_it_owns() {
    let template = template();
    let mut granted = BTreeSet::new();
    for (name, _) in functions(&template) {
        for statement in statements(&name) {
            let actions = strings(&statement["Action"]);
            let table_actions: Vec<&String> = actions
                .iter()
                .filter(|action| action.starts_with("dynamodb:") && !STREAM_ACTIONS.contains(&action.as_str()))
                .collect();
            if table_actions.is_empty() {
                continue;
            }
            for resource in strings(&statement["Resource"]) {
                // `Table.Arn`, or an index of it: `${Table.Arn}/index/feed`.
                let table = resource
                    .trim_start_matches("${")
                    .split(['.', '}'])
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                let partitions = leading_keys(&statement).unwrap_or_else(|| {
                    panic!("{name}: {actions:?} on {table} without a dynamodb:LeadingKeys condition")
                });
                for action in &table_actions {
                    granted.insert((name.clone(), table.clone(), (*action).clone(), partitions.clone()));
                }
            }
        }
    }
    assert_eq!(granted, expected_grants());
}

/// The registry is written by the admin CLI alone, and the salt is read by collect alone.
#[test]
fn no_function_writes_the_registry_and_only_collect_reads_the_salt() {
    let matches = |pattern: &str, key: &str| match pattern.strip_suffix('*') {
        Some(prefix) => key.starts_with(prefix),
        None => pattern == key,
    };
    for (function, table, action, partitions) in expected_grants() {
        let writes = ["PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"]
            .iter()
            .any(|write| action.ends_with(write));
        if writes && table == "Table" {
            assert!(
                !partitions.iter().any(|p| matches(p, keys::SITES_PK)),
                "{function} may write the registry"
            );
        }
        if table == "RollupTable" && partitions.iter().any(|p| matches(p, keys::SALT_PK)) {
            assert_eq!(function, "CollectFunction", "{function} may {action} a salt");
        }
    }
}

/// A stream consumer reads this table's stream and no other: SAM's managed policy for DynamoDB events
/// grants every stream of the account (`*`), so each consumer has a role of its own instead.
#[test]
fn stream_consumers_read_only_this_tables_stream() {
    let template = template();
    for (name, function) in functions(&template) {
        let consumes_stream = function["Properties"]
            .get("Events")
            .and_then(Yaml::as_mapping)
            .is_some_and(|events| events.values().any(|event| event["Type"].as_str() == Some("DynamoDB")));
        let stream_statements: Vec<Yaml> = statements(&name)
            .into_iter()
            .filter(|statement| {
                strings(&statement["Action"])
                    .iter()
                    .any(|action| STREAM_ACTIONS.contains(&action.as_str()))
            })
            .collect();
        if !consumes_stream {
            assert!(stream_statements.is_empty(), "{name} may read streams");
            continue;
        }
        assert!(
            function["Properties"].get("Role").is_some(),
            "{name} consumes the stream with SAM's generated role, which reads every stream"
        );
        assert_eq!(stream_statements.len(), 1, "{name}");
        assert_eq!(
            tag_text(&stream_statements[0]["Resource"]),
            "${Table.Arn}/stream/*",
            "{name}"
        );
    }
}
