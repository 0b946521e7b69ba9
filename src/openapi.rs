//! `scim-sidecar init --openapi`: a first mapping guessed from a platform's OpenAPI 3.x or Swagger
//! 2.0 description (JSON or YAML). It finds the user and group collections, their calls, the id
//! field, paging, the fields holding userName, e-mail, names, active and externalId, and the
//! membership calls, and writes a commented mapping with every guess marked `# CHECK:`
//! (docs/openapi-init.md).

mod emit;
mod fields;
mod guess;
mod names;
mod spec;

/// A scaffolded mapping and the notes for the operator.
#[derive(Debug)]
pub struct Scaffold {
    /// The mapping file's text (TOML, commented).
    pub toml: String,
    /// One line per finding, for standard error.
    pub notes: Vec<String>,
}

/// Reads an API description (`text`, named `source` in the output's header) and writes a mapping.
/// Fails when the text is not an OpenAPI/Swagger document or holds neither a user nor a group
/// collection.
pub fn scaffold(text: &str, source: &str) -> Result<Scaffold, String> {
    let spec = spec::Spec::parse(text)?;
    let users = guess::collection(&spec, names::Kind::Users);
    let groups = guess::collection(&spec, names::Kind::Groups);
    let mut notes = vec![format!(
        "{source}: {} \"{}\"",
        spec.version,
        spec.title().unwrap_or("untitled")
    )];
    for (name, c) in [("users", &users), ("groups", &groups)] {
        match c {
            Some(c) => notes.push(format!(
                "{name}: {} (id {}, attributes mapped: {}{}{})",
                c.spec_path,
                c.id,
                c.fields.len(),
                if c.read.is_none() {
                    ", no read call: left out"
                } else {
                    ""
                },
                if c.members.is_some() {
                    ", member calls"
                } else {
                    ""
                }
            )),
            None => notes.push(format!("{name}: no collection found")),
        }
    }
    if users.as_ref().is_none_or(|c| c.read.is_none())
        && groups.as_ref().is_none_or(|c| c.read.is_none())
    {
        return Err(format!(
            "{source}: no user or group collection with a call reading one item was found ({})",
            notes[1..].join("; ")
        ));
    }
    let mut out = emit::Out::new();
    out.header(&spec, source);
    out.platform(&spec);
    for c in [users, groups].iter().flatten() {
        out.resource(c);
    }
    let toml = out.finish();
    let checks = toml.lines().filter(|l| l.starts_with("# CHECK:")).count();
    notes.push(format!(
        "{checks} guesses marked # CHECK: review each, then run `scim-sidecar check`"
    ));
    Ok(Scaffold { toml, notes })
}

#[cfg(test)]
mod tests;
