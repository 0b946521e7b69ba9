//! `[*.list]` collections (items, totals, paging) and `[[*.filters]]` push-down rules.

use super::*;

impl Compiler<'_> {
    pub(super) fn list(
        &mut self,
        kind: ResourceKind,
        key: &str,
        name: &str,
        raw: raw::List,
        vars: &[Var],
        member_list: bool,
    ) -> Option<ListSpec> {
        let before = self.errors.len();
        let path = match raw.path.as_deref() {
            Some(p) => self.path_template(&format!("{key}.path"), p, vars),
            None => {
                self.err(
                    format!("{key}.path"),
                    None,
                    "missing; the collection path, e.g. \"/api/v1/users\"",
                );
                None
            }
        };
        let query = self.query(&format!("{key}.query"), &raw.query, vars);
        let items = self.json_path(&format!("{key}.items"), raw.items.as_deref().unwrap_or("$"));
        let total = match (&raw.total, &raw.total_header) {
            (Some(p), None) => self.json_path(&format!("{key}.total"), p).map(Total::Body),
            (None, Some(h)) => match HeaderName::from_bytes(h.as_bytes()) {
                Ok(n) => Some(Total::Header(n)),
                Err(_) => {
                    self.err(
                        format!("{key}.total_header"),
                        q(h),
                        "not a valid header name",
                    );
                    None
                }
            },
            (None, None) => Some(Total::Absent),
            (Some(_), Some(_)) => {
                self.err(
                    key,
                    None,
                    "set `total` (a JSONPath) or `total_header`, not both",
                );
                None
            }
        };
        let page_size = raw.page_size.unwrap_or(100);
        if page_size == 0 || page_size > 10_000 {
            self.err(
                format!("{key}.page_size"),
                Some(page_size.to_string()),
                "must be between 1 and 10000",
            );
        }
        let scan_limit = raw.scan_limit.unwrap_or(10_000);
        if scan_limit == 0 {
            self.err(
                format!("{key}.scan_limit"),
                Some("0".to_owned()),
                "must be at least 1",
            );
        }
        let next = |c: &mut Self| -> Option<JsonPath> {
            match &raw.next {
                Some(p) => c.json_path(&format!("{key}.next"), p),
                None => {
                    c.err(format!("{key}.next"), None, "missing; a JSONPath to the next cursor or URL in the response, e.g. \"$.meta.next\"");
                    None
                }
            }
        };
        let paging = match raw.paging.as_deref() {
            Some("page") => Some(Paging::Page {
                page_param: raw.page_param.clone().unwrap_or_else(|| "page".to_owned()),
                size_param: raw
                    .size_param
                    .clone()
                    .unwrap_or_else(|| "per_page".to_owned()),
                first: raw.first_page.unwrap_or(1),
            }),
            Some("offset") => Some(Paging::Offset {
                offset_param: raw
                    .offset_param
                    .clone()
                    .unwrap_or_else(|| "offset".to_owned()),
                limit_param: raw
                    .limit_param
                    .clone()
                    .unwrap_or_else(|| "limit".to_owned()),
            }),
            Some("cursor") => next(self).map(|next| Paging::Cursor {
                cursor_param: raw
                    .cursor_param
                    .clone()
                    .unwrap_or_else(|| "cursor".to_owned()),
                size_param: raw.size_param.clone(),
                next,
            }),
            Some("next_url") => next(self).map(|next| Paging::NextUrl { next }),
            Some("link") => Some(Paging::LinkHeader),
            Some("none") => Some(Paging::None),
            other => {
                self.err(
                    format!("{key}.paging"),
                    other.and_then(q),
                    "expected \"page\", \"offset\", \"cursor\", \"next_url\", \"link\" or \"none\"",
                );
                None
            }
        };
        let value = match (&raw.value, member_list) {
            (Some(v), true) => self.json_path(&format!("{key}.value"), v),
            (None, true) => {
                self.err(format!("{key}.value"), None, "missing; a JSONPath to the member's platform id in an item, e.g. \"$.user_id\"");
                None
            }
            (Some(v), false) => {
                self.err(
                    format!("{key}.value"),
                    q(v),
                    "only member lists take `value`",
                );
                None
            }
            (None, false) => None,
        };
        let count = match (raw.count, member_list) {
            (None, _) => None,
            (Some(_), true) => {
                self.err(
                    format!("{key}.count"),
                    None,
                    "member lists are read to the end; only [users.list] and [groups.list] take `count`",
                );
                None
            }
            (Some(c), false) => self.count(kind, &format!("{key}.count"), c, vars),
        };
        if count.is_some() && !matches!(total, Some(Total::Absent)) {
            self.err(
                format!("{key}.count"),
                None,
                "the list already says where its total is (`total` or `total_header`); set one of them or `count`, not both",
            );
        }
        if self.errors.len() > before {
            return None;
        }
        Some(ListSpec {
            label: label(kind, name),
            path: path?,
            query,
            items: items?,
            total: total?,
            paging: paging?,
            page_size,
            scan_limit,
            item_id: value.clone(),
            value,
            count,
        })
    }

    /// `[*.list.count]`: the separate count call.
    fn count(
        &mut self,
        kind: ResourceKind,
        key: &str,
        raw: raw::Count,
        vars: &[Var],
    ) -> Option<CountSpec> {
        let before = self.errors.len();
        let path = match raw.path.as_deref() {
            Some(p) => self.path_template(&format!("{key}.path"), p, vars),
            None => {
                self.err(
                    format!("{key}.path"),
                    None,
                    "missing; the path of the call answering the count, e.g. \"/admin/realms/acme/users/count\"",
                );
                None
            }
        };
        let query = self.query(&format!("{key}.query"), &raw.query, vars);
        let value = self.json_path(&format!("{key}.value"), raw.value.as_deref().unwrap_or("$"));
        if self.errors.len() > before {
            return None;
        }
        Some(CountSpec {
            label: label(kind, "count"),
            path: path?,
            query,
            value: value?,
            filters: raw.filters.unwrap_or(false),
        })
    }

    pub(super) fn push_rule(
        &mut self,
        key: &str,
        f: &raw::FilterRule,
        schema: &ResourceSchema,
        attrs: &[AttrMap],
    ) -> Option<PushRule> {
        let Some(attribute) = f.attribute.as_deref() else {
            self.err(
                format!("{key}.attribute"),
                None,
                "missing; the SCIM attribute compared, e.g. \"userName\"",
            );
            return None;
        };
        let Some(param) = f.param.clone() else {
            self.err(
                format!("{key}.param"),
                None,
                "missing; the platform's query parameter, e.g. \"email\"",
            );
            return None;
        };
        let op = match f.op.as_deref() {
            None => CompareOp::Eq,
            Some(o) => match CompareOp::parse(o) {
                Some(op) => op,
                None => {
                    self.err(
                        format!("{key}.op"),
                        q(o),
                        "expected eq, ne, co, sw, ew, gt, ge, lt or le",
                    );
                    return None;
                }
            },
        };
        let k = match pushdown::key_of_path(attribute, schema) {
            Ok(k) => k,
            Err(r) => {
                self.err(format!("{key}.attribute"), q(attribute), r);
                return None;
            }
        };
        let Some(attr_index) = attrs
            .iter()
            .position(|m| !m.copy && pushdown::key_of_attr(m) == k)
        else {
            self.err(format!("{key}.attribute"), q(attribute), "this attribute is not mapped in [[attributes]]; a pushed-down filter needs the attribute's mapping to transform the value");
            return None;
        };
        // The attribute written to several fields: the one the parameter searches says which
        // mapping's transforms (lowercase...) the value takes.
        let attr_index = match &f.field {
            None => attr_index,
            Some(field) => match attrs.iter().position(|m| {
                pushdown::key_of_attr(m) == k
                    && m.write.as_ref().is_some_and(|w| w.as_str() == field)
            }) {
                Some(i) => i,
                None => {
                    self.err(
                        format!("{key}.field"),
                        q(field),
                        format!("no [[attributes]] entry writes {attribute} to this field"),
                    );
                    return None;
                }
            },
        };
        let value = match &f.value {
            None => None,
            Some(t) => match value_template(t) {
                Ok(parts) => Some(parts),
                Err(r) => {
                    self.err(format!("{key}.value"), q(t), r);
                    return None;
                }
            },
        };
        let matching = match f.matching.as_deref() {
            None => None,
            Some("exact") => Some(Match::Exact),
            Some("case_insensitive") => Some(Match::CaseInsensitive),
            Some("prefix") => Some(Match::Prefix),
            Some("substring") => Some(Match::Substring),
            Some(other) => {
                self.err(
                    format!("{key}.match"),
                    q(other),
                    "expected \"exact\", \"case_insensitive\", \"prefix\" or \"substring\"",
                );
                return None;
            }
        };
        if let Some(m @ (Match::Prefix | Match::Substring)) = matching
            && !matches!(
                op,
                CompareOp::Eq | CompareOp::Sw | CompareOp::Co | CompareOp::Ew
            )
        {
            self.err(
                format!("{key}.match"),
                q(m.as_str()),
                format!(
                    "a prefix or substring match can only stand for eq, sw, co or ew, not {}",
                    op.as_str()
                ),
            );
            return None;
        }
        let attr = &attrs[attr_index];
        let case_insensitive = schema_case_insensitive(schema, attribute);
        let fidelity = match matching {
            None => Fidelity::Looser,
            Some(m) => pushdown::fidelity(op, m, case_insensitive, attr.lowercase),
        };
        if f.allow_stricter.is_some() && fidelity != Fidelity::Stricter {
            self.err(
                format!("{key}.allow_stricter"),
                f.allow_stricter.map(|b| b.to_string()),
                "only for a rule whose platform matches more strictly than SCIM; this one does not",
            );
        }
        Some(PushRule {
            key: k,
            attribute: attribute.to_owned(),
            op,
            param,
            value,
            query: f
                .query
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            matching,
            fidelity,
            allow_stricter: f.allow_stricter.unwrap_or(false),
            attr_index,
        })
    }
}

/// Whether SCIM compares the attribute a rule names without regard to case (a string-like
/// attribute that is not `caseExact`).
fn schema_case_insensitive(schema: &ResourceSchema, attribute: &str) -> bool {
    let Ok(p) = PatchPath::parse(attribute) else {
        return true;
    };
    let Some(t) = resolve(schema, &p.attr) else {
        return true;
    };
    let leaf = p
        .sub
        .as_deref()
        .and_then(|s| t.attribute.sub(s))
        .or(t.sub)
        .unwrap_or(t.attribute);
    matches!(
        leaf.ty,
        AttrType::String | AttrType::Reference | AttrType::Binary
    ) && !leaf.case_exact
}

/// Parses a filter rule's value template: literal text around `{value}`.
fn value_template(text: &str) -> Result<Vec<ValuePart>, String> {
    let mut parts = Vec::new();
    let mut rest = text;
    let mut seen = false;
    while let Some(i) = rest.find('{') {
        let Some(tail) = rest[i..].strip_prefix("{value}") else {
            return Err("the only placeholder is {value} (the filter's value, transformed like the attribute's)".to_owned());
        };
        if i > 0 {
            parts.push(ValuePart::Text(rest[..i].to_owned()));
        }
        parts.push(ValuePart::Value);
        seen = true;
        rest = tail;
    }
    if rest.contains('}') {
        return Err("unbalanced `}`; the only placeholder is {value}".to_owned());
    }
    if !rest.is_empty() {
        parts.push(ValuePart::Text(rest.to_owned()));
    }
    if !seen {
        return Err("the template must contain {value}, e.g. \"externalId:{value}\"".to_owned());
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_templates_hold_literal_text_around_value() {
        assert_eq!(
            value_template("externalId:{value}"),
            Ok(vec![
                ValuePart::Text("externalId:".to_owned()),
                ValuePart::Value
            ])
        );
        assert_eq!(
            value_template("{value}*"),
            Ok(vec![ValuePart::Value, ValuePart::Text("*".to_owned())])
        );
        assert!(value_template("externalId:").is_err(), "no {{value}}");
        assert!(
            value_template("{id}:{value}").is_err(),
            "unknown placeholder"
        );
        assert!(value_template("{value}}").is_err(), "unbalanced");
    }
}
