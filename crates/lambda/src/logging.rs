//! The functions' log subscriber. Lambda's `LogLevel` (`AWS_LAMBDA_LOG_LEVEL`) sets the level of this
//! product's own crates only; every other crate logs at WARN at most. lambda_runtime logs each raw
//! event at TRACE (bearer tokens, the WebSocket `token`, `X-Origin-Verify`, addresses, full URLs), and
//! the HTTP and SDK crates log requests at DEBUG and below, so their chatter is never let through.
//! `RUST_LOG` is ignored for the same reason: the level is the template's to set.

use tracing_subscriber::EnvFilter;

/// The crates whose log lines this product writes and reviews (the functions' library and binary
/// targets, and the libraries they share).
const OWN_CRATES: [&str; 13] = [
    "pulse_core",
    "pulse_lambda",
    "pulse_dynamodb",
    "pulse_http",
    "collect",
    "realtime",
    "aggregate",
    "broadcast",
    "websocket",
    "web",
    "ws_connect",
    "ws_disconnect",
    "ws_default",
];

/// The filter for `configured` (`AWS_LAMBDA_LOG_LEVEL`; INFO when unset or unknown; TRACE is served as
/// DEBUG, FATAL as ERROR).
pub fn directives(configured: Option<&str>) -> String {
    let own = match configured.map(str::to_ascii_uppercase).as_deref() {
        Some("TRACE" | "DEBUG") => "debug",
        Some("WARN") => "warn",
        Some("ERROR" | "FATAL") => "error",
        _ => "info",
    };
    let others = if own == "error" { "error" } else { "warn" };
    let mut directives = others.to_owned();
    for name in OWN_CRATES {
        directives.push_str(&format!(",{name}={own}"));
    }
    directives
}

/// Installs the subscriber: JSON when Lambda's log format is JSON (the template's), else text.
pub fn init() {
    let filter = EnvFilter::new(directives(std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().as_deref()));
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|format| format.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_ansi(false)
        .with_env_filter(filter);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_crates_never_log_below_warn_whatever_the_level() {
        for (configured, own, others) in [
            (Some("TRACE"), "debug", "warn"),
            (Some("DEBUG"), "debug", "warn"),
            (None, "info", "warn"),
            (Some("info"), "info", "warn"),
            (Some("WARN"), "warn", "warn"),
            (Some("ERROR"), "error", "error"),
            (Some("FATAL"), "error", "error"),
        ] {
            let directives = directives(configured);
            assert!(
                directives.starts_with(&format!("{others},")),
                "{configured:?}: {directives}"
            );
            assert!(
                directives.contains(&format!("pulse_core={own}")),
                "{configured:?}: {directives}"
            );
            assert!(
                !directives.contains("trace") && !directives.contains("lambda_runtime"),
                "{directives}"
            );
            EnvFilter::try_new(&directives).expect("a valid filter");
        }
    }
}
