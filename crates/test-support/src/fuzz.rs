//! What the fuzz targets (each crate's `tests/fuzz*.rs`) share: the case count, the seed corpus and its
//! byte-wise mutation, hostile strings and JSON, percent-encoded query strings, and the tally of outcomes
//! a run prints.
//!
//! The targets run as ordinary tests: `PULSE_FUZZ_CASES` sets the number of inputs per target (a small
//! default keeps `cargo test` quick; `make fuzz` runs 1,000,000 each in release mode). A failing input is
//! shrunk and its seed saved beside the target (`*.proptest-regressions`), and replayed first on every
//! later run.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, FileFailurePersistence, RngAlgorithm, TestRunner};

pub use crate::fixtures::fixtures;

/// Inputs per target: `PULSE_FUZZ_CASES`, else the target's CI default.
pub fn cases(default: u32) -> u32 {
    std::env::var("PULSE_FUZZ_CASES")
        .ok()
        .and_then(|raw| raw.trim().replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// A runner whose failures are persisted beside `source_file` (`tests/fuzz.proptest-regressions` for
/// `tests/fuzz.rs`) and replayed first on every later run. Shrinking is bounded so that a failure found
/// late in a long run still ends in minutes.
pub fn runner(source_file: &'static str, default_cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases: cases(default_cases),
        source_file: Some(source_file),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        // Filters re-draw a value now and then; the default cap on re-draws is for runs of 256 cases.
        max_local_rejects: cases(default_cases).max(65_536),
        max_shrink_iters: 4_096,
        // Several times faster than the default ChaCha, which dominated the run time: a fuzzer needs
        // volume, not a cryptographic generator.
        rng_algorithm: RngAlgorithm::XorShift,
        max_shrink_time: 120_000,
        ..Config::default()
    })
}

/// Outcomes seen during a run, printed at its end (`cargo test -- --nocapture` shows them).
pub struct Tally {
    target: &'static str,
    started: Instant,
    /// Inputs the test ran (with a failure, the shrinking runs too).
    runs: AtomicU64,
    counts: Mutex<BTreeMap<String, u64>>,
}

impl Tally {
    pub fn new(target: &'static str) -> Self {
        Self {
            target,
            started: Instant::now(),
            runs: AtomicU64::new(0),
            counts: Mutex::default(),
        }
    }

    pub fn add(&self, outcome: impl Into<String>) {
        *self.counts.lock().unwrap().entry(outcome.into()).or_default() += 1;
    }

    pub fn count(&self, outcome: &str) -> u64 {
        self.counts.lock().unwrap().get(outcome).copied().unwrap_or_default()
    }

    /// One line per target: inputs run, wall time, and how often each outcome came up.
    pub fn report(&self) {
        let counts = self.counts.lock().unwrap();
        let outcomes: Vec<String> = counts.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        eprintln!(
            "fuzz {}: {} inputs in {:.1} s; {}",
            self.target,
            self.runs.load(Ordering::Relaxed),
            self.started.elapsed().as_secs_f64(),
            outcomes.join(", ")
        );
    }
}

/// Runs `test` on `cases` inputs of `strategy`, prints the tally, and fails with the shrunk input.
pub fn fuzz<S: Strategy>(
    source_file: &'static str,
    default_cases: u32,
    tally: &Tally,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let mut runner = runner(source_file, default_cases);
    let result = runner.run(&strategy, |input| {
        tally.runs.fetch_add(1, Ordering::Relaxed);
        test(input)
    });
    tally.report();
    if let Err(err) = result {
        panic!("{err}");
    }
}

/// The state a target keeps between cases (a warm function), made afresh every `lifetime` cases, as
/// Lambda recycles its instances (which also bounds the memory a long run holds), and after a case that
/// panicked (see [`ResetOnPanic`]).
pub struct Recycled<T> {
    state: RefCell<T>,
    uses: std::cell::Cell<u32>,
    make: fn() -> T,
    lifetime: u32,
}

impl<T> Recycled<T> {
    pub fn new(make: fn() -> T, lifetime: u32) -> Self {
        Self {
            state: RefCell::new(make()),
            uses: std::cell::Cell::new(0),
            make,
            lifetime,
        }
    }

    /// Runs one case on the warm state.
    pub fn with<R>(&self, run: impl FnOnce(&mut T) -> R) -> R {
        let uses = self.uses.get() + 1;
        if uses > self.lifetime {
            *self.state.borrow_mut() = (self.make)();
            self.uses.set(1);
        } else {
            self.uses.set(uses);
        }
        let _reset = ResetOnPanic(&self.state, self.make);
        let mut state = self.state.borrow_mut();
        run(&mut state)
    }
}

/// Replaces the state a target keeps between cases (a warm function) when a case panics, so that a lock
/// poisoned by the panic cannot fail the cases proptest then runs to shrink the input. Make it before
/// borrowing the state, so that the borrow ends first.
struct ResetOnPanic<'a, T>(pub &'a RefCell<T>, pub fn() -> T);

impl<T> Drop for ResetOnPanic<'_, T> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            *self.0.borrow_mut() = (self.1)();
        }
    }
}

/// The runtime a target drives its handler with: one thread, timers on (the handlers' request budgets).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime")
}

/// Every file of `fuzz/corpus/{name}`, in name order: the seeds the mutating strategies start from.
pub fn corpus(name: &str) -> Vec<Vec<u8>> {
    let dir = crate::repo_root().join("fuzz/corpus").join(name);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .map(|entry| entry.expect("corpus entry").path())
        .filter(|path| path.is_file())
        .collect();
    paths.sort();
    let seeds: Vec<Vec<u8>> = paths
        .iter()
        .map(|path| std::fs::read(path).expect("corpus file"))
        .collect();
    assert!(!seeds.is_empty(), "{} holds no seeds", dir.display());
    seeds
}

/// Header values as `http` accepts them (API Gateway forwards no control characters either).
pub fn sanitised(value: &[u8]) -> Vec<u8> {
    value
        .iter()
        .map(|&b| if (b < 0x20 && b != b'\t') || b == 0x7f { b'?' } else { b })
        .collect()
}

/// Byte-level edits of a seed, as a mutation fuzzer makes them. Positions are taken modulo the length.
#[derive(Debug, Clone)]
pub enum Mutation {
    FlipBit(usize, u8),
    SetByte(usize, u8),
    Insert(usize, Vec<u8>),
    /// A token that tends to matter to a JSON, URL or key parser.
    Token(usize, &'static str),
    Delete(usize, usize),
    Duplicate(usize, usize),
    Truncate(usize),
}

const TOKENS: &[&str] = &[
    "\"",
    "\\",
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "null",
    "true",
    "false",
    "0",
    "-0",
    "1e999",
    "-1e999",
    "1.5",
    "1E+2",
    "18446744073709551616",
    "-9223372036854775809",
    "NaN",
    "Infinity",
    "\\u0000",
    "\\ud800",
    "\\udc00",
    "\\u",
    "\"\"",
    "{}",
    "[]",
    "#",
    "%",
    "%00",
    "%ff",
    "%zz",
    "?",
    "&",
    "=",
    "+",
    "/",
    "//",
    "..",
    "\u{0}",
    "\u{7f}",
    "\u{202e}",
    "\u{feff}",
    "\u{fffd}",
    "\u{1f600}",
    "é",
    "\r\n",
    "\t",
    " ",
    "javascript:",
    "http://",
    "https://",
    "SITE#",
    "PV#",
    "EV#",
    "ID#",
    "RT#",
    "CONN#",
];

impl Mutation {
    fn apply(&self, bytes: &mut Vec<u8>) {
        let at = |pos: usize, len: usize| if len == 0 { 0 } else { pos % (len + 1) };
        match self {
            Mutation::FlipBit(pos, bit) if !bytes.is_empty() => {
                let i = pos % bytes.len();
                bytes[i] ^= 1 << (bit % 8);
            }
            Mutation::SetByte(pos, byte) if !bytes.is_empty() => {
                let i = pos % bytes.len();
                bytes[i] = *byte;
            }
            Mutation::Insert(pos, inserted) => {
                let i = at(*pos, bytes.len());
                bytes.splice(i..i, inserted.iter().copied());
            }
            Mutation::Token(pos, token) => {
                let i = at(*pos, bytes.len());
                bytes.splice(i..i, token.bytes());
            }
            Mutation::Delete(pos, len) => {
                let i = at(*pos, bytes.len());
                let end = (i + len).min(bytes.len());
                bytes.drain(i..end);
            }
            Mutation::Duplicate(pos, len) => {
                let i = at(*pos, bytes.len());
                let end = (i + len).min(bytes.len());
                let copy = bytes[i..end].to_vec();
                bytes.splice(end..end, copy);
            }
            Mutation::Truncate(pos) => {
                let i = at(*pos, bytes.len());
                bytes.truncate(i);
            }
            _ => {}
        }
    }
}

fn mutation() -> BoxedStrategy<Mutation> {
    let pos = any::<usize>();
    prop_oneof![
        3 => (pos, any::<u8>()).prop_map(|(p, b)| Mutation::FlipBit(p, b)),
        2 => (pos, any::<u8>()).prop_map(|(p, b)| Mutation::SetByte(p, b)),
        2 => (pos, prop::collection::vec(any::<u8>(), 1..8)).prop_map(|(p, b)| Mutation::Insert(p, b)),
        4 => (pos, select(TOKENS)).prop_map(|(p, t)| Mutation::Token(p, t)),
        2 => (pos, 1usize..16).prop_map(|(p, n)| Mutation::Delete(p, n)),
        1 => (pos, 1usize..64).prop_map(|(p, n)| Mutation::Duplicate(p, n)),
        1 => pos.prop_map(Mutation::Truncate),
    ]
    .boxed()
}

/// A seed with 0 to 8 byte-level mutations (none: the seed itself, so the corpus is always replayed).
pub fn mutated(seeds: Vec<Vec<u8>>) -> BoxedStrategy<Vec<u8>> {
    (select(seeds), prop::collection::vec(mutation(), 0..8))
        .prop_map(|(mut bytes, mutations)| {
            for m in &mutations {
                m.apply(&mut bytes);
            }
            bytes
        })
        .boxed()
}

/// Characters that break naive parsers: controls, `#` and other key separators, quotes, escapes,
/// bidi overrides, BOMs, non-characters, combining marks and astral ones.
const NASTY_CHARS: &[char] = &[
    '\0',
    '\u{1}',
    '\t',
    '\n',
    '\r',
    '\u{1b}',
    '\u{7f}',
    '\u{80}',
    '\u{85}',
    '\u{a0}',
    '#',
    '%',
    '&',
    '=',
    '?',
    '/',
    '\\',
    '"',
    '\'',
    '<',
    '>',
    ' ',
    '+',
    ':',
    ';',
    '@',
    '[',
    ']',
    '{',
    '}',
    '~',
    '`',
    '|',
    '^',
    '\u{200b}',
    '\u{200d}',
    '\u{202e}',
    '\u{2028}',
    '\u{feff}',
    '\u{fffd}',
    '\u{ffff}',
    '\u{301}',
    'é',
    'ß',
    'İ',
    'ﬀ',
    '日',
    'ع',
    '\u{10ffff}',
    '😀',
];

/// Strings in general: plain identifiers, arbitrary Unicode, nasty characters, near-limit lengths.
pub fn hostile_string() -> BoxedStrategy<String> {
    prop_oneof![
        3 => "[A-Za-z0-9_.-]{0,70}",
        2 => any::<String>(),
        3 => prop::collection::vec(
            prop_oneof![3 => select(NASTY_CHARS), 2 => proptest::char::range('a', 'z'), 1 => any::<char>()],
            0..40,
        )
        .prop_map(|chars| chars.into_iter().collect()),
        1 => (
            select(&['a', 'é', '😀', '#', ' '][..]),
            select(&[63usize, 64, 65, 99, 100, 101, 299, 300, 301, 499, 500, 501, 2047, 2048, 2049, 9000][..]),
        )
            .prop_map(|(c, n)| std::iter::repeat_n(c, n).collect()),
        1 => Just(String::new()),
    ]
    .boxed()
}

/// A JSON value written as text, so that number literals a parser normalises (`1e999`, `-0`,
/// `18446744073709551616`) and duplicate keys reach the parser as sent.
#[derive(Debug, Clone)]
pub enum Json {
    Null,
    Bool(bool),
    /// A number literal, written as it is.
    Num(String),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    pub fn str(s: impl Into<String>) -> Self {
        Json::Str(s.into())
    }

    pub fn write(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Num(n) => out.push_str(n),
            Json::Str(s) => out.push_str(&serde_json::to_string(s).expect("a string serialises")),
            Json::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Json::Obj(fields) => {
                out.push('{');
                for (i, (key, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::to_string(key).expect("a string serialises"));
                    out.push(':');
                    value.write(out);
                }
                out.push('}');
            }
        }
    }

    pub fn to_text(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }
}

/// Number literals, ordinary and not.
pub fn json_number() -> BoxedStrategy<String> {
    prop_oneof![
        3 => any::<i64>().prop_map(|n| n.to_string()),
        2 => (0u64..5000).prop_map(|n| n.to_string()),
        // Every finite double (NaN and infinities have no JSON literal): a filter would reject too often.
        2 => any::<u64>().prop_map(|bits| {
            let f = f64::from_bits(bits);
            if f.is_finite() { f } else { f64::MAX }.to_string()
        }),
        2 => select(&[
            "0", "-0", "0.0", "-0.0", "1e999", "-1e999", "1E+2", "1e-400", "5e-324", "4294967295", "4294967296",
            "18446744073709551615", "18446744073709551616", "-9223372036854775809", "1.7976931348623157e308",
            "123456789012345678901234567890", "0.1", "75", "-1",
        ][..])
        .prop_map(str::to_owned),
    ]
    .boxed()
}

/// Any JSON value, at most `depth` levels deep.
pub fn json_value(depth: u32) -> BoxedStrategy<Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        json_number().prop_map(Json::Num),
        hostile_string().prop_map(Json::Str),
    ];
    leaf.prop_recursive(depth, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Json::Arr),
            prop::collection::vec((hostile_string(), inner), 0..6).prop_map(Json::Obj),
        ]
    })
    .boxed()
}

/// JSON nested `depth` levels, past serde_json's recursion limit (128) when deep enough.
pub fn deep_json() -> BoxedStrategy<String> {
    (1usize..400, any::<bool>())
        .prop_map(|(depth, objects)| {
            if objects {
                format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth))
            } else {
                format!("{}{}", "[".repeat(depth), "]".repeat(depth))
            }
        })
        .boxed()
}

/// Percent-encodes every byte outside the unreserved set, as browsers and API Gateway pass a query on.
pub fn percent_encode(raw: &[u8]) -> String {
    let mut out = String::with_capacity(raw.len() * 3);
    for &b in raw {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One `key=value` piece of a raw query string as a client may send it: plain, percent-encoded (any
/// bytes, invalid UTF-8 included), `+` for spaces, broken escapes, no `=`, empty.
fn query_piece(keys: &'static [&'static str], values: BoxedStrategy<String>) -> BoxedStrategy<String> {
    let key = prop_oneof![
        6 => select(keys).prop_map(str::to_owned),
        1 => select(keys).prop_map(|k| k.to_uppercase()),
        1 => select(keys).prop_map(|k| percent_encode(k.as_bytes())),
        1 => "[A-Za-z0-9_]{0,8}",
    ];
    let value = prop_oneof![
        4 => values.clone().prop_map(|v| {
            v.replace('%', "%25").replace('&', "%26").replace('#', "%23").replace('+', "%2B").replace(' ', "+")
        }),
        2 => values.prop_map(|v| percent_encode(v.as_bytes())),
        1 => prop::collection::vec(any::<u8>(), 0..12).prop_map(|b| percent_encode(&b)),
        1 => select(&["", "%", "%2", "%zz", "%C3%28", "%ED%A0%80", "%00", "+", "++5++", "%20", "5%20", "%35"][..])
            .prop_map(str::to_owned),
    ];
    (key, value, 0u8..10)
        .prop_map(|(key, value, shape)| match shape {
            0 => key,
            1 => format!("{key}="),
            _ => format!("{key}={value}"),
        })
        .boxed()
}

/// Bytes as they may stand in a URI query sent on by API Gateway: what `http::Uri` accepts there as
/// it is, the rest percent-encoded. (lambda_http builds a `Uri` from the raw query string and panics on
/// anything else, so such a query never reaches a handler.)
pub fn encode_for_query(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            0x21 | 0x24..=0x3B | 0x3D | 0x3F..=0x7E => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A raw query string made of the given keys (and others).
pub fn query_string(keys: &'static [&'static str], values: BoxedStrategy<String>) -> BoxedStrategy<String> {
    prop::collection::vec(query_piece(keys, values), 0..6)
        .prop_map(|pieces| encode_for_query(pieces.join("&").as_bytes()))
        .boxed()
}

/// A query string seed mutated byte-wise.
pub fn mutated_query(seeds: Vec<Vec<u8>>) -> BoxedStrategy<String> {
    mutated(seeds).prop_map(|bytes| encode_for_query(&bytes)).boxed()
}

/// Numbers around the bounds of a numeric query parameter, with the spellings a parser may trip on.
pub fn numeric_text() -> BoxedStrategy<String> {
    prop_oneof![
        4 => (0u64..130).prop_map(|n| n.to_string()),
        1 => any::<u64>().prop_map(|n| n.to_string()),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        2 => select(&[
            "", " ", "0", "00", "001", "+5", "-0", "-1", " 5 ", "5 ", "\t5", "5\n", "1.0", "1e1", "0x10", "5a", "٣",
            "５", "18446744073709551615", "18446744073709551616", "99999999999999999999999",
        ][..])
        .prop_map(str::to_owned),
        1 => hostile_string(),
    ]
    .boxed()
}
