//! `pulse-admin --stack`: the tables and the management endpoint come from the stack's outputs, against a
//! whole local stack (moto, which `make test` starts, and the local gateway) registered as a stack the
//! way `make dev` registers its own.

mod common;

use std::process::{Command, Output};
use std::time::Duration;

use common::{stderr, stdout};
use local_gateway::LocalStack;
use local_gateway::stack::{LocalOutputs, register};
use pulse_test_support::websocket::closed_within;

/// The admin binary with nothing but the stack (and what the environment gives) to find the tables by.
fn admin_of_stack(stack: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pulse-admin"))
        .env_remove("TABLE_NAME")
        .env_remove("ROLLUP_TABLE_NAME")
        .env_remove("WEBSOCKET_ENDPOINT")
        .args(["--stack", stack])
        .args(args)
        .output()
        .expect("pulse-admin runs")
}

fn moto() -> String {
    std::env::var("AWS_ENDPOINT_URL_DYNAMODB")
        .expect("AWS_ENDPOINT_URL_DYNAMODB is not set: run the tests with `make test`, which starts moto")
}

/// With only a stack's name: a site is created in the stack's tables, and rotating its token closes its
/// open dashboard from the CLI through the stack's management endpoint (the broadcast would too, later).
/// Multi-threaded: the gateway serves while the test waits for the CLI.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stacks_name_is_all_the_cli_needs() {
    let id = pulse_core::EventId::random();
    let table = format!("admin-stack-{id}");
    let local = LocalStack::start(&moto(), &table).await.unwrap();
    let stack = format!("pulse-{id}");
    let outputs = LocalOutputs {
        table: &table,
        rollup_table: local.store.rollup_table(),
        websocket_endpoint: &local.address,
    };
    register(&pulse_dynamodb::sdk_config().await, &moto(), &stack, &outputs)
        .await
        .unwrap();

    let token = stdout(&admin_of_stack(
        &stack,
        &["site", "create", "--id", "watched", "--domain", "watched.example"],
    ));
    let ws = local.address.replacen("http://", "ws://", 1);
    let (mut dashboard, _) = tokio_tungstenite::connect_async(format!("{ws}/ws?siteId=watched&token={}", token.trim()))
        .await
        .expect("the token admits the dashboard");

    let rotated = admin_of_stack(&stack, &["site", "rotate-token", "--id", "watched"]);
    let said = stderr(&rotated);
    assert!(said.contains("open dashboard connection(s) closed"), "{said}");
    let new_token = stdout(&rotated);
    assert_ne!(new_token.trim(), token.trim());
    assert!(
        closed_within(&mut dashboard, Duration::from_secs(10)).await,
        "the old token's dashboard stays open"
    );

    // The rollup table is the stack's too: the purge finds (and reports) the site's items in both.
    let purged = stderr(&admin_of_stack(
        &stack,
        &[
            "site",
            "delete",
            "--id",
            "watched",
            "--purge",
            "--wait-for-dashboards",
            "5",
        ],
    ));
    assert!(
        purged.contains("site watched purged") && purged.contains("registry item (with its goals) removed"),
        "{purged}"
    );
}

#[tokio::test]
async fn a_missing_stack_or_tables_that_contradict_it_are_refused_clearly() {
    let unknown = admin_of_stack("no-such-stack", &["site", "list"]);
    assert!(!unknown.status.success());
    let said = String::from_utf8_lossy(&unknown.stderr);
    assert!(said.contains("stack 'no-such-stack'"), "{said}");

    let id = pulse_core::EventId::random();
    let stack = format!("pulse-{id}");
    let outputs = LocalOutputs {
        table: "stack-table",
        rollup_table: "stack-table-rollups",
        websocket_endpoint: "http://127.0.0.1:1",
    };
    register(&pulse_dynamodb::sdk_config().await, &moto(), &stack, &outputs)
        .await
        .unwrap();
    let contradicted = Command::new(env!("CARGO_BIN_EXE_pulse-admin"))
        .env("TABLE_NAME", "another-table")
        .args(["--stack", &stack, "site", "list"])
        .output()
        .unwrap();
    assert!(!contradicted.status.success());
    let said = String::from_utf8_lossy(&contradicted.stderr);
    assert!(said.contains("give either the stack or the tables"), "{said}");

    let neither = Command::new(env!("CARGO_BIN_EXE_pulse-admin"))
        .env_remove("TABLE_NAME")
        .env_remove("PULSE_STACK")
        .args(["site", "list"])
        .output()
        .unwrap();
    assert!(!neither.status.success());
    assert!(String::from_utf8_lossy(&neither.stderr).contains("pass --stack"));
}
