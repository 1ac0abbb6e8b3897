//! The admin binary against moto (`make test` starts it and exports AWS_ENDPOINT_URL_DYNAMODB).

use std::process::{Command, Output};

use pulse_core::{SiteDirectory, SiteId};
use pulse_dynamodb::DynamoStore;

fn admin(table: &str, args: &[&str]) -> Output {
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

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[tokio::test]
async fn manages_sites_end_to_end() {
    let table = format!("admin-{}", pulse_core::EventId::random());
    stdout(&admin(&table, &["table", "create"]));
    // Creating it again is not an error.
    stdout(&admin(&table, &["table", "create"]));

    let token = stdout(&admin(
        &table,
        &[
            "site",
            "create",
            "--id",
            "shop",
            "--domain",
            "Shop.Example.com",
            "--domain",
            "localhost",
        ],
    ));
    let token = token.trim();
    assert!(token.starts_with("pt_") && token.len() > 40, "{token}");

    let list = stdout(&admin(&table, &["site", "list"]));
    let row = list
        .lines()
        .find(|line| line.starts_with("shop "))
        .expect("shop is listed");
    assert!(
        row.contains("shop.example.com,localhost") && row.contains("false"),
        "{row}"
    );

    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&pulse_dynamodb::sdk_config().await),
        &table,
    );
    let shop = SiteId::parse("shop").unwrap();
    assert!(
        store
            .find_site(&shop)
            .await
            .unwrap()
            .unwrap()
            .token_hash
            .verifies(token)
    );

    let rotated = stdout(&admin(&table, &["site", "rotate-token", "--id", "shop"]));
    let rotated = rotated.trim();
    assert_ne!(rotated, token);
    let site = store.find_site(&shop).await.unwrap().unwrap();
    assert!(site.token_hash.verifies(rotated) && !site.token_hash.verifies(token));

    // Refusals: a duplicate, an id that could reach a key, a bad domain, an unknown site.
    assert!(
        !admin(&table, &["site", "create", "--id", "shop", "--domain", "x.com"])
            .status
            .success()
    );
    assert!(
        !admin(&table, &["site", "create", "--id", "a#b", "--domain", "x.com"])
            .status
            .success()
    );
    assert!(
        !admin(&table, &["site", "create", "--id", "ok", "--domain", "https://x.com/"])
            .status
            .success()
    );
    assert!(
        !admin(&table, &["site", "rotate-token", "--id", "ghost"])
            .status
            .success()
    );

    stdout(&admin(&table, &["site", "delete", "--id", "shop"]));
    assert!(store.find_site(&shop).await.unwrap().is_none());
    let again = admin(&table, &["site", "delete", "--id", "shop"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("does not exist"));
}
