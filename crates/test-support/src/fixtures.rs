//! The Lambda event fixtures of `events/`, the same files `cargo lambda invoke` replays.

use std::path::{Path, PathBuf};

/// The fixture `events/{name}.json` (`event("collect/pageview")`), as written.
pub fn event(name: &str) -> String {
    let path = crate::repo_root().join("events").join(format!("{name}.json"));
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("fixture {}: {err}", path.display()))
}

/// Every fixture under `events/{dir}` (recursively), parsed, in path order.
pub fn fixtures(dir: &str) -> Vec<serde_json::Value> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("fixture directory") {
            let path = entry.expect("fixture entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "json") {
                out.push(path);
            }
        }
    }
    let mut paths = Vec::new();
    walk(&crate::repo_root().join("events").join(dir), &mut paths);
    paths.sort();
    paths
        .iter()
        .map(|path| serde_json::from_slice(&std::fs::read(path).expect("fixture")).expect("fixture is JSON"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixture_is_found_by_name_and_every_one_parses() {
        let pageview: serde_json::Value = serde_json::from_str(&event("collect/pageview")).unwrap();
        assert_eq!(pageview["requestContext"]["http"]["method"], "POST");
        assert!(fixtures("collect").len() >= 10);
    }
}
