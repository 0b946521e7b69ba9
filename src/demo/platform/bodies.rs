//! Request bodies and queries of the demo platform: validated user and group bodies, member
//! bodies, paging and list filters.

use std::borrow::Cow;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::{Body, Incoming};
use serde_json::{Map, Value};

use super::records::{Group, Status, User, fold};
use super::response::{ApiError, Meta};

/// Largest accepted request body; larger ones get `413 {"error":"too_large"}`.
pub(super) const MAX_BODY_BYTES: usize = 1 << 20;
/// Page size when the client sends no `per_page`.
const DEFAULT_PER_PAGE: u64 = 25;
/// Largest page size; larger `per_page` values are clamped to it.
const MAX_PER_PAGE: u64 = 100;

/// Reads a request body of at most [`MAX_BODY_BYTES`].
pub(super) async fn read_body(request: Request<Incoming>) -> Result<Bytes, ApiError> {
    let body = request.into_body();
    if body.size_hint().lower() > MAX_BODY_BYTES as u64 {
        return Err(ApiError::TooLarge);
    }
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err(ApiError::TooLarge),
        Err(_) => Err(ApiError::BadRequest("could not read the request body")),
    }
}

/// Whether a body describes a whole record (POST, PUT: required fields checked, missing optional
/// fields take their defaults) or a partial update (PATCH).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    Full,
    Partial,
}

/// Field-level validation failures, in body order.
#[derive(Debug, Default)]
struct Problems(Vec<(String, &'static str)>);

impl Problems {
    /// Stores `parsed` in `slot`, or records why `field` was rejected.
    fn take<V>(&mut self, slot: &mut Option<V>, field: String, parsed: Result<V, &'static str>) {
        match parsed {
            Ok(value) => *slot = Some(value),
            Err(message) => self.0.push((field, message)),
        }
    }

    fn require<V>(&mut self, slot: &Option<V>, field: &str) {
        if slot.is_none() && !self.0.iter().any(|(name, _)| name == field) {
            self.0.push((field.to_owned(), "required"));
        }
    }

    fn into_result(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.0))
        }
    }
}

fn json_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(ApiError::BadRequest("the body must be a JSON object")),
        Err(_) => Err(ApiError::BadRequest("malformed JSON")),
    }
}

pub(super) fn string(value: Value) -> Result<String, &'static str> {
    match value {
        Value::String(s) => Ok(s),
        _ => Err("must be a string"),
    }
}

fn nullable_string(value: Value) -> Result<Option<String>, &'static str> {
    match value {
        Value::String(s) => Ok(Some(s)),
        Value::Null => Ok(None),
        _ => Err("must be a string or null"),
    }
}

/// A unique value (email, group name) as given, with its folded index key.
#[derive(Debug)]
pub(super) struct Keyed {
    pub(super) value: String,
    pub(super) key: String,
}

impl Keyed {
    pub(super) fn new(value: String) -> Keyed {
        let key = fold(&value).into_owned();
        Keyed { value, key }
    }
}

/// An email address: exactly one `@`, with something on both sides. Stored as given.
pub(super) fn email(value: Value) -> Result<Keyed, &'static str> {
    match value {
        Value::String(address) => match address.split_once('@') {
            Some((local, domain))
                if !local.is_empty() && !domain.is_empty() && !domain.contains('@') =>
            {
                Ok(Keyed::new(address))
            }
            _ => Err("invalid"),
        },
        Value::Null => Err("required"),
        _ => Err("must be a string"),
    }
}

/// A user name: any non-empty string of at most 256 characters. Stored as given.
pub(super) fn username(value: Value) -> Result<Keyed, &'static str> {
    match value {
        Value::String(name) if name.trim().is_empty() => Err("must not be empty"),
        Value::String(name) if name.chars().count() > 256 => Err("too long"),
        Value::String(name) => Ok(Keyed::new(name)),
        Value::Null => Err("required"),
        _ => Err("must be a string"),
    }
}

pub(super) fn status(value: Value) -> Result<Status, &'static str> {
    match value.as_str() {
        Some("active") => Ok(Status::Active),
        Some("disabled") => Ok(Status::Disabled),
        _ => Err(r#"must be "active" or "disabled""#),
    }
}

fn group_name(value: Value) -> Result<Keyed, &'static str> {
    match value {
        Value::String(name) if name.is_empty() => Err("must not be empty"),
        Value::String(name) => Ok(Keyed::new(name)),
        Value::Null => Err("required"),
        _ => Err("must be a string"),
    }
}

/// Read-only fields get their own message, so a client echoing a record back learns why.
const READ_ONLY: [&str; 3] = ["id", "created_at", "updated_at"];

fn unknown_field(field: &str) -> &'static str {
    if READ_ONLY.contains(&field) {
        "read-only"
    } else {
        "unknown field"
    }
}

/// A validated user body: `None` leaves a field alone.
#[derive(Debug, Default)]
pub(super) struct UserPatch {
    pub(super) username: Option<Keyed>,
    pub(super) email: Option<Keyed>,
    first_name: Option<String>,
    last_name: Option<String>,
    display_name: Option<String>,
    status: Option<Status>,
    external_ref: Option<Option<String>>,
}

impl UserPatch {
    pub(super) fn parse(body: &[u8], shape: Shape) -> Result<UserPatch, ApiError> {
        let mut patch = UserPatch::default();
        let mut problems = Problems::default();
        for (field, value) in json_object(body)? {
            match field.as_str() {
                "username" => problems.take(&mut patch.username, field, username(value)),
                "email" => problems.take(&mut patch.email, field, email(value)),
                "first_name" => problems.take(&mut patch.first_name, field, string(value)),
                "last_name" => problems.take(&mut patch.last_name, field, string(value)),
                "display_name" => problems.take(&mut patch.display_name, field, string(value)),
                "status" => problems.take(&mut patch.status, field, status(value)),
                "external_ref" => {
                    problems.take(&mut patch.external_ref, field, nullable_string(value));
                }
                other => {
                    let message = unknown_field(other);
                    problems.0.push((field, message));
                }
            }
        }
        if shape == Shape::Full {
            problems.require(&patch.email, "email");
            patch.first_name.get_or_insert_with(String::new);
            patch.last_name.get_or_insert_with(String::new);
            patch.display_name.get_or_insert_with(String::new);
            patch.status.get_or_insert(Status::Active);
            patch.external_ref.get_or_insert(None);
        }
        problems.into_result()?;
        Ok(patch)
    }

    pub(super) fn apply(self, user: &mut User) {
        if let Some(username) = self.username {
            user.username = username.value;
        }
        if let Some(email) = self.email {
            user.email = email.value;
        }
        if let Some(first_name) = self.first_name {
            user.first_name = first_name;
        }
        if let Some(last_name) = self.last_name {
            user.last_name = last_name;
        }
        if let Some(display_name) = self.display_name {
            user.display_name = display_name;
        }
        if let Some(status) = self.status {
            user.status = status;
        }
        if let Some(external_ref) = self.external_ref {
            user.external_ref = external_ref;
        }
    }
}

/// A validated group body: `None` leaves a field alone.
#[derive(Debug, Default)]
pub(super) struct GroupPatch {
    pub(super) name: Option<Keyed>,
    external_ref: Option<Option<String>>,
}

impl GroupPatch {
    pub(super) fn parse(body: &[u8], shape: Shape) -> Result<GroupPatch, ApiError> {
        let mut patch = GroupPatch::default();
        let mut problems = Problems::default();
        for (field, value) in json_object(body)? {
            match field.as_str() {
                "name" => problems.take(&mut patch.name, field, group_name(value)),
                "external_ref" => {
                    problems.take(&mut patch.external_ref, field, nullable_string(value));
                }
                other => {
                    let message = unknown_field(other);
                    problems.0.push((field, message));
                }
            }
        }
        if shape == Shape::Full {
            problems.require(&patch.name, "name");
        }
        problems.into_result()?;
        Ok(patch)
    }

    pub(super) fn apply(self, group: &mut Group) {
        if let Some(name) = self.name {
            group.name = name.value;
        }
        if let Some(external_ref) = self.external_ref {
            group.external_ref = external_ref;
        }
    }
}

/// `{"user_id": 17}` for `POST /api/v1/groups/{id}/members`.
pub(super) fn parse_member(body: &[u8]) -> Result<u64, ApiError> {
    let mut user_id = None;
    let mut problems = Problems::default();
    for (field, value) in json_object(body)? {
        match field.as_str() {
            "user_id" => {
                let parsed = match value {
                    Value::Null => Err("required"),
                    value => value.as_u64().ok_or("must be a non-negative integer"),
                };
                problems.take(&mut user_id, field, parsed);
            }
            _ => problems.0.push((field, "unknown field")),
        }
    }
    problems.require(&user_id, "user_id");
    problems.into_result()?;
    user_id.ok_or_else(|| required("user_id"))
}

pub(super) fn required(field: &str) -> ApiError {
    ApiError::invalid(field, "required")
}

/// Page selection: `page` is 1-based; `per_page` is clamped to [`MAX_PER_PAGE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Paging {
    page: u64,
    per_page: u64,
}

impl Default for Paging {
    fn default() -> Self {
        Paging {
            page: 1,
            per_page: DEFAULT_PER_PAGE,
        }
    }
}

impl Paging {
    pub(super) fn offset(self) -> usize {
        let offset = self.page.saturating_sub(1).saturating_mul(self.per_page);
        usize::try_from(offset).unwrap_or(usize::MAX)
    }

    pub(super) fn limit(self) -> usize {
        usize::try_from(self.per_page).unwrap_or(usize::MAX)
    }

    pub(super) fn meta(self, total: usize) -> Meta {
        Meta {
            page: self.page,
            per_page: self.per_page,
            total,
        }
    }
}

/// The query of a list call. Filter values are percent-decoded (`+` is a space, as in forms) and
/// match exactly what is given (so `?email=` matches nothing); unknown parameters are ignored; the
/// last of repeated parameters wins.
pub(super) struct ListQuery<'q> {
    pub(super) key: Option<Cow<'q, str>>,
    pub(super) external_ref: Option<Cow<'q, str>>,
    pub(super) paging: Paging,
}

impl<'q> ListQuery<'q> {
    /// `key_param` names the unique-key filter (`email`, `name`), or is empty for none.
    pub(super) fn parse(
        query: Option<&'q str>,
        key_param: &str,
    ) -> Result<ListQuery<'q>, ApiError> {
        let mut parsed = ListQuery {
            key: None,
            external_ref: None,
            paging: Paging::default(),
        };
        let pairs = form_urlencoded::parse(query.unwrap_or_default().as_bytes());
        for (name, value) in pairs {
            match &*name {
                "page" => {
                    parsed.paging.page = count(&value)
                        .filter(|&page| page > 0)
                        .ok_or(ApiError::BadRequest("page must be a positive integer"))?;
                }
                "per_page" => {
                    parsed.paging.per_page = count(&value)
                        .filter(|&per_page| per_page > 0)
                        .ok_or(ApiError::BadRequest("per_page must be a positive integer"))?
                        .min(MAX_PER_PAGE);
                }
                "external_ref" => parsed.external_ref = Some(value),
                name if !key_param.is_empty() && name == key_param => parsed.key = Some(value),
                _ => {}
            }
        }
        Ok(parsed)
    }
}

/// A decimal count: ASCII digits only, saturating at `u64::MAX` (so a huge `per_page` clamps).
pub(super) fn count(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0u64, |n, b| {
        n.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}
