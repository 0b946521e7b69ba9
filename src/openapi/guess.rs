//! The guesses: which paths are the user and group collections, their operations, the id field,
//! the list's envelope and paging, which fields hold the SCIM attributes, and the membership
//! calls. Each guess carries the reason it was made, printed as a `# CHECK:` comment.

use serde_json::Value;

use super::fields::{Field, fields};
use super::names::{Kind, USERNAME, norm};
use super::spec::Spec;

/// One platform call guessed.
pub(super) struct Call {
    pub(super) method: &'static str,
    /// The path as a mapping template ({id}, {member}; other parameters as CHANGE_ME_<name>).
    pub(super) path: String,
    /// JSONPath to the object in the answer, when it is wrapped.
    pub(super) response: Option<String>,
    pub(super) why: String,
}

/// The list call and its paging.
pub(super) struct List {
    pub(super) path: String,
    pub(super) items: String,
    pub(super) total: Option<String>,
    pub(super) total_header: Option<String>,
    /// (TOML key, value) pairs of the paging scheme, `paging` first.
    pub(super) paging: Vec<(&'static str, String)>,
    pub(super) paging_why: String,
    /// The list's query parameter names, for filter rules.
    pub(super) params: Vec<String>,
    pub(super) why: String,
}

/// The membership calls of a group collection.
pub(super) struct Members {
    pub(super) list: Option<List>,
    pub(super) value: String,
    pub(super) add: Option<(Call, Option<String>)>,
    pub(super) remove: Option<Call>,
    pub(super) why: String,
}

/// Everything guessed about one collection.
pub(super) struct Collection {
    pub(super) kind: Kind,
    pub(super) spec_path: String,
    pub(super) why: String,
    pub(super) others: Vec<String>,
    pub(super) id: String,
    pub(super) id_integer: bool,
    pub(super) id_why: String,
    pub(super) list: Option<List>,
    pub(super) create: Option<Call>,
    pub(super) read: Option<Call>,
    pub(super) replace: Option<Call>,
    pub(super) update: Option<Call>,
    pub(super) delete: Option<Call>,
    pub(super) fields: Vec<Field>,
    /// Fields the create body requires that no SCIM attribute is mapped to (a password, a role).
    pub(super) unmapped_required: Vec<String>,
    pub(super) members: Option<Members>,
}

fn is_param(segment: &str) -> bool {
    segment.starts_with('{') && segment.ends_with('}')
}

fn segments(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

/// The item path of a collection: `<collection>/{param}` in the document, else any path ending in
/// `<name>/{param}` (Gitea reads `/users/{username}` but creates on `/admin/users`), the one with
/// the method wanted first.
fn item_path(spec: &Spec, collection: &str, method: &str) -> Option<String> {
    let own: Vec<&str> = spec
        .paths()
        .into_iter()
        .filter(|p| {
            p.strip_prefix(collection)
                .and_then(|rest| rest.strip_prefix('/'))
                .is_some_and(|rest| is_param(rest) && !rest.contains('/'))
        })
        .collect();
    if let Some(p) = own.iter().find(|p| spec.methods(p).contains(&method)) {
        return Some((*p).to_owned());
    }
    let name = segments(collection).last().copied()?;
    spec.paths()
        .into_iter()
        .filter(|p| {
            let s = segments(p);
            s.len() >= 2
                && s[s.len() - 2] == name
                && is_param(s[s.len() - 1])
                && s.iter().filter(|x| is_param(x)).count() == 1
        })
        .filter(|p| spec.methods(p).contains(&method))
        .min_by_key(|p| p.len())
        .map(str::to_owned)
}

/// A document path as a mapping template: the last parameter is `last` ({id} or {member}), the
/// one before it `{id}` when `last` is {member}; others become `CHANGE_ME_<name>`.
fn template(path: &str, last: &str) -> (String, Vec<String>) {
    let segs = segments(path);
    let params: Vec<usize> = (0..segs.len()).filter(|&i| is_param(segs[i])).collect();
    let mut changed = Vec::new();
    let mut out = String::new();
    for (i, s) in segs.iter().enumerate() {
        out.push('/');
        if !is_param(s) {
            out.push_str(s);
        } else if params.last() == Some(&i) && !last.is_empty() {
            out.push_str(last);
        } else if last == "{member}" && params.len() >= 2 && params[params.len() - 2] == i {
            out.push_str("{id}");
        } else {
            let name = s.trim_matches(|c| c == '{' || c == '}');
            let literal = format!(
                "CHANGE_ME_{}",
                name.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
            );
            changed.push(format!("{s} → {literal}"));
            out.push_str(&literal);
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    (out, changed)
}

/// The best collection of `kind`, and the runners-up's paths.
pub(super) fn collection(spec: &Spec, kind: Kind) -> Option<Collection> {
    let mut scored: Vec<(i32, String, String)> = Vec::new();
    for path in spec.paths() {
        let segs = segments(path);
        let Some(last) = segs.last() else { continue };
        let Some(rank) = kind.names().iter().position(|n| norm(n) == norm(last)) else {
            continue;
        };
        let methods = spec.methods(path);
        let mut ops = Vec::new();
        if methods.contains(&"get") {
            ops.push("list");
        }
        if methods.contains(&"post") {
            ops.push("create");
        }
        for (m, op) in [
            ("get", "read"),
            ("put", "replace"),
            ("patch", "update"),
            ("delete", "delete"),
        ] {
            if item_path(spec, path, m).is_some() {
                ops.push(op);
            }
        }
        if ops.is_empty() {
            continue;
        }
        let params = segs.iter().filter(|s| is_param(s)).count();
        // `/user/teams`, `/me/groups`: the caller's own, not the directory's.
        let own = segs
            .iter()
            .any(|s| ["user", "me", "self", "current"].contains(&norm(s).as_str()));
        let score = 10 - 5 * i32::from(own) + 2 * i32::from(ops.contains(&"create"))
            - 3 * i32::try_from(rank).unwrap_or(9)
            + 3 * i32::try_from(ops.len()).unwrap_or(0)
            - 2 * i32::try_from(params).unwrap_or(9)
            - i32::try_from(segs.len()).unwrap_or(9);
        let why = format!(
            "named \"{last}\"; operations found: {}; score {score}",
            ops.join(", ")
        );
        scored.push((score, path.to_owned(), why));
    }
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.len().cmp(&b.1.len())));
    let mut iter = scored.into_iter();
    let (_, best, why) = iter.next()?;
    let others: Vec<String> = iter.take(4).map(|(_, p, _)| p).collect();
    Some(build(spec, kind, best, why, others))
}

fn build(spec: &Spec, kind: Kind, path: String, why: String, others: Vec<String>) -> Collection {
    let read_path = item_path(spec, &path, "get");
    // The object schema: the read answer's, else the list's items, else the create body's.
    let item_schema = read_path
        .as_deref()
        .and_then(|p| spec.response_schema(p, "get"))
        .map(|(s, _)| s);
    let (item, envelope) = match item_schema {
        Some(s) => unwrap_object(spec, s),
        None => (None, None),
    };
    let list = spec
        .methods(&path)
        .contains(&"get")
        .then(|| list(spec, &path, ""))
        .flatten();
    let item = item.or_else(|| {
        spec.response_schema(&path, "get")
            .and_then(|(s, _)| array_items(spec, s).map(|(_, items)| items))
    });
    let create_body = spec
        .methods(&path)
        .contains(&"post")
        .then(|| spec.request_schema(&path, "post"))
        .flatten();
    let read_props: Vec<&str> = item
        .map(|s| spec.properties(s))
        .unwrap_or_default()
        .into_iter()
        .map(|(n, _)| n)
        .collect();

    // The id: the item path's parameter names it.
    let id_param = read_path.as_deref().and_then(|p| {
        segments(p)
            .last()
            .map(|s| s.trim_matches(|c| c == '{' || c == '}').to_owned())
    });
    let (id, id_integer, id_why) = id_guess(spec, item, id_param.as_deref(), kind);

    let call = |method: &'static str, op: &str| -> Option<Call> {
        let p = item_path(spec, &path, method)?;
        let (t, changed) = template(&p, "{id}");
        let response = (method != "delete")
            .then(|| spec.response_schema(&p, method))
            .flatten()
            .and_then(|(s, _)| unwrap_object(spec, s).1);
        Some(Call {
            method: upper(method),
            path: t,
            response,
            why: with_changes(format!("{} {p} is the {op} call", upper(method)), &changed),
        })
    };
    let create = spec.methods(&path).contains(&"post").then(|| {
        let (t, changed) = template(&path, "");
        let response = spec
            .response_schema(&path, "post")
            .and_then(|(s, _)| unwrap_object(spec, s).1);
        Call {
            method: "POST",
            path: t,
            response,
            why: with_changes(format!("POST {path} creates"), &changed),
        }
    });
    let read = call("get", "read").map(|mut c| {
        c.response.clone_from(&envelope);
        c
    });
    let fields = fields(spec, kind, create_body, item, &read_props);
    let unmapped_required: Vec<String> = create_body
        .and_then(|s| s.get("required"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|r| !fields.iter().any(|f| f.field == *r))
        .map(str::to_owned)
        .collect();
    let members = if kind == Kind::Groups {
        read_path
            .as_deref()
            .and_then(|p| members(spec, p, &id_param))
    } else {
        None
    };
    Collection {
        kind,
        spec_path: path.clone(),
        why,
        others,
        id,
        id_integer,
        id_why,
        list,
        create,
        read,
        replace: call(
            "put",
            "replace (PUT: check that it takes the whole object; a PUT that changes only the fields sent fits `update` better)",
        ),
        update: call("patch", "update (PATCH, changed fields only)"),
        delete: call("delete", "delete"),
        fields,
        unmapped_required,
        members,
    }
}

fn upper(method: &str) -> &'static str {
    match method {
        "get" => "GET",
        "post" => "POST",
        "put" => "PUT",
        "patch" => "PATCH",
        _ => "DELETE",
    }
}

fn with_changes(why: String, changed: &[String]) -> String {
    if changed.is_empty() {
        why
    } else {
        format!(
            "{why}; other path parameters need a fixed value: {}",
            changed.join(", ")
        )
    }
}

/// An answer schema: the object itself when it has an `id`-like property (envelope none), else
/// the one object property wrapping it (`{"data": {...}}` → `$.data`).
fn unwrap_object<'a>(spec: &'a Spec, schema: &'a Value) -> (Option<&'a Value>, Option<String>) {
    let props = spec.properties(schema);
    if props.iter().any(|(n, _)| norm(n) == "id") || props.len() > 3 {
        return (Some(schema), None);
    }
    for (name, s) in &props {
        let inner = spec.properties(s);
        if !inner.is_empty() {
            return (Some(*s), Some(format!("$.{name}")));
        }
    }
    (Some(schema), None)
}

/// The items of a list answer: a bare array (`$`) or an object's array property (`$.data`).
fn array_items<'a>(spec: &'a Spec, schema: &'a Value) -> Option<(String, &'a Value)> {
    if let Some(items) = schema.get("items") {
        return Some(("$".to_owned(), spec.deref(items)));
    }
    spec.properties(schema).into_iter().find_map(|(name, s)| {
        s.get("items")
            .map(|items| (format!("$.{name}"), spec.deref(items)))
    })
}

fn list(spec: &Spec, path: &str, last: &str) -> Option<List> {
    let (t, changed) = template(path, last);
    let answer = spec.response_schema(path, "get");
    let (items, total) = match answer {
        Some((schema, _)) => {
            let items = array_items(spec, schema).map_or_else(|| "$".to_owned(), |(p, _)| p);
            let mut total = None;
            for (name, s) in spec.properties(schema) {
                if ["total", "totalcount", "count", "totalresults", "totalitems"]
                    .contains(&norm(name).as_str())
                {
                    total = Some(format!("$.{name}"));
                    break;
                }
                for (inner, _) in spec.properties(s) {
                    if ["total", "totalcount", "totalresults", "totalitems"]
                        .contains(&norm(inner).as_str())
                    {
                        total = Some(format!("$.{name}.{inner}"));
                    }
                }
            }
            (items, total)
        }
        None => ("$".to_owned(), None),
    };
    let total_header = answer.and_then(|(_, headers)| {
        headers
            .into_iter()
            .find(|h| h.eq_ignore_ascii_case("x-total-count") || h.eq_ignore_ascii_case("x-total"))
    });
    let params: Vec<String> = spec
        .parameters(path, "get")
        .into_iter()
        .filter(|p| p.location == "query")
        .map(|p| p.name)
        .collect();
    let (paging, paging_why) = paging(spec, path, &params);
    Some(List {
        path: t,
        items,
        total: if total_header.is_some() { None } else { total },
        total_header,
        paging,
        paging_why,
        params,
        why: with_changes(format!("GET {path} lists"), &changed),
    })
}

fn find<'a>(params: &'a [String], names: &[&str]) -> Option<&'a String> {
    names
        .iter()
        .find_map(|n| params.iter().find(|p| norm(p) == *n))
}

fn paging(spec: &Spec, path: &str, params: &[String]) -> (Vec<(&'static str, String)>, String) {
    const SIZE: [&str; 8] = [
        "perpage",
        "pagesize",
        "limit",
        "size",
        "max",
        "count",
        "maxresults",
        "top",
    ];
    let size = find(params, &SIZE);
    if let Some(page) = find(params, &["page", "pagenumber", "pageno", "pageindex"]) {
        let first = spec
            .parameters(path, "get")
            .into_iter()
            .find(|p| &p.name == page)
            .and_then(|p| p.schema.get("minimum").and_then(Value::as_u64))
            .filter(|m| *m == 0)
            .map_or(1, |_| 0);
        let mut out = vec![("paging", "page".to_owned()), ("page_param", page.clone())];
        if let Some(s) = size {
            out.push(("size_param", s.clone()));
        }
        out.push(("first_page", first.to_string()));
        let why = format!(
            "query parameters {page}{} look like page numbering, first page {first}",
            size.map(|s| format!(" and {s}")).unwrap_or_default()
        );
        return (out, why);
    }
    if let Some(offset) = find(
        params,
        &["offset", "skip", "start", "startindex", "first", "from"],
    ) {
        let mut out = vec![
            ("paging", "offset".to_owned()),
            ("offset_param", offset.clone()),
        ];
        if let Some(s) = size {
            out.push(("limit_param", s.clone()));
        }
        let why = format!(
            "query parameters {offset}{} look like offset paging",
            size.map(|s| format!(" and {s}")).unwrap_or_default()
        );
        return (out, why);
    }
    if let Some(cursor) = find(
        params,
        &[
            "cursor",
            "after",
            "pagetoken",
            "startingafter",
            "continuationtoken",
            "since",
        ],
    ) {
        let next = spec.response_schema(path, "get").and_then(|(schema, _)| {
            spec.properties(schema).into_iter().find_map(|(name, s)| {
                let n = norm(name);
                if n.contains("next") || n.contains("cursor") {
                    return Some(format!("$.{name}"));
                }
                spec.properties(s).into_iter().find_map(|(inner, _)| {
                    let m = norm(inner);
                    (m.contains("next") || m.contains("cursor"))
                        .then(|| format!("$.{name}.{inner}"))
                })
            })
        });
        if let Some(next) = next {
            let mut out = vec![
                ("paging", "cursor".to_owned()),
                ("cursor_param", cursor.clone()),
            ];
            if let Some(s) = size {
                out.push(("size_param", s.clone()));
            }
            out.push(("next", next.clone()));
            return (
                out,
                format!("query parameter {cursor} and the answer's {next} look like cursor paging"),
            );
        }
        return (
            vec![("paging", "none".to_owned())],
            format!(
                "query parameter {cursor} looks like a cursor, but no next-cursor field was found in \
                 the answer (the platform may send it in a Link header: paging = \"link\")"
            ),
        );
    }
    (
        vec![("paging", "none".to_owned())],
        "no paging parameters found (page/per_page, offset/limit, first/max, cursor): one answer \
         is taken to hold everything; a Link header would be paging = \"link\""
            .to_owned(),
    )
}

fn id_guess(
    spec: &Spec,
    item: Option<&Value>,
    param: Option<&str>,
    kind: Kind,
) -> (String, bool, String) {
    let props = item.map(|s| spec.properties(s)).unwrap_or_default();
    let type_of = |name: &str| {
        props
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, s)| s.get("type").and_then(Value::as_str))
            .unwrap_or("string")
            == "integer"
    };
    let param_norm = param.map(norm).unwrap_or_default();
    let by_id = param.is_none() || param_norm == "id" || param_norm.ends_with("id");
    if !by_id {
        // The item path names the object by another field: the parameter's name or a synonym.
        let synonyms: &[&str] = if kind == Kind::Users {
            USERNAME
        } else {
            &["name", "slug"]
        };
        let hit = props
            .iter()
            .find(|(n, _)| norm(n) == param_norm)
            .or_else(|| {
                props
                    .iter()
                    .find(|(n, _)| synonyms.contains(&norm(n).as_str()))
            });
        if let Some((name, _)) = hit {
            return (
                format!("$.{name}"),
                type_of(name),
                format!(
                    "the item path names the object by {{{}}}, which matches the field {name}",
                    param.unwrap_or_default()
                ),
            );
        }
    }
    let name = props
        .iter()
        .map(|(n, _)| *n)
        .find(|n| norm(n) == "id")
        .unwrap_or("id");
    (
        format!("$.{name}"),
        type_of(name),
        format!(
            "the item path's parameter is {{{}}} and the object has the field {name} ({})",
            param.unwrap_or("none"),
            if type_of(name) { "integer" } else { "string" }
        ),
    )
}

fn members(spec: &Spec, group_item: &str, id_param: &Option<String>) -> Option<Members> {
    let _ = id_param;
    let names = ["members", "users", "memberships", "member"];
    let list_path = spec.paths().into_iter().find(|p| {
        p.strip_prefix(group_item)
            .and_then(|r| r.strip_prefix('/'))
            .is_some_and(|r| names.contains(&r))
    })?;
    let member_path = spec.paths().into_iter().find(|p| {
        p.strip_prefix(list_path)
            .and_then(|r| r.strip_prefix('/'))
            .is_some_and(|r| is_param(r) && !r.contains('/'))
    });
    let methods = spec.methods(list_path);
    let list = methods
        .contains(&"get")
        .then(|| list(spec, list_path, "{id}"))
        .flatten();
    // Where the member's id sits in a list item.
    let item_props: Vec<String> = spec
        .response_schema(list_path, "get")
        .and_then(|(s, _)| array_items(spec, s))
        .map(|(_, items)| {
            spec.properties(items)
                .into_iter()
                .map(|(n, _)| n.to_owned())
                .collect()
        })
        .unwrap_or_default();
    let member_param = member_path.and_then(|p| {
        segments(p)
            .last()
            .map(|s| s.trim_matches(|c| c == '{' || c == '}').to_owned())
    });
    let value = member_param
        .as_deref()
        .and_then(|m| item_props.iter().find(|p| norm(p) == norm(m)))
        .or_else(|| {
            let wanted: &[&str] = if member_param
                .as_deref()
                .is_some_and(|m| !norm(m).ends_with("id"))
            {
                USERNAME
            } else {
                &["userid", "id", "memberid"]
            };
            wanted
                .iter()
                .find_map(|w| item_props.iter().find(|p| norm(p) == *w))
        })
        .map_or_else(|| "$.id".to_owned(), |p| format!("$.{p}"));
    let add = if let Some(mp) = member_path.filter(|mp| spec.methods(mp).contains(&"put")) {
        Some((
            Call {
                method: "PUT",
                path: template(mp, "{member}").0,
                response: None,
                why: format!("PUT {mp} adds a member"),
            },
            None,
        ))
    } else if methods.contains(&"post") {
        let body_field = spec
            .request_schema(list_path, "post")
            .map(|s| spec.properties(s))
            .unwrap_or_default()
            .into_iter()
            .map(|(n, _)| n.to_owned())
            .find(|n| ["userid", "id", "memberid", "username", "user"].contains(&norm(n).as_str()));
        body_field.map(|f| {
            (
                Call {
                    method: "POST",
                    path: template(list_path, "{id}").0,
                    response: None,
                    why: format!("POST {list_path} adds a member, named by the body field {f}"),
                },
                Some(f),
            )
        })
    } else {
        None
    };
    let remove = member_path
        .filter(|mp| spec.methods(mp).contains(&"delete"))
        .map(|mp| Call {
            method: "DELETE",
            path: template(mp, "{member}").0,
            response: None,
            why: format!("DELETE {mp} removes a member"),
        });
    Some(Members {
        list,
        value: value.clone(),
        add,
        remove,
        why: format!(
            "{list_path} looks like the group's members; a member is named by {value} of a list item, which must be the user's platform id"
        ),
    })
}
