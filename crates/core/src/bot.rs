//! Bot detection from the User-Agent with the project's pattern list, `bot_patterns.txt` (generated from
//! the isbot npm package's list by `web/tools/refresh-bot-patterns.mjs`; the file's header describes
//! its rules).
//!
//! Collect is a Lambda, so the matcher must cost next to nothing to build. The User-Agent is lowercased
//! once; literal rules (almost all) share one Aho-Corasick automaton, with their guards checked at each
//! occurrence, prefix rules are looked up by the User-Agent's first byte, and the few rules literals
//! cannot express are one small regex set. All is built on first use, in about half a millisecond,
//! where one regex of the whole list costs milliseconds.

use std::sync::LazyLock;

use aho_corasick::AhoCorasick;
use regex::bytes::{RegexSet, RegexSetBuilder};

const PATTERNS: &str = include_str!("bot_patterns.txt");

static MATCHER: LazyLock<Matcher> =
    LazyLock::new(|| Matcher::parse(PATTERNS).expect("bot_patterns.txt is valid (a unit test parses it)"));

/// Whether the User-Agent matches a rule of the bot list. Case-insensitive, as the list is meant.
pub fn is_bot(user_agent: &str) -> bool {
    MATCHER.is_match(user_agent.to_ascii_lowercase().as_bytes())
}

/// The first rule of the bot list the User-Agent matches, as its line in `bot_patterns.txt`: what to
/// look at when a browser is taken for a bot.
pub fn matching_rule(user_agent: &str) -> Option<&'static str> {
    MATCHER.first_rule(user_agent.to_ascii_lowercase().as_bytes())
}

#[derive(Debug, thiserror::Error)]
enum PatternError {
    #[error("bot_patterns.txt line {line}: {message}")]
    Rule { line: usize, message: String },
    #[error("bot_patterns.txt: the literals do not build: {0}")]
    Literals(#[from] aho_corasick::BuildError),
    #[error("bot_patterns.txt: the regexes do not build: {0}")]
    Regexes(#[from] regex::Error),
}

struct Matcher {
    literals: AhoCorasick,
    /// The `contains` rules of each distinct literal, by the automaton's pattern index.
    rules: Vec<Vec<LiteralRule>>,
    /// The `prefix` rules, by the first byte of their text: a handful to compare per User-Agent.
    prefixes: Vec<Vec<LiteralRule>>,
    regexes: RegexSet,
    regex_lines: Vec<&'static str>,
}

/// A literal and the conditions on where it occurs.
struct LiteralRule {
    line: &'static str,
    text: &'static str,
    at_end: bool,
    word_start: bool,
    word_end: bool,
    unless_preceded_by: Vec<&'static str>,
    unless_followed_by: Vec<&'static str>,
}

impl Matcher {
    fn parse(text: &'static str) -> Result<Self, PatternError> {
        let mut literals: Vec<&str> = Vec::new();
        let mut rules: Vec<Vec<LiteralRule>> = Vec::new();
        let mut prefixes: Vec<Vec<LiteralRule>> = (0..256).map(|_| Vec::new()).collect();
        let mut regex_lines = Vec::new();
        let mut regex_sources = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let error = |message: String| PatternError::Rule {
                line: index + 1,
                message,
            };
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let mut fields = line.split('\t');
            let kind = fields.next().unwrap_or_default();
            let pattern = fields
                .next()
                .filter(|p| !p.is_empty())
                .ok_or_else(|| error("no pattern".into()))?;
            if kind == "regex" {
                if let Some(extra) = fields.next() {
                    return Err(error(format!("a regex takes no guard: {extra}")));
                }
                // The User-Agent is lowercased, so an upper-case letter would never match (escapes such
                // as \W aside).
                if has_unescaped_upper_case(pattern) {
                    return Err(error(format!("{pattern:?} is not lower case")));
                }
                regex_lines.push(line);
                regex_sources.push(pattern);
                continue;
            }
            if !matches!(kind, "contains" | "prefix") {
                return Err(error(format!("unknown kind {kind}")));
            }
            let mut rule = LiteralRule {
                line,
                text: pattern,
                at_end: false,
                word_start: false,
                word_end: false,
                unless_preceded_by: Vec::new(),
                unless_followed_by: Vec::new(),
            };
            for guard in fields {
                let list = |value: &'static str| value.split('|').filter(|s| !s.is_empty()).collect::<Vec<_>>();
                match guard.split_once('=') {
                    None if guard == "word-start" => rule.word_start = true,
                    None if guard == "word-end" => rule.word_end = true,
                    None if guard == "end" => rule.at_end = true,
                    Some(("unless-preceded-by", value)) => rule.unless_preceded_by = list(value),
                    Some(("unless-followed-by", value)) => rule.unless_followed_by = list(value),
                    _ => return Err(error(format!("unknown guard {guard}"))),
                }
            }
            let texts =
                std::iter::once(pattern).chain(rule.unless_preceded_by.iter().chain(&rule.unless_followed_by).copied());
            if let Some(text) = texts.into_iter().find(|t| t.bytes().any(|b| b.is_ascii_uppercase())) {
                return Err(error(format!("{text:?} is not lower case")));
            }
            if kind == "prefix" {
                prefixes[usize::from(pattern.as_bytes()[0])].push(rule);
                continue;
            }
            match literals.iter().position(|l| *l == pattern) {
                Some(i) => rules[i].push(rule),
                None => {
                    literals.push(pattern);
                    rules.push(vec![rule]);
                }
            }
        }
        let literals = AhoCorasick::new(&literals)?;
        // ASCII classes (as JavaScript's \w, \d, \b), on bytes so that [^ ] may match inside a character.
        // Case-sensitive, over the lowercased User-Agent: cheaper to build.
        let regexes = RegexSetBuilder::new(&regex_sources).unicode(false).build()?;
        Ok(Self {
            literals,
            rules,
            prefixes,
            regexes,
            regex_lines,
        })
    }

    fn first_literal_rule(&self, haystack: &[u8]) -> Option<&LiteralRule> {
        let prefixed = haystack.first().and_then(|first| {
            self.prefixes[usize::from(*first)]
                .iter()
                .find(|rule| haystack.starts_with(rule.text.as_bytes()) && rule.holds(haystack, 0))
        });
        // Overlapping: a guard may reject one occurrence of a literal and accept another, or another
        // literal ending at the same place.
        prefixed.or_else(|| {
            self.literals.find_overlapping_iter(haystack).find_map(|found| {
                self.rules[found.pattern().as_usize()]
                    .iter()
                    .find(|rule| rule.holds(haystack, found.start()))
            })
        })
    }

    fn is_match(&self, haystack: &[u8]) -> bool {
        self.first_literal_rule(haystack).is_some() || self.regexes.is_match(haystack)
    }

    fn first_rule(&self, haystack: &[u8]) -> Option<&'static str> {
        match self.first_literal_rule(haystack) {
            Some(rule) => Some(rule.line),
            None => self
                .regexes
                .matches(haystack)
                .iter()
                .next()
                .map(|i| self.regex_lines[i]),
        }
    }
}

/// Whether the regex holds an upper-case letter that is not part of an escape such as `\W`.
fn has_unescaped_upper_case(regex: &str) -> bool {
    let mut escaped = false;
    regex.chars().any(|c| {
        let upper = c.is_ascii_uppercase() && !escaped;
        escaped = c == '\\' && !escaped;
        upper
    })
}

/// A word character as in regex `\b`: ASCII letters, digits and `_`.
fn is_word(byte: Option<&u8>) -> bool {
    byte.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

impl LiteralRule {
    /// Whether the rule accepts its text where it occurs, at `haystack[start..]`.
    fn holds(&self, haystack: &[u8], start: usize) -> bool {
        let end = start + self.text.len();
        let (before, after) = (&haystack[..start], &haystack[end..]);
        (!self.at_end || end == haystack.len())
            && (!self.word_start || is_word(before.last()) != is_word(haystack.get(start)))
            && (!self.word_end || is_word(haystack.get(end - 1)) != is_word(after.first()))
            && !self
                .unless_preceded_by
                .iter()
                .any(|text| before.ends_with(text.as_bytes()))
            && !self
                .unless_followed_by
                .iter()
                .any(|text| after.starts_with(text.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pattern_file_parses() {
        let matcher = Matcher::parse(PATTERNS).unwrap();
        let prefixes = matcher.prefixes.iter().map(Vec::len).sum::<usize>();
        assert!(matcher.rules.len() > 100 && prefixes > 50 && matcher.regex_lines.len() < 30);
    }

    #[test]
    fn malformed_rules_are_reported_with_their_line() {
        for (text, message) in [
            ("contains\tbot\n\nsubstring\tx", "line 3: unknown kind substring"),
            ("prefix\tx\tword-middle", "line 1: unknown guard word-middle"),
            ("contains\tBot", "line 1: \"Bot\" is not lower case"),
            ("regex\t^\\W+Bot", "line 1: \"^\\\\W+Bot\" is not lower case"),
            ("regex\t(", "the regexes do not build"),
            ("contains", "line 1: no pattern"),
        ] {
            let error = Matcher::parse(text).err().expect(text).to_string();
            assert!(error.contains(message), "{error}");
        }
    }

    #[test]
    fn guards_hold_where_the_literal_occurs() {
        let matcher = Matcher::parse(
            "prefix\tpython\n\
             contains\tbot\tunless-preceded-by= cu\tword-end\n\
             contains\thttp\tunless-preceded-by=lib\n\
             contains\tgoogle\tunless-preceded-by= channel/|google/\tunless-followed-by=wv|app|/google\n\
             contains\tdlc\tword-start\tword-end\n\
             contains\t.com\tword-end\n\
             contains\trss\tend\n\
             regex\t^\\w+/\\d+$",
        )
        .unwrap();
        let bot = |ua: &str| matcher.is_match(ua.as_bytes());
        assert!(bot("python-urllib/3.12"));
        assert!(!bot("mozilla/5.0 python"));
        assert!(bot("foo robot/1.0"));
        assert!(bot("x bot"));
        assert!(!bot("mozilla/5.0 (linux; android 9; cubot x19)"), "a phone brand");
        assert!(!bot("mozilla/5.0 botany"));
        assert!(
            bot("mozilla/5.0 cubot bot"),
            "one occurrence is guarded, the other is not"
        );
        assert!(bot("wordpress; https://example.com"));
        assert!(!bot("libhttp"));
        assert!(!bot("googleapp googlewv"));
        assert!(bot("googleapp google"));
        assert!(!bot("x google/google"));
        assert!(bot("dlc"));
        assert!(!bot("dlcx xdlc"));
        assert!(bot("see example.com;"));
        assert!(!bot("see example.community"));
        assert!(bot("feed rss"));
        assert!(!bot("rss feed"));
        assert!(bot("someagent/42"));
        assert!(!bot("someagent/42 x"));
    }
}
