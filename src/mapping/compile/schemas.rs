//! `[[schemas]]`: custom extension schemas, and the schema each resource type publishes (only
//! what round-trips through the platform).

use super::*;

impl Compiler<'_> {
    pub(super) fn registry(&mut self, defs: &[raw::SchemaDef]) -> Registry {
        let mut reg = Registry::standard();
        for (i, d) in defs.iter().enumerate() {
            let key = format!("schemas[{i}]");
            let Some(id) = d.id.as_deref() else {
                self.err(format!("{key}.id"), None, "missing; the extension's URN");
                continue;
            };
            if !id.starts_with("urn:") || id.contains(char::is_whitespace) {
                self.err(format!("{key}.id"), q(id), "an extension id is a URN, e.g. \"urn:example:params:scim:schemas:extension:acme:2.0:User\"");
                continue;
            }
            let target = match d.resource.as_deref() {
                Some("User") => &mut reg.user,
                Some("Group") => &mut reg.group,
                other => {
                    self.err(
                        format!("{key}.resource"),
                        other.and_then(q),
                        "the resource type this extension belongs to: \"User\" or \"Group\"",
                    );
                    continue;
                }
            };
            if target.urns().any(|u| u.eq_ignore_ascii_case(id)) {
                self.err(format!("{key}.id"), q(id), "this schema is already defined");
                continue;
            }
            let mut attrs = Vec::new();
            for (j, a) in d.attributes.iter().enumerate() {
                match a.compile() {
                    Ok(a) => attrs.push(a),
                    Err(es) => {
                        for (k, r) in es {
                            self.err(format!("{key}.attributes[{j}].{k}"), None, r);
                        }
                    }
                }
            }
            let schema = Schema {
                id: id.to_owned(),
                name: d
                    .name
                    .clone()
                    .unwrap_or_else(|| id.rsplit(':').next().unwrap_or(id).to_owned()),
                description: d.description.clone(),
                attributes: attrs,
            };
            let mut rs = (**target).clone();
            rs.extensions.push(Extension {
                schema: Arc::new(schema),
                required: d.required,
            });
            *target = Arc::new(rs);
        }
        reg
    }

    // --- [users] / [groups] ---
}

/// The schema a resource type publishes: only mapped attributes; a SCIM attribute writing the same
/// platform field as an earlier one is an alias and is not published (it cannot round-trip on its
/// own); attributes read but never written are published read-only; value-filter equalities narrow
/// the canonical values (`emails[type eq "work"]` publishes `type` with `["work"]`).
pub(super) fn published_schema(
    full: &ResourceSchema,
    attrs: &[AttrMap],
    members: bool,
) -> ResourceSchema {
    #[derive(Default)]
    struct Keep {
        subs: BTreeMap<String, bool>,
        read_only: bool,
        canonical: BTreeMap<String, Vec<String>>,
        /// The platform needs it: published as required, with the sub-attributes it needs
        /// (the mapped one, and those its value filter selects on).
        required: Option<Vec<String>>,
    }
    let key_of = |m: &AttrMap| {
        (
            m.extension.clone().unwrap_or_default().to_ascii_lowercase(),
            m.attr.to_ascii_lowercase(),
        )
    };
    // An alias writes a field an earlier mapping already writes. An attribute mapped only through
    // aliases (and read-only companions such as a constant `primary`) is not published.
    let mut fields_seen: Vec<&FieldPath> = Vec::new();
    let mut alias = vec![false; attrs.len()];
    for (i, m) in attrs.iter().enumerate() {
        if let Some(w) = &m.write {
            alias[i] = fields_seen.contains(&w);
            fields_seen.push(w);
        }
    }
    let aliased: BTreeSet<(String, String)> = attrs
        .iter()
        .zip(&alias)
        .filter(|(_, a)| **a)
        .map(|(m, _)| key_of(m))
        .filter(|k| {
            !attrs
                .iter()
                .zip(&alias)
                .any(|(m, a)| !*a && m.write.is_some() && key_of(m) == *k)
        })
        .collect();
    let mut keep: BTreeMap<(String, String), Keep> = BTreeMap::new();
    for (i, m) in attrs.iter().enumerate() {
        if alias[i] || aliased.contains(&key_of(m)) {
            continue;
        }
        let ext = m.extension.clone().unwrap_or_default().to_ascii_lowercase();
        let entry = keep.entry((ext, m.attr.to_ascii_lowercase())).or_default();
        let ro = m.write.is_none();
        if m.required {
            let mut subs: Vec<String> = m.sub.iter().map(|s| s.to_ascii_lowercase()).collect();
            subs.extend(m.filter_eqs.iter().map(|(s, _)| s.to_ascii_lowercase()));
            entry.required = Some(subs);
        }
        match &m.sub {
            Some(s) => {
                let e = entry.subs.entry(s.to_ascii_lowercase()).or_insert(ro);
                *e = *e && ro;
            }
            None => entry.read_only = ro,
        }
        for (sub, v) in &m.filter_eqs {
            entry.subs.entry(sub.to_ascii_lowercase()).or_insert(false);
            if let Value::String(s) = v {
                let values = entry.canonical.entry(sub.to_ascii_lowercase()).or_default();
                if !values.contains(s) {
                    values.push(s.clone());
                }
            }
        }
    }
    if members {
        let e = keep
            .entry((String::new(), "members".to_owned()))
            .or_default();
        for s in ["value", "$ref", "type"] {
            e.subs.insert(s.to_owned(), false);
        }
    }
    let narrow = |schema: &Schema, ext: &str| -> Schema {
        let mut s = schema.narrowed(&|attr, sub| {
            let Some(k) = keep.get(&(ext.to_owned(), attr.to_ascii_lowercase())) else {
                return false;
            };
            match sub {
                None => true,
                Some(sub) => k.subs.contains_key(&sub.to_ascii_lowercase()),
            }
        });
        for a in &mut s.attributes {
            let Some(k) = keep.get(&(ext.to_owned(), a.name.to_ascii_lowercase())) else {
                continue;
            };
            if let Some(subs) = &k.required {
                a.required = true;
                for s in &mut a.sub_attributes {
                    if subs.iter().any(|r| s.name.eq_ignore_ascii_case(r)) {
                        s.required = true;
                    }
                }
            }
            if a.sub_attributes.is_empty() {
                if k.read_only {
                    a.mutability = Mutability::ReadOnly;
                }
                continue;
            }
            let mut all_ro = true;
            for sub in &mut a.sub_attributes {
                let lc = sub.name.to_ascii_lowercase();
                if k.subs.get(&lc).copied().unwrap_or(false) {
                    sub.mutability = Mutability::ReadOnly;
                } else {
                    all_ro = false;
                }
                if let Some(c) = k.canonical.get(&lc) {
                    sub.canonical_values = c.clone();
                }
            }
            if all_ro {
                a.mutability = Mutability::ReadOnly;
            }
        }
        s
    };
    ResourceSchema {
        resource_type: full.resource_type.clone(),
        core: Arc::new(narrow(&full.core, "")),
        extensions: full
            .extensions
            .iter()
            .map(|e| Extension {
                schema: Arc::new(narrow(&e.schema, &e.schema.id.to_ascii_lowercase())),
                required: e.required,
            })
            .filter(|e| !e.schema.attributes.is_empty())
            .collect(),
    }
}
