//! Each Lambda binary as Lambda runs it, measured without moto: a minimal Lambda Runtime API (next
//! invocation, response, error) and a DynamoDB stub, both started here on loopback, and the release
//! binary started as a fresh process with `AWS_LAMBDA_RUNTIME_API` pointing at them.
//!
//! Per function: binary sizes (the arm64 release build of `make release` when present, and the host
//! build measured here), init (process start → first request for an invocation), cold start (process
//! start → first response posted to the Runtime API), warm CPU per invocation (the process's user +
//! system time over the warm invocations, from /proc) and peak RSS (VmHWM). The stub answers in
//! microseconds, so the figures are the function's own. Each figure is the median of [`ROUNDS`] fresh
//! processes.
//!
//! `BENCH_BASELINE_DIR`, a directory of release binaries of another revision (`make bench` builds the
//! one named by `BENCH_BASELINE`), adds a "before" to every figure: both builds are measured in the
//! same run, alternately, so machine noise falls on both. `BENCH_ONLY=collect` measures one function;
//! `BENCH_WRAP="strace -f -tt -o /tmp/collect.trace"` starts each binary through that command (its
//! words, then the binary's path). The process is killed at the end, so a wrapper must write as it goes.
//!
//! `cargo bench -p local-gateway --bench functions` after `cargo build --release` of the function
//! crates (`make bench` does both); Linux only (/proc).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::{Path as FsPath, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

/// Warm invocations after the first, per process: enough that /proc's 10 ms CPU ticks are <5% of the
/// total.
const WARM_INVOCATIONS: usize = 2000;

/// Fresh processes per function and build; each figure is their median.
const ROUNDS: usize = 3;

/// (binary, the fixture it is invoked with)
const FUNCTIONS: &[(&str, &str)] = &[
    ("collect", "events/collect/pageview.json"),
    ("realtime", "events/realtime/valid.json"),
    ("aggregate", "events/aggregate/stream-batch.json"),
    ("broadcast", "events/broadcast/stream-batch.json"),
    ("ws-connect", "events/websocket/connect-good-token.json"),
    ("ws-disconnect", "events/websocket/disconnect.json"),
    ("ws-default", "events/websocket/default-ping.json"),
    ("web", "events/web/script-identity.json"),
];

struct Invocations {
    pending: VecDeque<Value>,
    /// When the function first asked for an invocation: the end of its init.
    first_request: Option<Instant>,
    /// When each response (or error) was posted.
    answered: Vec<Instant>,
    errors: usize,
}

type Shared = Arc<Mutex<Invocations>>;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = std::env::var("CARGO_TARGET_DIR").map_or_else(|_| root.join("target"), PathBuf::from);
    let baseline = std::env::var("BENCH_BASELINE_DIR").ok().map(PathBuf::from);
    let only = std::env::var("BENCH_ONLY").ok();
    let dynamodb = serve(dynamodb_stub()).await;
    println!(
        "Lambda binaries against a local Runtime API and a DynamoDB stub (loopback), {WARM_INVOCATIONS} warm \
         invocations per process, median of {ROUNDS} processes{}\n",
        match &baseline {
            Some(dir) => format!("; before → after, before = {}", dir.display()),
            None => String::new(),
        }
    );
    println!(
        "{:<14} {:>11} {:>16} {:>14} {:>16} {:>18} {:>16}",
        "function", "arm64 (MB)", "host size (MB)", "init (ms)", "cold (ms)", "warm CPU (µs/inv)", "peak RSS (MB)"
    );
    for (binary, fixture) in FUNCTIONS {
        if only.as_deref().is_some_and(|only| only != *binary) {
            continue;
        }
        let after = target.join("release").join(binary);
        if !after.exists() {
            println!("{binary:<14} not built: run `cargo build --release -p <crate>` (make bench does)");
            continue;
        }
        let before = baseline
            .as_ref()
            .map(|dir| dir.join(binary))
            .filter(|path| path.exists());
        let arm64 = std::fs::metadata(target.join("lambda").join(binary).join("bootstrap"))
            .map(|meta| format!("{:.2}", megabytes(meta.len())))
            .unwrap_or_else(|_| "-".to_owned());
        let event: Value = serde_json::from_str(&std::fs::read_to_string(root.join(fixture)).unwrap()).unwrap();
        let mut rounds_after = Vec::new();
        let mut rounds_before = Vec::new();
        for _ in 0..ROUNDS {
            if let Some(before) = &before {
                rounds_before.push(measure(before, event.clone(), dynamodb).await);
            }
            rounds_after.push(measure(&after, event.clone(), dynamodb).await);
        }
        let after_figures = Figures::median(&rounds_after);
        let before_figures = (!rounds_before.is_empty()).then(|| Figures::median(&rounds_before));
        let column = |figure: fn(&Figures) -> f64, precision: usize| {
            let now = format!("{:.*}", precision, figure(&after_figures));
            match &before_figures {
                Some(before) => format!("{:.*} → {now}", precision, figure(before)),
                None => now,
            }
        };
        let size = |path: &FsPath| megabytes(std::fs::metadata(path).map_or(0, |meta| meta.len()));
        let host_size = match &before {
            Some(before) => format!("{:.2} → {:.2}", size(before), size(&after)),
            None => format!("{:.2}", size(&after)),
        };
        let errors = after_figures.errors + before_figures.as_ref().map_or(0, |before| before.errors);
        println!(
            "{binary:<14} {arm64:>11} {host_size:>16} {:>14} {:>16} {:>18} {:>16}{}",
            column(|f| f.init.as_secs_f64() * 1e3, 1),
            column(|f| f.cold.as_secs_f64() * 1e3, 1),
            column(|f| f.warm_cpu.as_secs_f64() * 1e6, 0),
            column(|f| f.peak_rss_kb as f64 / 1024.0, 1),
            if errors > 0 {
                format!("  ({errors} errors)")
            } else {
                String::new()
            },
        );
    }
    println!(
        "\ninit: process start → first request for an invocation. cold: process start → first response \
         posted (init + the first invocation). warm CPU: user + system time of the process per warm \
         invocation, runtime loop included. Timings and RSS: host build ({}), not arm64: the arm64 \
         binaries cannot run here.",
        std::env::consts::ARCH
    );
}

fn megabytes(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}

struct Figures {
    /// Process start → the first request for an invocation.
    init: Duration,
    cold: Duration,
    warm_cpu: Duration,
    peak_rss_kb: u64,
    errors: usize,
}

impl Figures {
    /// Each figure's median over the rounds, on its own.
    fn median(rounds: &[Figures]) -> Figures {
        fn middle<T: Ord + Copy>(mut values: Vec<T>) -> T {
            values.sort_unstable();
            values[values.len() / 2]
        }
        Figures {
            init: middle(rounds.iter().map(|f| f.init).collect()),
            cold: middle(rounds.iter().map(|f| f.cold).collect()),
            warm_cpu: middle(rounds.iter().map(|f| f.warm_cpu).collect()),
            peak_rss_kb: middle(rounds.iter().map(|f| f.peak_rss_kb).collect()),
            errors: rounds.iter().map(|f| f.errors).sum(),
        }
    }
}

async fn measure(binary: &FsPath, event: Value, dynamodb: SocketAddr) -> Figures {
    let shared: Shared = Arc::new(Mutex::new(Invocations {
        pending: std::iter::repeat_n(event, WARM_INVOCATIONS + 1).collect(),
        first_request: None,
        answered: Vec::new(),
        errors: 0,
    }));
    let runtime_api = serve(runtime_api(shared.clone())).await;
    let started = Instant::now();
    let mut command = match std::env::var("BENCH_WRAP") {
        Ok(wrapper) => {
            let mut words = wrapper.split_whitespace();
            let mut command = Command::new(words.next().expect("BENCH_WRAP names a program"));
            command.args(words).arg(binary);
            command
        }
        Err(_) => Command::new(binary),
    };
    let mut child = command
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("AWS_ENDPOINT_URL_DYNAMODB", format!("http://{dynamodb}"))
        .env("TABLE_NAME", "bench")
        .env("WEBSOCKET_ENDPOINT", format!("http://{dynamodb}"))
        .env("WEBSOCKET_URL", "wss://ws.example/live")
        // The template's LoggingConfig: JSON at INFO, as deployed.
        .env("AWS_LAMBDA_LOG_LEVEL", "INFO")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the function binary starts");
    let cold = wait_for_answers(&shared, 1, &mut child).map(|_| started.elapsed());
    let cpu_after_first = cpu_time(child.id());
    let done = wait_for_answers(&shared, WARM_INVOCATIONS + 1, &mut child);
    let warm_cpu = (cpu_time(child.id()) - cpu_after_first) / WARM_INVOCATIONS as u32;
    let peak_rss_kb = peak_rss_kb(child.id());
    let _ = child.kill();
    let _ = child.wait();
    let errors = shared.lock().unwrap().errors;
    let init = shared
        .lock()
        .unwrap()
        .first_request
        .map(|at| at - started)
        .unwrap_or_default();
    if cold.is_none() || done.is_none() {
        eprintln!("{}: did not answer every invocation in time", binary.display());
    }
    Figures {
        init,
        cold: cold.unwrap_or_default(),
        warm_cpu,
        peak_rss_kb,
        errors,
    }
}

/// Blocks (polling) until `count` invocations are answered, the process exits, or 30 s pass.
fn wait_for_answers(shared: &Shared, count: usize, child: &mut Child) -> Option<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if shared.lock().unwrap().answered.len() >= count {
            return Some(());
        }
        if child.try_wait().ok().flatten().is_some() {
            return None;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    None
}

/// utime + stime of a process, from /proc/{pid}/stat (clock ticks of 10 ms on Linux: hence many
/// invocations).
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or_default();
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |index: usize| fields.get(index).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // After the name: state is field 0, utime 11, stime 12.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

fn peak_rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    address
}

/// The three Runtime API routes a function uses.
fn runtime_api(shared: Shared) -> Router {
    Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next_invocation))
        .route("/2018-06-01/runtime/invocation/{id}/response", post(answered))
        .route("/2018-06-01/runtime/invocation/{id}/error", post(failed))
        .route("/2018-06-01/runtime/init/error", post(failed_init))
        .with_state(shared)
}

async fn next_invocation(State(shared): State<Shared>) -> Response {
    shared.lock().unwrap().first_request.get_or_insert_with(Instant::now);
    loop {
        let next = shared.lock().unwrap().pending.pop_front();
        if let Some(event) = next {
            let id = format!("req-{}", shared.lock().unwrap().answered.len());
            let deadline = (std::time::SystemTime::now() + Duration::from_secs(30))
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis();
            return (
                [
                    ("lambda-runtime-aws-request-id", id),
                    ("lambda-runtime-deadline-ms", deadline.to_string()),
                    (
                        "lambda-runtime-invoked-function-arn",
                        "arn:aws:lambda:us-east-1:000000000000:function:bench".to_owned(),
                    ),
                    (
                        "lambda-runtime-trace-id",
                        "Root=1-00000000-000000000000000000000000".to_owned(),
                    ),
                ],
                event.to_string(),
            )
                .into_response();
        }
        // Nothing left: hold the request, as Lambda would until the next event.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn answered(State(shared): State<Shared>, Path(_id): Path<String>) -> StatusCode {
    shared.lock().unwrap().answered.push(Instant::now());
    StatusCode::ACCEPTED
}

async fn failed(State(shared): State<Shared>, Path(_id): Path<String>) -> StatusCode {
    let mut shared = shared.lock().unwrap();
    shared.errors += 1;
    shared.answered.push(Instant::now());
    StatusCode::ACCEPTED
}

async fn failed_init(State(shared): State<Shared>) -> StatusCode {
    shared.lock().unwrap().errors += 1;
    StatusCode::ACCEPTED
}

/// Answers DynamoDB's JSON protocol with fixed items: the site `demo` (public, token `pt_demo-token`,
/// domains localhost and 127.0.0.1) and a salt; every write succeeds; Queries are empty. Also accepts
/// `@connections` posts, for the broadcast.
fn dynamodb_stub() -> Router {
    Router::new()
        .route("/", post(dynamodb))
        .route("/@connections/{id}", post(|| async { StatusCode::OK }))
}

async fn dynamodb(headers: HeaderMap, body: Bytes) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("DynamoDB_20120810."))
        .unwrap_or_default();
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let answer = match target {
        "GetItem" => {
            let sk = request["Key"]["sk"]["S"].as_str().unwrap_or_default();
            if sk.starts_with("SITE#") {
                json!({"Item": {
                    "pk": {"S": "SITES"}, "sk": {"S": sk}, "site_id": {"S": "demo"},
                    "domains": {"L": [{"S": "localhost"}, {"S": "127.0.0.1"}]}, "public": {"BOOL": true},
                    "token_hash": {"S": pulse_core::TokenHash::of("pt_demo-token").as_str()},
                    "created_at": {"S": "2026-01-01T00:00:00.000Z"}
                }})
            } else if sk.starts_with("DAY#") {
                json!({"Item": {"pk": {"S": "SALT"}, "sk": {"S": sk}, "salt": {"S": "00112233445566778899aabbccddeeff"}}})
            } else if sk == "CONN" {
                json!({"Item": {"pk": request["Key"]["pk"], "sk": {"S": "CONN"}, "site": {"S": "demo"},
                    "connected_at": {"S": "2026-01-01T00:00:00.000Z"}}})
            } else {
                json!({})
            }
        }
        "Query" => json!({"Items": [], "Count": 0, "ScannedCount": 0}),
        _ => json!({}),
    };
    ([("content-type", "application/x-amz-json-1.0")], answer.to_string()).into_response()
}
