//! Pagination (RFC 7644 §3.4.2.4), the `ListResponse` message, and `POST /.search` bodies
//! (RFC 7644 §3.4.3).
//!
//! Decisions where the RFC is silent:
//! - Query values are integers in decimal: optional sign, ASCII digits, surrounding whitespace
//!   ignored. Anything else (`1.5`, `ten`, an empty value) is 400 `invalidValue`. Out-of-range
//!   values saturate and are then clamped like any other: `startIndex` < 1 reads as 1 (RFC),
//!   a negative `count` as 0 (RFC), a `count` above the server's maximum as that maximum.
//! - An absent `count` stays `None`: the caller applies its default page size.
//! - In a SearchRequest, `startIndex`/`count` are JSON integers (read as above); a string, even
//!   a numeric one, is 400 `invalidValue` (no client documents one; issue 13). Member names match case-insensitively; `null` members count as absent;
//!   unknown members are 400 `invalidSyntax`. `attributes`/`excludedAttributes` must be arrays
//!   of strings, and giving both non-empty is 400 `invalidSyntax` (RFC 7644 §3.9: "mutually
//!   exclusive"). Bad attribute names are 400 `invalidValue`, like in query parameters.
//!   `sortOrder` accepts `ascending`/`descending` in any case. The filter is kept as text: the
//!   caller parses it with the options it wants.

use crate::scim::error::ScimError;
use crate::scim::path::AttrPath;
use crate::scim::schema::{LIST_RESPONSE_URN, SEARCH_REQUEST_URN};
use crate::scim::value::{excerpt, kind};
use serde_json::{Value, json};
use std::ops::Range;

/// A requested page: 1-based start index and optional page size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// 1-based index of the first result (≥ 1).
    pub start_index: usize,
    /// Maximum results on the page (≤ the server maximum); `None` = the caller's default.
    pub count: Option<usize>,
}

impl Default for Paging {
    fn default() -> Self {
        Paging {
            start_index: 1,
            count: None,
        }
    }
}

impl Paging {
    /// The 0-based index range of the page among `total` results (`count: None` = all the rest).
    pub fn range(&self, total: usize) -> Range<usize> {
        let start = self.start_index.saturating_sub(1).min(total);
        let end = self
            .count
            .map_or(total, |c| start.saturating_add(c).min(total));
        start..end
    }
}

/// Parses `startIndex` and `count` query values; `max_count` caps `count`.
pub fn parse_paging(
    start_index: Option<&str>,
    count: Option<&str>,
    max_count: usize,
) -> Result<Paging, ScimError> {
    let start_index = match start_index {
        None => 1,
        Some(s) => clamp_start(parse_int("startIndex", s)?),
    };
    let count = match count {
        None => None,
        Some(s) => Some(clamp_count(parse_int("count", s)?, max_count)),
    };
    Ok(Paging { start_index, count })
}

fn clamp_start(v: i128) -> usize {
    if v < 1 {
        1
    } else {
        usize::try_from(v).unwrap_or(usize::MAX)
    }
}

fn clamp_count(v: i128, max: usize) -> usize {
    if v < 0 {
        0
    } else {
        usize::try_from(v).unwrap_or(usize::MAX).min(max)
    }
}

/// A decimal integer (optional sign, ASCII digits), saturating far outside `i128`.
fn parse_int(name: &str, s: &str) -> Result<i128, ScimError> {
    let t = s.trim_matches(|c: char| c.is_ascii_whitespace());
    let (negative, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ScimError::invalid_value(format!(
            "{name} must be an integer, found {:?}",
            excerpt(s, 40)
        )));
    }
    let magnitude = digits.bytes().fold(0i128, |acc, b| {
        acc.saturating_mul(10).saturating_add(i128::from(b - b'0'))
    });
    Ok(if negative { -magnitude } else { magnitude })
}

/// A `ListResponse` (RFC 7644 §3.4.2): `itemsPerPage` is the number of `resources` given.
pub fn list_response(total: usize, start_index: usize, resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE_URN],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

/// `sortOrder` (RFC 7644 §3.4.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    /// `ascending` (the default when `sortBy` is given).
    Ascending,
    /// `descending`.
    Descending,
}

/// A parsed `POST /.search` body (RFC 7644 §3.4.3).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchRequest {
    /// The filter text, unparsed.
    pub filter: Option<String>,
    /// `attributes`.
    pub attributes: Vec<AttrPath>,
    /// `excludedAttributes`.
    pub excluded_attributes: Vec<AttrPath>,
    /// `startIndex`, already clamped to ≥ 1.
    pub start_index: Option<usize>,
    /// `count`, already clamped to ≥ 0 (not yet to the server maximum).
    pub count: Option<usize>,
    /// `sortBy`.
    pub sort_by: Option<AttrPath>,
    /// `sortOrder`.
    pub sort_order: Option<SortOrder>,
}

impl SearchRequest {
    /// The page requested, with `count` capped at `max_count`.
    pub fn paging(&self, max_count: usize) -> Paging {
        Paging {
            start_index: self.start_index.unwrap_or(1),
            count: self.count.map(|c| c.min(max_count)),
        }
    }
}

/// Parses a SearchRequest body.
pub fn parse_search_request(body: &Value) -> Result<SearchRequest, ScimError> {
    let Value::Object(obj) = body else {
        return Err(ScimError::invalid_syntax(format!(
            "a SearchRequest must be a JSON object, found {}",
            kind(body)
        )));
    };
    const MEMBERS: [&str; 8] = [
        "schemas",
        "filter",
        "attributes",
        "excludedAttributes",
        "startIndex",
        "count",
        "sortBy",
        "sortOrder",
    ];
    let mut found: [Option<&Value>; 8] = [None; 8];
    for (k, v) in obj {
        let Some(i) = MEMBERS.iter().position(|m| m.eq_ignore_ascii_case(k)) else {
            return Err(ScimError::invalid_syntax(format!(
                "unknown member {k:?} in the SearchRequest (members: {})",
                MEMBERS.join(", ")
            )));
        };
        if found.get_mut(i).and_then(|slot| slot.replace(v)).is_some() {
            return Err(ScimError::invalid_syntax(format!(
                "member {k:?} appears more than once (names are case-insensitive)"
            )));
        }
    }
    let [
        schemas,
        filter,
        attributes,
        excluded,
        start_index,
        count,
        sort_by,
        sort_order,
    ] = found.map(|v| v.filter(|v| !v.is_null()));
    let has_urn = schemas.and_then(Value::as_array).is_some_and(|a| {
        a.iter().any(|u| {
            u.as_str()
                .is_some_and(|u| u.eq_ignore_ascii_case(SEARCH_REQUEST_URN))
        })
    });
    if !has_urn {
        return Err(ScimError::invalid_syntax(format!(
            "\"schemas\" must be an array containing \"{SEARCH_REQUEST_URN}\", found {}",
            schemas.map_or("nothing".to_owned(), |v| excerpt(&v.to_string(), 80))
        )));
    }
    let filter = match filter {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            return Err(ScimError::invalid_syntax(format!(
                "\"filter\" must be a string, found {}",
                kind(other)
            )));
        }
    };
    let attributes = attribute_array("attributes", attributes)?;
    let excluded_attributes = attribute_array("excludedAttributes", excluded)?;
    if !attributes.is_empty() && !excluded_attributes.is_empty() {
        return Err(ScimError::invalid_syntax(
            "\"attributes\" and \"excludedAttributes\" are mutually exclusive (RFC 7644 §3.9)",
        ));
    }
    let start_index = integer("startIndex", start_index)?.map(clamp_start);
    let count = integer("count", count)?.map(|c| clamp_count(c, usize::MAX));
    let sort_by = match sort_by {
        None => None,
        Some(Value::String(s)) => Some(
            AttrPath::parse(s)
                .map_err(|e| ScimError::invalid_value(format!("\"sortBy\": {}", e.detail)))?,
        ),
        Some(other) => {
            return Err(ScimError::invalid_syntax(format!(
                "\"sortBy\" must be a string, found {}",
                kind(other)
            )));
        }
    };
    let sort_order = match sort_order {
        None => None,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("ascending") => Some(SortOrder::Ascending),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("descending") => {
            Some(SortOrder::Descending)
        }
        Some(other) => {
            return Err(ScimError::invalid_value(format!(
                "\"sortOrder\" must be \"ascending\" or \"descending\", found {}",
                excerpt(&other.to_string(), 40)
            )));
        }
    };
    Ok(SearchRequest {
        filter,
        attributes,
        excluded_attributes,
        start_index,
        count,
        sort_by,
        sort_order,
    })
}

fn attribute_array(name: &str, v: Option<&Value>) -> Result<Vec<AttrPath>, ScimError> {
    let Some(v) = v else {
        return Ok(Vec::new());
    };
    let Value::Array(items) = v else {
        return Err(ScimError::invalid_syntax(format!(
            "\"{name}\" must be an array of attribute names, found {}",
            kind(v)
        )));
    };
    items
        .iter()
        .map(|item| match item {
            Value::String(s) => AttrPath::parse(s.trim())
                .map_err(|e| ScimError::invalid_value(format!("\"{name}\": {}", e.detail))),
            other => Err(ScimError::invalid_syntax(format!(
                "\"{name}\" must be an array of strings, found {} in it",
                kind(other)
            ))),
        })
        .collect()
}

fn integer(name: &str, v: Option<&Value>) -> Result<Option<i128>, ScimError> {
    match v {
        None => Ok(None),
        Some(Value::Number(n)) => {
            let i = n
                .as_i64()
                .map(i128::from)
                .or_else(|| n.as_u64().map(i128::from));
            i.map(Some).ok_or_else(|| {
                ScimError::invalid_value(format!("\"{name}\" must be an integer, found {n}"))
            })
        }
        Some(Value::String(s)) => Err(ScimError::invalid_value(format!(
            "\"{name}\" must be a JSON integer (RFC 7644 §3.4.3), found the string {:?}",
            excerpt(s, 40)
        ))),
        Some(other) => Err(ScimError::invalid_value(format!(
            "\"{name}\" must be an integer, found {}",
            kind(other)
        ))),
    }
}

#[cfg(test)]
mod tests;
