//! Bot detection measured on corpora the project does not write: every example of the
//! `crawler-user-agents` npm package (bots) and the distinct user agents of the `user-agents` npm
//! package (browsers), exported by `web/tools/export-ua-corpus.mjs` into `PULSE_UA_CORPUS_DIR`.
//! Classified with the product's own classifier, the one collect calls; prints recall and the
//! false-positive rate, with the user agents behind them. Also checks that the bot list, translated
//! from isbot's regexes, gives isbot's own verdict on every one of them.
//!
//! `infra/local/bot-corpus-test.sh` exports the corpora and runs this (`make test` does, through
//! `infra/local/browser-test.sh`). Without `PULSE_UA_CORPUS_DIR` the test says so and passes, so that
//! a plain `cargo test` needs no node.

use std::path::{Path, PathBuf};

use pulse_core::bot;
use pulse_core::enrich::classify_user_agent;

/// At least this share of the bots must be dropped.
const MIN_RECALL: f64 = 0.99;
/// At most this share of the browsers may be dropped.
const MAX_FALSE_POSITIVES: f64 = 0.01;

/// The corpus directory, or `None` (said so) when the variable is unset.
fn corpus_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("PULSE_UA_CORPUS_DIR").map(PathBuf::from);
    if dir.is_none() {
        println!(
            "PULSE_UA_CORPUS_DIR is unset: skipped (infra/local/bot-corpus-test.sh exports the corpora and runs this)"
        );
    }
    dir
}

fn read_corpus(dir: &Path, name: &str) -> Vec<String> {
    let path = dir.join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let lines: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    assert!(!lines.is_empty(), "{} is empty", path.display());
    lines
}

fn percent(part: usize, whole: usize) -> f64 {
    100.0 * part as f64 / whole as f64
}

#[test]
fn drops_the_bots_and_keeps_the_browsers_of_external_corpora() {
    let Some(dir) = corpus_dir() else {
        return;
    };
    let bots = read_corpus(&dir, "bots.txt");
    let browsers = read_corpus(&dir, "browsers.txt");

    let missed: Vec<&String> = bots.iter().filter(|ua| classify_user_agent(ua).is_some()).collect();
    let dropped: Vec<&String> = browsers.iter().filter(|ua| classify_user_agent(ua).is_none()).collect();

    for ua in &missed {
        println!("bot kept as a person: {ua}");
    }
    for ua in &dropped {
        // The rule tells what to fix; none means woothee's crawler category dropped it.
        let rule = bot::matching_rule(ua).unwrap_or("woothee crawler");
        println!("browser dropped [{rule}]: {ua}");
    }
    let recall = 1.0 - missed.len() as f64 / bots.len() as f64;
    let false_positives = dropped.len() as f64 / browsers.len() as f64;
    println!(
        "bots (crawler-user-agents): {} of {} dropped, recall {:.2}%",
        bots.len() - missed.len(),
        bots.len(),
        percent(bots.len() - missed.len(), bots.len())
    );
    println!(
        "browsers (user-agents): {} of {} dropped, false positives {:.2}%",
        dropped.len(),
        browsers.len(),
        percent(dropped.len(), browsers.len())
    );
    assert!(
        recall >= MIN_RECALL,
        "recall {:.2}% < {:.0}%",
        recall * 100.0,
        MIN_RECALL * 100.0
    );
    assert!(
        false_positives <= MAX_FALSE_POSITIVES,
        "false positives {:.2}% > {:.0}%",
        false_positives * 100.0,
        MAX_FALSE_POSITIVES * 100.0
    );
}

#[test]
fn the_bot_list_gives_isbots_verdicts() {
    let Some(dir) = corpus_dir() else {
        return;
    };
    let verdicts = read_corpus(&dir, "isbot.txt");
    let mut disagreements = 0;
    for line in &verdicts {
        let (verdict, ua) = line.split_once('\t').expect("verdict<TAB>user agent");
        let isbot = verdict == "1";
        if bot::is_bot(ua) != isbot {
            disagreements += 1;
            let rule = bot::matching_rule(ua).unwrap_or("no rule");
            println!("isbot says {isbot}, the bot list [{rule}] the opposite: {ua}");
        }
    }
    println!(
        "isbot's verdicts: the bot list agrees on {} of {}",
        verdicts.len() - disagreements,
        verdicts.len()
    );
    assert_eq!(
        disagreements, 0,
        "the bot list must translate isbot's patterns faithfully"
    );
}
