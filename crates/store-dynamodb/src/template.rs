//! template.yaml, the one description of a deployment, as the code reads it: the tables, the functions'
//! policies, the stream filters, the limits and the outputs all come from here, so that what `sam
//! deploy` creates and what the code (and the local stack) assumes cannot drift apart.

use serde_norway::Value as Yaml;

/// The template as written.
pub const TEXT: &str = include_str!("../../../template.yaml");

/// The template as YAML (CloudFormation's short-form functions, `!Ref` and the like, as tagged values).
pub fn parse() -> Result<Yaml, serde_norway::Error> {
    serde_norway::from_str(TEXT)
}
