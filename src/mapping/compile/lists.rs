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
            value,
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
        let Some(attr_index) = attrs.iter().position(|m| pushdown::key_of_attr(m) == k) else {
            self.err(format!("{key}.attribute"), q(attribute), "this attribute is not mapped in [[attributes]]; a pushed-down filter needs the attribute's mapping to transform the value");
            return None;
        };
        Some(PushRule {
            key: k,
            attribute: attribute.to_owned(),
            op,
            param,
            attr_index,
        })
    }
}
