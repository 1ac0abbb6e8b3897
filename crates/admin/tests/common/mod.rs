//! Running the admin binary against moto (`make test` starts it and exports AWS_ENDPOINT_URL_DYNAMODB).
// Each test file uses its own share of these.
#![allow(dead_code)]

use std::process::{Command, Output};

use pulse_dynamodb::DynamoStore;

pub fn admin(table: &str, args: &[&str]) -> Output {
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB").is_some(),
        "AWS_ENDPOINT_URL_DYNAMODB is not set: run the tests with `make test`, which starts moto"
    );
    Command::new(env!("CARGO_BIN_EXE_pulse-admin"))
        .env("TABLE_NAME", table)
        .args(args)
        .output()
        .expect("pulse-admin runs")
}

/// Standard output of a run that must succeed.
pub fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// Standard error (where the CLI reports) of a run that must succeed.
pub fn stderr(output: &Output) -> String {
    stdout(output);
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A fresh table, created by the binary, and a store on it.
pub async fn fresh_table() -> (String, DynamoStore) {
    let table = format!("admin-{}", pulse_core::EventId::random());
    stdout(&admin(&table, &["table", "create"]));
    let client = aws_sdk_dynamodb::Client::new(&pulse_dynamodb::sdk_config().await);
    (table.clone(), DynamoStore::new(client, table))
}
