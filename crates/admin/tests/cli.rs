//! The admin binary against moto (`make test` starts it and exports AWS_ENDPOINT_URL_DYNAMODB).

mod common;

use common::{admin, stdout};
use pulse_core::spread::Spread;
use pulse_core::{SiteDirectory, SiteId};
use pulse_dynamodb::DynamoStore;

/// The admin binary started, not awaited: for commands run at once.
fn spawn_admin(table: &str, args: &[&str]) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_pulse-admin"))
        .env("TABLE_NAME", table)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("pulse-admin starts")
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

    // Outbound click URLs lose their query unless the site opts in, at creation or later.
    assert!(!site.keep_outbound_query);
    stdout(&admin(
        &table,
        &[
            "site",
            "create",
            "--id",
            "links",
            "--domain",
            "x.com",
            "--keep-outbound-query",
        ],
    ));
    let links = SiteId::parse("links").unwrap();
    assert!(store.find_site(&links).await.unwrap().unwrap().keep_outbound_query);
    stdout(&admin(
        &table,
        &["site", "set", "--id", "links", "--keep-outbound-query", "false"],
    ));
    assert!(!store.find_site(&links).await.unwrap().unwrap().keep_outbound_query);
    stdout(&admin(
        &table,
        &["site", "set", "--id", "shop", "--keep-outbound-query", "true"],
    ));
    assert!(store.find_site(&shop).await.unwrap().unwrap().keep_outbound_query);
    for refused in [
        &["site", "set", "--id", "shop"][..],
        &["site", "set", "--id", "shop", "--keep-outbound-query", "maybe"],
        &["site", "set", "--id", "ghost", "--keep-outbound-query", "true"],
    ] {
        assert!(!admin(&table, refused).status.success(), "{refused:?}");
    }

    // A busy site's writes spread over more keys from a minute far enough ahead; bounds refused.
    stdout(&admin(&table, &["site", "spread", "--id", "shop", "--count", "16"]));
    let spreads = store.find_site(&shop).await.unwrap().unwrap().spreads;
    let now = chrono::Utc::now();
    assert_eq!(spreads.current(now), 1);
    assert_eq!(spreads.current(now + chrono::Duration::minutes(12)), 16);
    assert_eq!(spreads.in_use().len(), 16);
    let list = stdout(&admin(&table, &["site", "list"]));
    let row = list.lines().find(|line| line.starts_with("shop ")).unwrap();
    assert_eq!(row.split_whitespace().nth(3), Some("1"), "{row}");
    for refused in [
        &["site", "spread", "--id", "shop", "--count", "0"][..],
        &["site", "spread", "--id", "shop", "--count", "65"],
        &["site", "spread", "--id", "shop", "--count", "4", "--lead-minutes", "1"],
        &["site", "spread", "--id", "ghost", "--count", "4"],
    ] {
        assert!(!admin(&table, refused).status.success(), "{refused:?}");
    }

    let deleted = admin(&table, &["site", "delete", "--id", "shop"]);
    assert!(String::from_utf8_lossy(&deleted.stderr).contains("stays until TTL"));
    stdout(&deleted);
    assert!(store.find_site(&shop).await.unwrap().is_none());
    let again = admin(&table, &["site", "delete", "--id", "shop"]);
    assert!(!again.status.success());
    let refusal = String::from_utf8_lossy(&again.stderr);
    assert!(refusal.contains("does not exist"), "{refusal}");
}

#[tokio::test]
async fn manages_goals() {
    let table = format!("admin-{}", pulse_core::EventId::random());
    stdout(&admin(&table, &["table", "create"]));
    stdout(&admin(
        &table,
        &["site", "create", "--id", "shop", "--domain", "shop.example.com"],
    ));
    let add = |args: &[&str]| {
        let mut all = vec!["goal", "add", "--site", "shop"];
        all.extend_from_slice(args);
        admin(&table, &all)
    };
    stdout(&add(&["--name", "signup", "--page", "/signup/done"]));
    stdout(&add(&["--name", "docs", "--page-prefix", "/docs/"]));
    stdout(&add(&[
        "--name",
        "pro plan",
        "--event",
        "button_click",
        "--event-prop",
        "plan=pro",
        "--value",
        "10",
    ]));
    stdout(&add(&["--name", "unicode", "--page", "/blog/ü"]));
    // Refusals: a second goal of a name, no rule, two rules, a bad name, a relative path, an unknown site.
    for args in [
        &["--name", "signup", "--page", "/x"][..],
        &["--name", "none"],
        &["--name", "two", "--page", "/a", "--event", "b"],
        &["--name", "a#b", "--page", "/a"],
        &["--name", "rel", "--page", "a"],
    ] {
        assert!(!add(args).status.success(), "{args:?}");
    }
    assert!(
        !admin(
            &table,
            &["goal", "add", "--site", "ghost", "--name", "x", "--page", "/"]
        )
        .status
        .success()
    );

    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&pulse_dynamodb::sdk_config().await),
        &table,
    );
    let site = store.find_site(&SiteId::parse("shop").unwrap()).await.unwrap().unwrap();
    let names: Vec<&str> = site.goals.iter().map(|goal| goal.name.as_str()).collect();
    assert_eq!(names, ["signup", "docs", "pro plan", "unicode"]);
    assert_eq!(site.goals[2].value, Some(10.0));
    assert_eq!(
        site.goals[3].rule,
        pulse_core::goal::GoalRule::Page {
            path: "/blog/%C3%BC".into()
        }
    );
    let list = stdout(&admin(&table, &["goal", "list", "--site", "shop"]));
    assert!(
        list.lines()
            .any(|line| line.starts_with("pro plan") && line.contains("button_click plan=pro")),
        "{list}"
    );

    stdout(&admin(&table, &["goal", "remove", "--site", "shop", "--name", "docs"]));
    assert!(
        !admin(&table, &["goal", "remove", "--site", "shop", "--name", "docs"])
            .status
            .success()
    );
    let site = store.find_site(&SiteId::parse("shop").unwrap()).await.unwrap().unwrap();
    assert_eq!(site.goals.len(), 3);

    // At most 50.
    for i in 0..47 {
        stdout(&add(&["--name", &format!("g{i}"), "--page", &format!("/{i}")]));
    }
    assert!(!add(&["--name", "one too many", "--page", "/x"]).status.success());
}

/// Goal edits are conditional on the goals read: edits at the same time all land, none is lost.
#[tokio::test]
async fn concurrent_goal_edits_all_land() {
    let table = format!("admin-{}", pulse_core::EventId::random());
    stdout(&admin(&table, &["table", "create"]));
    stdout(&admin(
        &table,
        &["site", "create", "--id", "shop", "--domain", "shop.example.com"],
    ));
    stdout(&admin(
        &table,
        &["goal", "add", "--site", "shop", "--name", "gone", "--page", "/gone"],
    ));
    // Six adds and a remove at once, each its own process: each reads the goals, edits and writes.
    let names: Vec<String> = (0..6).map(|i| format!("race {i}")).collect();
    let mut running: Vec<_> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let path = format!("/race/{i}");
            let args = ["goal", "add", "--site", "shop", "--name", name, "--page", &path];
            spawn_admin(&table, &args)
        })
        .collect();
    running.push(spawn_admin(
        &table,
        &["goal", "remove", "--site", "shop", "--name", "gone"],
    ));
    for child in running {
        stdout(&child.wait_with_output().unwrap());
    }
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&pulse_dynamodb::sdk_config().await),
        &table,
    );
    let site = store.find_site(&SiteId::parse("shop").unwrap()).await.unwrap().unwrap();
    let mut stored: Vec<&str> = site.goals.iter().map(|goal| goal.name.as_str()).collect();
    stored.sort_unstable();
    assert_eq!(stored, names, "every add landed and the removal too");
}

/// An edit whose goals another edit writes between its read and its write is applied again to what
/// that edit wrote, instead of overwriting it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_goal_edit_that_meets_another_is_applied_again() {
    use pulse_core::goal::{Goal, GoalName, GoalRule};

    let table = format!("admin-{}", pulse_core::EventId::random());
    stdout(&admin(&table, &["table", "create"]));
    stdout(&admin(
        &table,
        &["site", "create", "--id", "shop", "--domain", "shop.example.com"],
    ));
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&pulse_dynamodb::sdk_config().await),
        &table,
    );
    let shop = SiteId::parse("shop").unwrap();
    let goal = |name: &str| Goal {
        name: GoalName::parse(name).unwrap(),
        rule: GoalRule::Page {
            path: format!("/{name}"),
        },
        value: None,
    };
    // Twice: first on goals never written (no version yet), then on versioned ones.
    for (round, mine) in ["first", "second"].into_iter().enumerate() {
        let mut attempts = 0;
        let written = store
            .edit_goals(&shop, |goals: &mut Vec<Goal>| {
                attempts += 1;
                if attempts == 1 {
                    // Another edit lands after this one's read.
                    assert_eq!(goals.len(), round * 2);
                    let mut others = goals.clone();
                    others.push(goal(&format!("other {round}")));
                    let other = store.set_goals(&shop, &others);
                    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(other)).unwrap();
                }
                goals.push(goal(mine));
                Ok::<_, std::convert::Infallible>(())
            })
            .await
            .unwrap();
        assert_eq!(attempts, 2, "the conflict was noticed and the edit applied again");
        assert_eq!(written.last(), Some(&goal(mine)));
        assert_eq!(written[written.len() - 2], goal(&format!("other {round}")));
        assert_eq!(store.find_site(&shop).await.unwrap().unwrap().goals, written);
    }
    // A refused edit writes nothing; an unknown site is named.
    let refused = store.edit_goals(&shop, |_: &mut Vec<Goal>| Err("no")).await;
    assert!(matches!(refused, Err(pulse_dynamodb::GoalEditError::Refused("no"))));
    assert_eq!(store.find_site(&shop).await.unwrap().unwrap().goals.len(), 4);
    let ghost = SiteId::parse("ghost").unwrap();
    let missing = store.set_goals(&ghost, &[goal("x")]).await.unwrap_err();
    assert!(missing.to_string().contains("does not exist"), "{missing}");
}

/// A batch the aggregate's mapping gave up on is folded again from its failure message, once: replaying it
/// a second time counts nothing twice.
#[tokio::test]
async fn replays_a_failed_batch_from_its_failure_message() {
    use pulse_core::realtime::Minute;
    use pulse_core::{EventKind, EventStore, RealtimeStore};

    let table = format!("admin-{}", pulse_core::EventId::random());
    stdout(&admin(&table, &["table", "create"]));
    let sdk_config = pulse_dynamodb::sdk_config().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk_config), &table);
    let now = chrono::Utc::now();
    for (index, kind) in [EventKind::Pageview, EventKind::Pageview, EventKind::Event]
        .into_iter()
        .enumerate()
    {
        let mut event = pulse_core::memory::sample_event(kind, &format!("evt{index}"), now);
        event.visitor = format!("visitor-{index}");
        store.put_event(&event, now + chrono::Duration::hours(1)).await.unwrap();
    }

    // The failure message Lambda would send: the shard and the range of the batch, no records.
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk_config);
    let stream_arn = dynamodb
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .unwrap()
        .table
        .unwrap()
        .latest_stream_arn
        .unwrap();
    let streams = aws_sdk_dynamodbstreams::Client::new(&sdk_config);
    let shard = streams
        .describe_stream()
        .stream_arn(&stream_arn)
        .send()
        .await
        .unwrap()
        .stream_description
        .unwrap()
        .shards
        .unwrap()
        .remove(0);
    let range = shard.sequence_number_range.unwrap();
    let message = serde_json::json!({
        "version": "1.0",
        "DDBStreamBatchInfo": {
            "shardId": shard.shard_id.unwrap(),
            "startSequenceNumber": range.starting_sequence_number.unwrap(),
            "endSequenceNumber": "99999999999999999999999",
            "batchSize": 3,
            "streamArn": stream_arn,
        }
    });
    let file = std::env::temp_dir().join(format!("{table}-failure.json"));
    std::fs::write(&file, message.to_string()).unwrap();

    let minute = Minute::of(now);
    let pageviews = || async {
        store
            .rollups(&SiteId::parse("demo").unwrap(), &[Spread::FIRST], minute, minute)
            .await
            .unwrap()
            .iter()
            .map(|(_, rollup)| (rollup.counts.pageviews, rollup.counts.events))
            .next()
    };
    assert_eq!(pageviews().await, None, "nothing folded before the replay");
    for _ in 0..2 {
        let output = admin(
            &table,
            &["stream", "replay", "--failure-message", file.to_str().unwrap()],
        );
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        assert!(String::from_utf8_lossy(&output.stderr).contains("3 records"));
        assert_eq!(pageviews().await, Some((2, 1)));
    }
    let garbage = std::env::temp_dir().join(format!("{table}-garbage.json"));
    std::fs::write(&garbage, "{}").unwrap();
    let refused = admin(
        &table,
        &["stream", "replay", "--failure-message", garbage.to_str().unwrap()],
    );
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not an on-failure message"));
}
