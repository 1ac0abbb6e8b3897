//! Each function calls DynamoDB as itself, as under its execution role in AWS: it signs with an access
//! key of its own, registered with the local DynamoDB (infra/local/local_aws) together with the
//! function's policy from template.yaml ([`pulse_dynamodb::policy`]). The local DynamoDB then refuses
//! what IAM would refuse (action, resource, `dynamodb:LeadingKeys`) with AccessDeniedException, and keeps
//! a log of what each function was allowed and denied. Keys that are not registered (the admin CLI, test
//! set-up) keep full rights. The management API (`@connections`), which this gateway serves itself, is
//! checked here against the same policies ([`Principals::authorize_management`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use aws_config::SdkConfig;
use aws_sdk_dynamodb::config::{Credentials, SharedCredentialsProvider};
use pulse_dynamodb::policy::{self, Deployment, FUNCTIONS_WITH_POLICIES};
use serde::Deserialize;

/// moto's account: the ARNs of its tables carry it.
pub const LOCAL_ACCOUNT: &str = "123456789012";

/// One function's identity: its access key and the SDK configuration that signs with it.
#[derive(Clone, Debug)]
pub struct Principal {
    pub function: &'static str,
    pub access_key_id: String,
    pub sdk_config: SdkConfig,
    statements: Vec<policy::Statement>,
    /// What the management API allowed and denied this principal.
    management: Arc<Mutex<ManagementLog>>,
}

#[derive(Debug, Default)]
struct ManagementLog {
    allowed: BTreeSet<AllowedUse>,
    denied: Vec<Denial>,
}

/// The management API's action, as IAM names it.
const MANAGE_CONNECTIONS: &str = "execute-api:ManageConnections";

/// Every function's identity, registered with the DynamoDB at `endpoint` for one pair of tables.
#[derive(Clone, Debug)]
pub struct Principals {
    endpoint: String,
    by_function: BTreeMap<&'static str, Principal>,
}

/// What the local DynamoDB recorded for one principal.
#[derive(Debug, Deserialize)]
pub struct PrincipalLog {
    pub function: String,
    /// The statements (by Sid) and actions that allowed a call.
    pub allowed: Vec<AllowedUse>,
    pub denied: Vec<Denial>,
    /// How many DynamoDB calls each statement and action allowed.
    #[serde(default)]
    pub calls: Vec<CallCount>,
}

impl PrincipalLog {
    /// The DynamoDB calls of `action` that statement `sid` allowed.
    pub fn calls(&self, sid: &str, action: &str) -> u64 {
        self.calls
            .iter()
            .filter(|count| count.sid == sid && count.action == action)
            .map(|count| count.count)
            .sum()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct CallCount {
    pub sid: String,
    pub action: String,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
pub struct AllowedUse {
    pub sid: String,
    pub action: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Denial {
    pub action: String,
    pub resource: String,
    pub leading_keys: Vec<String>,
    pub message: String,
}

impl Principals {
    /// Registers every function of [`FUNCTIONS_WITH_POLICIES`] with the policy template.yaml gives it.
    pub async fn register(
        endpoint: &str,
        sdk_config: &SdkConfig,
        table: &str,
        rollup_table: &str,
    ) -> anyhow::Result<Self> {
        Self::register_with(endpoint, sdk_config, table, rollup_table, |_, statements| statements).await
    }

    /// Like [`Self::register`], with each function's statements passed through `edit` first (a test
    /// takes a grant away to see the call refused).
    pub async fn register_with(
        endpoint: &str,
        sdk_config: &SdkConfig,
        table: &str,
        rollup_table: &str,
        edit: impl Fn(&str, Vec<policy::Statement>) -> Vec<policy::Statement>,
    ) -> anyhow::Result<Self> {
        let region = sdk_config
            .region()
            .map(ToString::to_string)
            .unwrap_or_else(|| "us-east-1".into());
        let deployment = Deployment {
            region: &region,
            account: LOCAL_ACCOUNT,
            table,
            rollup_table,
        };
        let http = reqwest::Client::new();
        let mut by_function = BTreeMap::new();
        for function in FUNCTIONS_WITH_POLICIES {
            let statements = edit(function, policy::statements(function, &deployment)?);
            // Unique per stack: tests run many stacks against one DynamoDB.
            let access_key_id = format!("LOCAL{}{}", function.to_uppercase(), pulse_core::EventId::random());
            http.post(format!("{endpoint}/_pulse/principals"))
                .json(&serde_json::json!({
                    "access_key_id": access_key_id,
                    "function": function,
                    "statements": statements,
                }))
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
                .with_context(|| {
                    format!("registering {function}'s policy with the local DynamoDB at {endpoint} (is it infra/local/moto-server?)")
                })?;
            let credentials = Credentials::new(&access_key_id, "local", None, None, "pulse-local");
            let sdk_config = sdk_config
                .to_builder()
                .credentials_provider(SharedCredentialsProvider::new(credentials))
                .build();
            by_function.insert(
                function,
                Principal {
                    function,
                    access_key_id,
                    sdk_config,
                    statements,
                    management: Arc::default(),
                },
            );
        }
        Ok(Self {
            endpoint: endpoint.to_owned(),
            by_function,
        })
    }

    pub fn principal(&self, function: &str) -> &Principal {
        self.by_function
            .get(function)
            .unwrap_or_else(|| panic!("{function} has no registered policy"))
    }

    /// Where `function`'s app is built: `lookup`'s settings, its own credentials, and the local
    /// DynamoDB (as its execution role and the regional endpoint are in AWS).
    pub fn environment<'a>(&self, function: &str, lookup: pulse_lambda::Lookup<'a>) -> pulse_lambda::Environment<'a> {
        pulse_lambda::Environment::with(lookup, self.principal(function).sdk_config.clone())
            .with_dynamodb_endpoint(&self.endpoint)
    }

    /// The stream client of `function`'s event source mapping, which reads with the function's role.
    pub fn streams(&self, function: &str) -> aws_sdk_dynamodbstreams::Client {
        aws_sdk_dynamodbstreams::Client::from_conf(
            aws_sdk_dynamodbstreams::config::Builder::from(&self.principal(function).sdk_config)
                .endpoint_url(&self.endpoint)
                .build(),
        )
    }

    /// What the local DynamoDB and the management API allowed and denied `function` so far.
    pub async fn log(&self, function: &str) -> anyhow::Result<PrincipalLog> {
        let principal = self.principal(function);
        let mut log: PrincipalLog = reqwest::get(format!(
            "{}/_pulse/principals/{}/log",
            self.endpoint, principal.access_key_id
        ))
        .await
        .and_then(reqwest::Response::error_for_status)
        .context("reading a principal's log")?
        .json()
        .await?;
        let management = principal.management.lock().expect("management log lock");
        log.allowed.extend(management.allowed.iter().cloned());
        log.denied.extend(management.denied.iter().cloned());
        Ok(log)
    }

    /// Checks a management API call (`method` on `@connections/{connection}`) signed with
    /// `authorization` (the SigV4 header) as IAM would check `execute-api:ManageConnections`. A key that
    /// is no function's (the admin CLI) has every right. The error is AWS's message.
    pub fn authorize_management(&self, authorization: &str, method: &str, connection: &str) -> Result<(), String> {
        let Some(principal) =
            access_key_of(authorization).and_then(|key| self.by_function.values().find(|p| p.access_key_id == key))
        else {
            return Ok(());
        };
        let region = credential_region(authorization).unwrap_or("us-east-1");
        let resource =
            format!("arn:aws:execute-api:{region}:{LOCAL_ACCOUNT}:local/live/{method}/@connections/{connection}");
        let allowing = principal.statements.iter().find(|statement| {
            statement.condition.is_none()
                && statement
                    .actions
                    .iter()
                    .any(|action| glob_matches(action, MANAGE_CONNECTIONS, true))
                && statement
                    .resources
                    .iter()
                    .any(|pattern| glob_matches(pattern, &resource, false))
        });
        let mut log = principal.management.lock().expect("management log lock");
        match allowing {
            Some(statement) => {
                log.allowed.insert(AllowedUse {
                    sid: statement.sid.clone(),
                    action: MANAGE_CONNECTIONS.to_owned(),
                });
                Ok(())
            }
            None => {
                let message = format!(
                    "User: arn:aws:sts::{LOCAL_ACCOUNT}:assumed-role/{}/local is not authorized to perform: \
                     {MANAGE_CONNECTIONS} on resource: {resource} because no identity-based policy allows the \
                     {MANAGE_CONNECTIONS} action",
                    principal.function
                );
                log.denied.push(Denial {
                    action: MANAGE_CONNECTIONS.to_owned(),
                    resource,
                    leading_keys: Vec::new(),
                    message: message.clone(),
                });
                Err(message)
            }
        }
    }

    pub fn functions(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.by_function.keys().copied()
    }
}

/// The access key id of a SigV4 `Authorization` header (`… Credential=AKID/date/region/service/…`).
fn access_key_of(authorization: &str) -> Option<&str> {
    authorization.split("Credential=").nth(1)?.split('/').next()
}

fn credential_region(authorization: &str) -> Option<&str> {
    authorization.split("Credential=").nth(1)?.split('/').nth(2)
}

/// IAM's wildcards: `*` any run of characters, `?` any one.
fn glob_matches(pattern: &str, value: &str, ignore_case: bool) -> bool {
    let (pattern, value): (Vec<char>, Vec<char>) = if ignore_case {
        (
            pattern.to_lowercase().chars().collect(),
            value.to_lowercase().chars().collect(),
        )
    } else {
        (pattern.chars().collect(), value.chars().collect())
    };
    // Classic wildcard matching with backtracking to the last `*`.
    let (mut p, mut v, mut star, mut resume) = (0, 0, None, 0);
    while v < value.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == value[v]) {
            p += 1;
            v += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some(p);
            resume = v;
            p += 1;
        } else if let Some(at) = star {
            p = at + 1;
            resume += 1;
            v = resume;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iam_wildcards() {
        let arn = "arn:aws:execute-api:us-east-1:123456789012:local/live/POST/@connections/abc";
        assert!(glob_matches(
            "arn:aws:execute-api:us-east-1:123456789012:*/*/POST/@connections/*",
            arn,
            false
        ));
        assert!(!glob_matches(
            "arn:aws:execute-api:us-east-1:123456789012:*/*/DELETE/@connections/*",
            arn,
            false
        ));
        assert!(glob_matches("execute-api:manage*", MANAGE_CONNECTIONS, true));
        assert!(glob_matches("a?c", "abc", false) && !glob_matches("a?c", "ac", false));
        let header =
            "AWS4-HMAC-SHA256 Credential=LOCALKEY/20261203/eu-west-1/execute-api/aws4_request, SignedHeaders=host";
        assert_eq!(access_key_of(header), Some("LOCALKEY"));
        assert_eq!(credential_region(header), Some("eu-west-1"));
    }
}
