//! Every template parameter that reaches a function's environment allows exactly the values the function
//! accepts at start-up: a value CloudFormation takes but the code refuses deploys a stack whose every call
//! fails, and the reverse refuses a setting that would have worked.

use serde_norway::Value as Yaml;

/// What the template gives every function besides the parameter under test.
fn deployed_environment(name: &str) -> Option<String> {
    let value = match name {
        "TABLE_NAME" => "events",
        "ROLLUP_TABLE_NAME" => "rollups",
        "WEBSOCKET_ENDPOINT" => "https://abc.execute-api.us-east-1.amazonaws.com/live",
        "WEBSOCKET_URL" => "wss://abc.execute-api.us-east-1.amazonaws.com/live",
        _ => return None,
    };
    Some(value.to_owned())
}

/// Whether every function's configuration accepts the environment `lookup` gives.
fn functions_accept(lookup: &dyn Fn(&str) -> Option<String>) -> bool {
    collect::Config::from_lookup(lookup).is_ok()
        && realtime::Config::from_lookup(lookup).is_ok()
        && aggregate::Config::from_lookup(lookup).is_ok()
        && websocket::Config::from_lookup(lookup).is_ok()
        && broadcast::Config::from_lookup(lookup).is_ok()
        && web::Config::from_lookup(lookup).is_ok()
}

/// (environment variable, parameter) for every `NAME: !Ref Parameter` in a function's environment.
fn parameters_in_environments(template: &Yaml) -> Vec<(String, String)> {
    let parameters = template["Parameters"].as_mapping().unwrap();
    let mut found = Vec::new();
    for resource in template["Resources"].as_mapping().unwrap().values() {
        let Some(variables) = resource["Properties"]["Environment"]["Variables"].as_mapping() else {
            continue;
        };
        for (name, value) in variables {
            if let Yaml::Tagged(tagged) = value
                && tagged.tag == "Ref"
                && let Some(parameter) = tagged.value.as_str()
                && parameters.contains_key(parameter)
            {
                found.push((name.as_str().unwrap().to_owned(), parameter.to_owned()));
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

/// Values at and around a parameter's bounds, and for a pattern, paths a user might type.
fn candidates(parameter: &Yaml) -> Vec<String> {
    let bound = |key: &str| parameter.get(key).and_then(Yaml::as_u64);
    if parameter["Type"].as_str() == Some("Number") {
        let min = bound("MinValue").unwrap_or(0);
        let mut values = vec![min.saturating_sub(1), min, min + 1];
        match bound("MaxValue") {
            Some(max) => values.extend([max - 1, max, max + 1]),
            // No upper bound in the template: the code must take a huge value too.
            None => values.push(1_000_000_000_000),
        }
        return values.into_iter().map(|v| v.to_string()).collect();
    }
    let long = |length: usize, fill: &str| fill.repeat(length);
    let mut values: Vec<String> = [31, 32, 256, 257]
        .into_iter()
        .flat_map(|length| [long(length, "a"), long(length, "/")])
        .collect();
    values.push(format!("{} ", long(32, "a")));
    values.push(long(40, "é"));
    values.extend(
        [
            "",
            "/",
            "/api",
            "/api/analytics",
            "/api/",
            "//api",
            "/.",
            "/..",
            "/api/..",
            "/./x",
            "/.x",
            "/..x",
            "/a.b",
            "/.well-known",
            "/x/.../y",
            "/a b",
            "/a%2e",
            "/ä",
            "api",
            "/~user",
            "/a_b-c",
        ]
        .map(str::to_owned),
    );
    values
}

fn template_allows(parameter: &Yaml, value: &str) -> bool {
    if parameter["Type"].as_str() == Some("Number") {
        let Ok(value) = value.parse::<u64>() else { return false };
        let min = parameter.get("MinValue").and_then(Yaml::as_u64).unwrap_or(0);
        let max = parameter.get("MaxValue").and_then(Yaml::as_u64).unwrap_or(u64::MAX);
        return (min..=max).contains(&value);
    }
    match parameter.get("AllowedPattern").and_then(Yaml::as_str) {
        // CloudFormation matches the whole value.
        Some(pattern) => regex::Regex::new(pattern).unwrap().is_match(value),
        None => true,
    }
}

#[test]
fn every_parameter_allows_exactly_what_the_functions_accept() {
    let template: Yaml = pulse_dynamodb::template::parse().unwrap();
    let environment = parameters_in_environments(&template);
    let names: Vec<&str> = environment.iter().map(|(_, parameter)| parameter.as_str()).collect();
    for expected in [
        "RawEventTtlSeconds",
        "RealtimeTtlSeconds",
        "BasePath",
        "MaxConnectionsPerSite",
    ] {
        assert!(names.contains(&expected), "{expected} reaches no function: {names:?}");
    }
    let mut mismatches = Vec::new();
    for (variable, parameter_name) in &environment {
        let parameter = &template["Parameters"][parameter_name.as_str()];
        for value in candidates(parameter) {
            let lookup = |name: &str| {
                if name == variable {
                    Some(value.clone())
                } else {
                    deployed_environment(name)
                }
            };
            let accepted = functions_accept(&lookup);
            let allowed = template_allows(parameter, &value);
            if accepted != allowed {
                mismatches.push(format!(
                    "{parameter_name} = {value:?}: the template {} it, the functions ({variable}) {} it",
                    if allowed { "allows" } else { "refuses" },
                    if accepted { "accept" } else { "refuse" },
                ));
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// A first deploy must not depend on the account's concurrency quota: Lambda refuses a reservation that
/// leaves fewer than 100 unreserved, and new accounts start below 200.
#[test]
fn defaults_deploy_on_a_new_account() {
    let template: Yaml = pulse_dynamodb::template::parse().unwrap();
    assert_eq!(
        template["Parameters"]["CollectReservedConcurrency"]["Default"].as_u64(),
        Some(0)
    );
}
