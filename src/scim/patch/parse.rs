//! Parsing the strict RFC 7644 `PatchOp` body into [`PatchOp`]s (the normalize stage has already
//! turned client dialects into this form).

use super::op::{MAX_OPERATIONS, PatchOp, PatchOpKind};
use crate::scim::error::ScimError;
use crate::scim::filter::PatchPath;
use crate::scim::schema::PATCH_OP_URN;
use crate::scim::value::{excerpt, kind};
use serde_json::Value;

pub(super) fn at_op(i: usize, path: Option<&PatchPath>, e: ScimError) -> ScimError {
    let path = path.map_or(String::new(), |p| format!(" (path '{p}')"));
    ScimError {
        detail: format!("Operations[{i}]{path}: {}", e.detail),
        ..e
    }
}

pub(super) fn json_excerpt(v: &Value) -> String {
    excerpt(&v.to_string(), 80)
}

/// Parses a PATCH request body in the strict RFC 7644 §3.5.2 form.
pub fn parse_request(body: &Value) -> Result<Vec<PatchOp>, ScimError> {
    let Value::Object(obj) = body else {
        return Err(ScimError::invalid_syntax(format!(
            "a PATCH body must be a JSON object (RFC 7644 §3.5.2), found {}",
            kind(body)
        )));
    };
    let mut schemas = None;
    let mut operations = None;
    for (k, v) in obj {
        let slot = if k.eq_ignore_ascii_case("schemas") {
            &mut schemas
        } else if k.eq_ignore_ascii_case("Operations") {
            &mut operations
        } else {
            return Err(ScimError::invalid_syntax(format!(
                "unknown member {k:?} in the PATCH body: a PatchOp has only \"schemas\" and \"Operations\""
            )));
        };
        if slot.replace(v).is_some() {
            return Err(ScimError::invalid_syntax(format!(
                "member {k:?} appears more than once (names are case-insensitive)"
            )));
        }
    }
    let has_urn = schemas.and_then(Value::as_array).is_some_and(|a| {
        a.iter().any(|u| {
            u.as_str()
                .is_some_and(|u| u.eq_ignore_ascii_case(PATCH_OP_URN))
        })
    });
    if !has_urn {
        return Err(ScimError::invalid_syntax(format!(
            "\"schemas\" must be an array containing \"{PATCH_OP_URN}\", found {}",
            schemas.map_or("nothing".to_owned(), json_excerpt)
        )));
    }
    let ops = match operations {
        Some(Value::Array(a)) => a,
        Some(other) => {
            return Err(ScimError::invalid_syntax(format!(
                "\"Operations\" must be an array of operations, found {}",
                kind(other)
            )));
        }
        None => {
            return Err(ScimError::invalid_syntax(
                "\"Operations\" is required: an array of one or more operations",
            ));
        }
    };
    if ops.is_empty() {
        return Err(ScimError::invalid_syntax(
            "\"Operations\" must hold at least one operation",
        ));
    }
    if ops.len() > MAX_OPERATIONS {
        return Err(ScimError::invalid_syntax(format!(
            "{} operations exceed the limit of {MAX_OPERATIONS} per request",
            ops.len()
        )));
    }
    ops.iter()
        .enumerate()
        .map(|(i, op)| parse_op(i, op))
        .collect()
}

pub(super) fn parse_op(i: usize, v: &Value) -> Result<PatchOp, ScimError> {
    let Value::Object(m) = v else {
        return Err(ScimError::invalid_syntax(format!(
            "Operations[{i}] must be an object, found {}",
            kind(v)
        )));
    };
    let (mut op, mut path, mut value) = (None, None, None);
    for (k, x) in m {
        let slot = match k.to_ascii_lowercase().as_str() {
            "op" => &mut op,
            "path" => &mut path,
            "value" => &mut value,
            _ => {
                return Err(ScimError::invalid_syntax(format!(
                    "Operations[{i}] has an unknown member {k:?}: an operation has only \"op\", \"path\" and \"value\""
                )));
            }
        };
        if slot.replace(x).is_some() {
            return Err(ScimError::invalid_syntax(format!(
                "Operations[{i}]: member {k:?} appears more than once (names are case-insensitive)"
            )));
        }
    }
    let kind_ = match op {
        Some(Value::String(s)) if s == "add" => PatchOpKind::Add,
        Some(Value::String(s)) if s == "replace" => PatchOpKind::Replace,
        Some(Value::String(s)) if s == "remove" => PatchOpKind::Remove,
        Some(other) => {
            return Err(ScimError::invalid_syntax(format!(
                "Operations[{i}]: \"op\" must be \"add\", \"replace\" or \"remove\", found {}",
                json_excerpt(other)
            )));
        }
        None => {
            return Err(ScimError::invalid_syntax(format!(
                "Operations[{i}] has no \"op\" (one of \"add\", \"replace\", \"remove\")"
            )));
        }
    };
    let path = match path {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(PatchPath::parse(s).map_err(|e| ScimError {
            detail: format!("Operations[{i}] (path {:?}): {}", excerpt(s, 120), e.detail),
            ..e
        })?),
        Some(other) => {
            return Err(ScimError::invalid_path(format!(
                "Operations[{i}]: \"path\" must be a string, found {}",
                kind(other)
            )));
        }
    };
    let op = PatchOp {
        op: kind_,
        path,
        value: value.cloned(),
    };
    match op.op {
        PatchOpKind::Remove => {
            if op.path.is_none() {
                return Err(at_op(i, None, no_path_for_remove()));
            }
            if op.value.as_ref().is_some_and(|v| !v.is_null()) {
                return Err(at_op(
                    i,
                    op.path.as_ref(),
                    ScimError::invalid_syntax(
                        "an RFC 7644 \"remove\" takes no \"value\": the path alone selects what is removed. \
                         To remove one member, use \"path\": \"members[value eq \\\"<id>\\\"]\" without a value \
                         (a \"remove\" of \"members\" would otherwise remove every member)",
                    ),
                ));
            }
        }
        PatchOpKind::Add | PatchOpKind::Replace => match &op.value {
            None => {
                return Err(at_op(
                    i,
                    op.path.as_ref(),
                    ScimError::invalid_value(format!(
                        "\"value\" is required for \"{}\"",
                        op.op.as_str()
                    )),
                ));
            }
            Some(Value::Null) if op.op == PatchOpKind::Add => {
                return Err(at_op(i, op.path.as_ref(), null_add()));
            }
            Some(_) => {}
        },
    }
    Ok(op)
}

pub(super) fn no_path_for_remove() -> ScimError {
    ScimError::no_target("a \"remove\" operation needs a \"path\" (RFC 7644 §3.5.2.2)")
}

pub(super) fn null_add() -> ScimError {
    ScimError::invalid_value(
        "an \"add\" needs a non-null value; to unassign an attribute use \"remove\" or \"replace\" with null",
    )
}
