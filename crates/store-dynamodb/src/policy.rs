//! Each function's IAM policy as template.yaml grants it: the statements of the function's own `Policies`
//! or of the role it names, with the tables' ARNs resolved for one deployment. The local stack registers
//! them with its DynamoDB, which then checks every call a function makes against its own policy, as IAM
//! does in AWS: the template is the one list of grants, and the calls the code really makes are what is
//! checked against it.

use serde::Serialize;
use serde_norway::Value as Yaml;

/// The functions that call AWS APIs, by their template resource names.
pub const FUNCTIONS_WITH_POLICIES: [&str; 6] = [
    "CollectFunction",
    "AggregateFunction",
    "RealtimeFunction",
    "WsConnectFunction",
    "WsDisconnectFunction",
    "BroadcastFunction",
];

/// One Allow statement, its resources resolved to ARNs (`*` where the template names something the local
/// stack does not have, such as the WebSocket API's id).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Statement {
    pub sid: String,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
    /// The statement's `Condition` block as written (operator → key → values).
    pub condition: Option<serde_json::Value>,
}

/// Where the template's resources are in one deployment.
#[derive(Debug, Clone)]
pub struct Deployment<'a> {
    pub region: &'a str,
    pub account: &'a str,
    pub table: &'a str,
    pub rollup_table: &'a str,
}

impl Deployment<'_> {
    fn table_arn(&self, table: &str) -> String {
        format!("arn:aws:dynamodb:{}:{}:table/{table}", self.region, self.account)
    }

    /// The value of `${Name}` in a `!Sub` or of `!GetAtt Name`.
    fn resolve(&self, reference: &str) -> String {
        match reference {
            "Table.Arn" => self.table_arn(self.table),
            "RollupTable.Arn" => self.table_arn(self.rollup_table),
            "AWS::Partition" => "aws".into(),
            "AWS::Region" => self.region.into(),
            "AWS::AccountId" => self.account.into(),
            _ => "*".into(),
        }
    }

    fn resolve_sub(&self, text: &str) -> String {
        let mut resolved = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            resolved.push_str(&rest[..start]);
            let Some(end) = rest[start..].find('}') else { break };
            resolved.push_str(&self.resolve(&rest[start + 2..start + end]));
            rest = &rest[start + end + 1..];
        }
        resolved.push_str(rest);
        resolved
    }

    fn resource(&self, value: &Yaml) -> String {
        match value {
            Yaml::Tagged(tagged) if tagged.tag == "GetAtt" => self.resolve(&tag_text(&tagged.value)),
            Yaml::Tagged(tagged) if tagged.tag == "Sub" => self.resolve_sub(&tag_text(&tagged.value)),
            Yaml::Tagged(_) => "*".into(),
            other => tag_text(other),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("template.yaml does not parse")]
    Template(#[source] serde_norway::Error),
    #[error("template.yaml has no function {0}")]
    UnknownFunction(String),
    #[error("{function}: a statement without {what}")]
    Malformed { function: String, what: &'static str },
}

/// The template parsed once per call: registration happens once per local stack.
fn template() -> Result<Yaml, PolicyError> {
    crate::template::parse().map_err(PolicyError::Template)
}

/// The text inside a CloudFormation tag (`!GetAtt Table.Arn` → `Table.Arn`), or the plain string.
fn tag_text(value: &Yaml) -> String {
    match value {
        Yaml::Tagged(tagged) => tag_text(&tagged.value),
        Yaml::String(text) => text.clone(),
        Yaml::Number(number) => number.to_string(),
        _ => String::new(),
    }
}

fn list(value: &Yaml) -> Vec<&Yaml> {
    match value {
        Yaml::Sequence(items) => items.iter().collect(),
        other => vec![other],
    }
}

/// The raw statements of `function`'s policies: its own `Policies`, or those of the explicit role it
/// names (`Role: !GetAtt SomeRole.Arn`).
pub fn raw_statements(function: &str) -> Result<Vec<Yaml>, PolicyError> {
    let template = template()?;
    let resources = &template["Resources"];
    let properties = resources
        .get(function)
        .map(|resource| &resource["Properties"])
        .ok_or_else(|| PolicyError::UnknownFunction(function.to_owned()))?;
    let documents: Vec<Yaml> = match properties.get("Role") {
        Some(role) => {
            let role = tag_text(role);
            let role = role.trim_end_matches(".Arn");
            resources[role]["Properties"]["Policies"]
                .as_sequence()
                .into_iter()
                .flatten()
                .map(|policy| policy["PolicyDocument"].clone())
                .collect()
        }
        None => properties
            .get("Policies")
            .and_then(Yaml::as_sequence)
            .cloned()
            .unwrap_or_default(),
    };
    Ok(documents
        .iter()
        .flat_map(|document| document["Statement"].as_sequence().cloned().unwrap_or_default())
        .collect())
}

/// `function`'s statements with the resources of `deployment`.
pub fn statements(function: &str, deployment: &Deployment<'_>) -> Result<Vec<Statement>, PolicyError> {
    raw_statements(function)?
        .iter()
        .enumerate()
        .map(|(index, statement)| {
            let malformed = |what| PolicyError::Malformed {
                function: function.to_owned(),
                what,
            };
            if statement.get("Effect").and_then(Yaml::as_str) != Some("Allow") {
                return Err(malformed("Effect: Allow"));
            }
            let actions = list(statement.get("Action").ok_or_else(|| malformed("Action"))?)
                .into_iter()
                .map(tag_text)
                .collect();
            let resources = list(statement.get("Resource").ok_or_else(|| malformed("Resource"))?)
                .into_iter()
                .map(|resource| deployment.resource(resource))
                .collect();
            let condition = statement
                .get("Condition")
                .map(|condition| serde_json::to_value(condition).map_err(|_| malformed("a plain Condition")))
                .transpose()?;
            Ok(Statement {
                sid: statement
                    .get("Sid")
                    .and_then(Yaml::as_str)
                    .map_or_else(|| format!("Statement{index}"), str::to_owned),
                actions,
                resources,
                condition,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPLOYMENT: Deployment<'static> = Deployment {
        region: "us-east-1",
        account: "123456789012",
        table: "events",
        rollup_table: "rollups",
    };

    #[test]
    fn statements_resolve_the_tables_and_keep_their_conditions() {
        let aggregate = statements("AggregateFunction", &DEPLOYMENT).unwrap();
        let stream = aggregate.iter().find(|s| s.sid == "EventStream").unwrap();
        assert_eq!(
            stream.resources,
            ["arn:aws:dynamodb:us-east-1:123456789012:table/events/stream/*"]
        );
        let rollups = aggregate.iter().find(|s| s.sid == "RealtimeRollups").unwrap();
        assert_eq!(
            rollups.resources,
            ["arn:aws:dynamodb:us-east-1:123456789012:table/rollups"]
        );
        assert_eq!(
            rollups.condition.as_ref().unwrap()["ForAllValues:StringLike"]["dynamodb:LeadingKeys"],
            serde_json::json!(["SITE#*"])
        );
        let broadcast = statements("BroadcastFunction", &DEPLOYMENT).unwrap();
        let post = broadcast.iter().find(|s| s.sid == "PostToConnections").unwrap();
        assert_eq!(
            post.resources,
            [
                "arn:aws:execute-api:us-east-1:123456789012:*/*/POST/@connections/*",
                "arn:aws:execute-api:us-east-1:123456789012:*/*/DELETE/@connections/*"
            ]
        );
        for function in FUNCTIONS_WITH_POLICIES {
            assert!(!statements(function, &DEPLOYMENT).unwrap().is_empty(), "{function}");
        }
        assert!(matches!(
            statements("NoSuchFunction", &DEPLOYMENT),
            Err(PolicyError::UnknownFunction(_))
        ));
    }
}
