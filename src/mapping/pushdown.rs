//! Filter push-down: which parts of a SCIM filter the platform can evaluate through its query
//! parameters, and which resource an `id eq` names. The platform may match loosely (prefixes,
//! case); results are always checked again against the whole filter by the sidecar.

use serde_json::Value;

use crate::mapping::convert;
use crate::mapping::model::{AttrMap, Fidelity, Match, PushRule, ResourceMap, ValuePart};
use crate::scim::filter::PatchPath;
use crate::scim::filter::{CompareOp, Filter, Literal, Test};
use crate::scim::path::{Location, resolve};
use crate::scim::schema::ResourceSchema;

/// What the platform is asked, for one SCIM filter.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// `id eq "x"`: read this resource by id instead of listing.
    pub by_id: Option<String>,
    /// Query parameters to add to the list call.
    pub params: Vec<(String, String)>,
    /// The filter's conjunctions contradict each other or name a value the platform cannot hold:
    /// nothing can match, no call is needed.
    pub impossible: bool,
    /// The parameters express the whole filter exactly (every comparison pushed down by a rule
    /// of [`Fidelity::Exact`]): what the platform lists, counts and pages is the answer. Results
    /// are still checked, so a platform that does not keep its declared matching loses items
    /// rather than returning wrong ones.
    pub exact: bool,
}

impl Plan {
    /// Whether the platform narrows the result at all.
    pub fn is_pushed(&self) -> bool {
        self.by_id.is_some() || !self.params.is_empty() || self.impossible
    }
}

fn key(ext: Option<&str>, attr: &str, filter: Option<&Filter>, sub: Option<&str>) -> String {
    let mut k = String::new();
    if let Some(e) = ext {
        k.push_str(e);
        k.push(':');
    }
    k.push_str(attr);
    if let Some(f) = filter {
        k.push('[');
        k.push_str(&f.to_string());
        k.push(']');
    }
    if let Some(s) = sub {
        k.push('.');
        k.push_str(s);
    }
    k.to_ascii_lowercase()
}

/// The canonical key of an attribute mapping.
pub fn key_of_attr(m: &AttrMap) -> String {
    key(
        m.extension.as_deref(),
        &m.attr,
        m.filter.as_ref(),
        m.sub.as_deref(),
    )
}

/// The canonical key of a path written in a `[[filters]]` rule.
pub fn key_of_path(text: &str, schema: &ResourceSchema) -> Result<String, String> {
    let p = PatchPath::parse(text).map_err(|e| e.detail)?;
    let t = resolve(schema, &p.attr)
        .ok_or_else(|| format!("not an attribute of the {} schemas", schema.resource_type))?;
    let ext = match t.location {
        Location::Core => None,
        Location::Extension(u) => Some(u),
    };
    let sub = p
        .sub
        .as_deref()
        .or(p.attr.sub.as_deref())
        .map(|s| t.attribute.sub(s).map(|a| a.name.as_str()).unwrap_or(s));
    Ok(key(ext, &t.attribute.name, p.filter.as_ref(), sub))
}

/// What pushing a SCIM comparison `op` down to a platform that matches with `matching` does to
/// the result. `case_insensitive`: SCIM compares the attribute without regard to case;
/// `lowercase`: the mapping stores it lowercase (and lowercases the filter value), so case
/// differences cannot occur on the platform.
pub fn fidelity(
    op: CompareOp,
    matching: Match,
    case_insensitive: bool,
    lowercase: bool,
) -> Fidelity {
    // Case differences still matter to SCIM once the platform's values are what they are.
    let ci_matters = case_insensitive && !lowercase;
    // The platform ignores case: as SCIM does when it is case-insensitive, else looser.
    let ignoring_case = if case_insensitive {
        Fidelity::Exact
    } else {
        Fidelity::Looser
    };
    match (op, matching) {
        (CompareOp::Eq, Match::Exact) => {
            if ci_matters {
                Fidelity::Stricter
            } else {
                Fidelity::Exact
            }
        }
        (CompareOp::Eq, Match::CaseInsensitive) => ignoring_case,
        (CompareOp::Eq, Match::Prefix | Match::Substring) => Fidelity::Looser,
        (CompareOp::Sw, Match::Prefix) => ignoring_case,
        (CompareOp::Co, Match::Substring) => ignoring_case,
        (CompareOp::Sw | CompareOp::Ew, Match::Substring) => Fidelity::Looser,
        // An equality standing for sw, co or ew misses most matches.
        (CompareOp::Sw | CompareOp::Co | CompareOp::Ew, _) => Fidelity::Stricter,
        // A case-sensitive `ne` keeps every value that differs ignoring case, and more.
        (CompareOp::Ne, Match::Exact) => {
            if ci_matters {
                Fidelity::Looser
            } else {
                Fidelity::Exact
            }
        }
        (CompareOp::Ne, Match::CaseInsensitive) => {
            if case_insensitive {
                Fidelity::Exact
            } else {
                Fidelity::Stricter
            }
        }
        (_, Match::Exact) => {
            if ci_matters {
                Fidelity::Stricter
            } else {
                Fidelity::Exact
            }
        }
        (_, Match::CaseInsensitive) => {
            if case_insensitive {
                Fidelity::Exact
            } else {
                Fidelity::Stricter
            }
        }
        (_, Match::Prefix | Match::Substring) => Fidelity::Stricter,
    }
}

/// The query value a rule sends for a transformed SCIM value.
fn render(rule: &PushRule, text: String) -> String {
    match &rule.value {
        None => text,
        Some(parts) => parts
            .iter()
            .map(|p| match p {
                ValuePart::Text(t) => t.as_str(),
                ValuePart::Value => text.as_str(),
            })
            .collect(),
    }
}

/// Plans a filter against a resource mapping. The filter has passed `filter::check`.
pub fn plan(filter: &Filter, map: &ResourceMap) -> Plan {
    let mut plan = Plan::default();
    let mut conjuncts = Vec::new();
    collect_and(filter, &mut conjuncts);
    // Every conjunct is a comparison pushed down exactly (id eq counts: it is a read by id).
    let mut exact = !conjuncts.is_empty();
    // The (key, op, value) of each pushed comparison, to tell a contradiction from a
    // parameter two rules share.
    let mut pushed: Vec<(String, CompareOp, String)> = Vec::new();
    for c in conjuncts {
        let (k, op, lit) = match c {
            Filter::Compare {
                path, op, value, ..
            } => {
                let Some(t) = resolve(&map.schema, path) else {
                    exact = false;
                    continue;
                };
                if t.attribute.name == "id" && path.urn.is_none() && t.sub.is_none() {
                    if *op == CompareOp::Eq
                        && let Literal::String(s) = value
                    {
                        match &plan.by_id {
                            Some(prev) if prev != s => plan.impossible = true,
                            _ => plan.by_id = Some(s.clone()),
                        }
                    }
                    continue;
                }
                let ext = match t.location {
                    Location::Core => None,
                    Location::Extension(u) => Some(u),
                };
                (
                    key(ext, &t.attribute.name, None, t.sub.map(|s| s.name.as_str())),
                    *op,
                    value,
                )
            }
            Filter::ValuePath {
                path,
                filter,
                then: Some(then),
                ..
            } => {
                let Test::Compare { op, value } = &then.test else {
                    exact = false;
                    continue;
                };
                let Some(t) = resolve(&map.schema, path) else {
                    exact = false;
                    continue;
                };
                let ext = match t.location {
                    Location::Core => None,
                    Location::Extension(u) => Some(u),
                };
                let sub = t
                    .attribute
                    .sub(&then.sub)
                    .map(|a| a.name.as_str())
                    .unwrap_or(&then.sub);
                (
                    key(ext, &t.attribute.name, Some(filter), Some(sub)),
                    *op,
                    value,
                )
            }
            _ => {
                exact = false;
                continue;
            }
        };
        let Some(rule) = map.pushdown.iter().find(|r| {
            r.key == k && r.op == op && (r.fidelity != Fidelity::Stricter || r.allow_stricter)
        }) else {
            exact = false;
            continue;
        };
        let scim_value = match lit {
            Literal::String(s) => Value::String(s.clone()),
            Literal::Number(n) => Value::Number(n.clone()),
            Literal::Bool(b) => Value::Bool(*b),
            Literal::Null => {
                exact = false;
                continue;
            }
        };
        let Some(attr) = map.attributes.get(rule.attr_index) else {
            exact = false;
            continue;
        };
        let text = match convert::to_platform_value(attr, &scim_value) {
            Ok(Value::String(s)) => s,
            Ok(Value::Null) => {
                exact = false;
                continue;
            }
            Ok(other) => other.to_string(),
            Err(_) => {
                // No platform value corresponds (e.g. outside a value map): nothing can match,
                // unless the comparison is a negation or an ordering.
                if op == CompareOp::Eq {
                    plan.impossible = true;
                }
                exact = false;
                continue;
            }
        };
        if op == CompareOp::Eq
            && pushed
                .iter()
                .any(|(pk, pop, pv)| *pk == k && *pop == CompareOp::Eq && *pv != text)
        {
            // `a eq "x" and a eq "y"`, once transformed.
            plan.impossible = true;
            continue;
        }
        let value = render(rule, text.clone());
        let mut wanted = vec![(rule.param.clone(), value)];
        wanted.extend(rule.query.iter().cloned());
        // A parameter already sent with another value: this comparison is left to the re-check.
        let clash = wanted
            .iter()
            .any(|(p, v)| plan.params.iter().any(|(q, w)| q == p && w != v));
        if clash {
            exact = false;
            continue;
        }
        for pair in wanted {
            if !plan.params.contains(&pair) {
                plan.params.push(pair);
            }
        }
        pushed.push((k, op, text));
        if rule.fidelity != Fidelity::Exact {
            exact = false;
        }
    }
    plan.exact = exact && !plan.impossible && plan.by_id.is_none() && !plan.params.is_empty();
    plan
}

fn collect_and<'f>(f: &'f Filter, out: &mut Vec<&'f Filter>) {
    match f {
        Filter::And(a, b) => {
            collect_and(a, out);
            collect_and(b, out);
        }
        other => out.push(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::compile;
    use crate::mapping::model::Mapping;
    use CompareOp::*;
    use Fidelity::{Exact, Looser, Stricter};

    /// The Keycloak worked mapping (tests/fixtures/mappings/keycloak.toml).
    fn keycloak() -> Mapping {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let path = std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/mappings/keycloak.toml"
        ));
        compile::load(path, &|_| Some("t".to_owned()), None)
            .unwrap_or_else(|e| panic!("the Keycloak mapping must compile: {e:?}"))
    }

    fn plan_of(m: &Mapping, text: &str) -> Plan {
        let users = m.users.as_ref().expect("users");
        let f = crate::scim::filter::parse(text).expect("filter");
        plan(&f, users)
    }

    fn pairs(p: &Plan) -> Vec<(&str, &str)> {
        p.params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn exact_rules_combine_with_their_fixed_parameters_and_templates() {
        let m = keycloak();
        let p = plan_of(&m, r#"userName eq "Ada" and externalId eq "x 1""#);
        assert_eq!(
            pairs(&p),
            [
                ("username", "ada"),
                ("exact", "true"),
                ("q", "externalId:x 1")
            ]
        );
        assert!(p.exact, "both rules return exactly SCIM's matches");
    }

    #[test]
    fn a_looser_rule_is_pushed_but_the_plan_is_not_exact() {
        let m = keycloak();
        let p = plan_of(&m, r#"userName sw "Ann""#);
        assert_eq!(pairs(&p), [("search", "ann")]);
        assert!(!p.exact);
        let p = plan_of(&m, r#"userName co "Ann""#);
        assert!(p.exact, "a case-insensitive substring search is exactly co");
    }

    #[test]
    fn two_rules_sharing_a_parameter_leave_the_second_to_the_recheck() {
        let m = keycloak();
        let p = plan_of(&m, r#"userName co "a" and userName sw "b""#);
        assert_eq!(pairs(&p), [("search", "a")]);
        assert!(!p.impossible, "different comparisons, not a contradiction");
        assert!(!p.exact);
    }

    #[test]
    fn contradicting_equalities_are_impossible_after_transforms() {
        let m = keycloak();
        assert!(plan_of(&m, r#"userName eq "a" and userName eq "B""#).impossible);
        assert!(!plan_of(&m, r#"userName eq "a" and userName eq "A""#).impossible);
    }

    #[test]
    fn a_stricter_rule_is_not_used() {
        let m = keycloak();
        let p = plan_of(&m, r#"name.familyName eq "Lovelace""#);
        assert!(p.params.is_empty() && !p.exact && !p.impossible, "{p:?}");
        let p = plan_of(&m, r#"userName eq "a" or userName eq "b""#);
        assert!(
            p.params.is_empty() && !p.exact,
            "a disjunction is not pushed down"
        );
    }

    /// (op, platform match, SCIM case-insensitive, mapping lowercases) → fidelity.
    #[test]
    fn fidelity_says_when_a_platform_match_is_safe_for_each_operator() {
        let m = |s| match s {
            "exact" => Match::Exact,
            "ci" => Match::CaseInsensitive,
            "prefix" => Match::Prefix,
            _ => Match::Substring,
        };
        for (op, platform, ci, lower, want) in [
            // userName eq on an exact, case-sensitive platform: only with lowercase.
            (Eq, "exact", true, true, Exact),
            (Eq, "exact", true, false, Stricter),
            (Eq, "exact", false, false, Exact),
            (Eq, "ci", true, false, Exact),
            (Eq, "ci", false, false, Looser),
            (Eq, "prefix", true, false, Looser),
            (Eq, "substring", true, true, Looser),
            (Sw, "prefix", true, false, Exact),
            (Sw, "substring", true, false, Looser),
            (Sw, "exact", true, true, Stricter),
            (Sw, "ci", true, false, Stricter),
            (Co, "substring", true, false, Exact),
            (Co, "substring", false, false, Looser),
            (Co, "prefix", true, false, Stricter),
            (Ew, "substring", true, false, Looser),
            (Ew, "exact", true, false, Stricter),
            (Ne, "exact", true, false, Looser),
            (Ne, "exact", true, true, Exact),
            (Ne, "ci", true, false, Exact),
            (Ne, "ci", false, false, Stricter),
            (Gt, "exact", false, false, Exact),
            (Gt, "exact", true, false, Stricter),
            (Ge, "exact", true, true, Exact),
            (Lt, "ci", true, false, Exact),
            (Le, "ci", false, false, Stricter),
        ] {
            assert_eq!(
                fidelity(op, m(platform), ci, lower),
                want,
                "{} with a {platform} platform, case-insensitive {ci}, lowercase {lower}",
                op.as_str()
            );
        }
    }
}
