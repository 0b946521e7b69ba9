//! Group membership through the mapping: reading a group's members, and adding or removing
//! members with targeted calls (one call per member, whatever the group's size), idempotently
//! whatever the platform says about "already a member" / "not a member".
//!
//! The platform has no transactions: when a change of several members fails part-way, the
//! members already changed by this request are changed back (best effort, logged if that fails
//! too), so a failed request leaves the group as it found it.

use serde_json::Value;

use crate::config::Unmapped;
use crate::error::Error;
use crate::mapping::convert;
use crate::mapping::model::{MemberSpec, ResourceMap};
use crate::mapping::template::{PlatformId, Vars};
use crate::platform::calls::{self as platform, Flow, Transport};
use crate::routes::ResourceKind;
use crate::scim::error::ScimError;
use crate::service::{Ctx, unsupported};

/// A group's member ids (SCIM User ids), when the response includes members and they live
/// outside the group object. `None`: not wanted, or already in the converted group (embedded).
pub async fn fetch<T: Transport>(
    ctx: &Ctx<'_, T>,
    map: &ResourceMap,
    group: &PlatformId,
    wanted: bool,
) -> Result<Option<Vec<String>>, Error> {
    if map.kind != ResourceKind::Group || !wanted {
        return Ok(None);
    }
    match &map.members {
        None | Some(MemberSpec::Embedded { .. }) => Ok(None),
        Some(MemberSpec::Calls(c)) => {
            platform::member_ids(ctx.transport, ctx.mapping, &c.list, group)
                .await
                .map(Some)
        }
        Some(MemberSpec::OnUser { param, .. }) => {
            let users = ctx.map(ResourceKind::User)?;
            let Some(spec) = &users.list else {
                return Err(unsupported(users, "listing", "list"));
            };
            let mut ids = Vec::new();
            let params = [(param.clone(), group.text.clone())];
            let scanned = platform::scan(
                ctx.transport,
                ctx.mapping,
                spec,
                &Vars::default(),
                &params,
                |item| {
                    if let Some(id) = convert::platform_id(users, &item) {
                        ids.push(id.text);
                    }
                    Ok(Flow::Continue)
                },
            )
            .await?;
            if scanned.truncated {
                return Err(Error::Client(ScimError::too_many(format!(
                    "the group has more than {} members (the users list's scan_limit)",
                    spec.scan_limit
                ))));
            }
            Ok(Some(ids))
        }
    }
}

/// The SCIM User ids named by `members` values, each an object whose `value` is a string (RFC
/// 7643 §4.2: `members.value` is a string), checked against the users' id type. A bare id, a
/// number or any other shape is a 400 `invalidValue`: it is never coerced into a member (the one
/// bare-id shape Entra documents, quirk 11, is rewritten by the normalizer before this). An id
/// that cannot name a user (`"abc"` for integer ids) is a 400 under `unknown_members = "reject"`,
/// and skipped with a warning under `"ignore"`.
pub fn member_ids<T: Transport>(
    ctx: &Ctx<'_, T>,
    values: &[Value],
) -> Result<Vec<PlatformId>, Error> {
    let id_type = ctx.member_id_type();
    let mut out = Vec::with_capacity(values.len());
    for v in values {
        let id = match v {
            Value::Object(o) => {
                if let Some(k) = o.keys().find(|k| {
                    !["value", "$ref", "display", "type"]
                        .iter()
                        .any(|s| k.eq_ignore_ascii_case(s))
                }) {
                    return Err(Error::Client(ScimError::invalid_value(format!(
                        "unknown sub-attribute 'members.{k}': a member has \"value\", \"$ref\", \"display\" and \"type\""
                    ))));
                }
                o.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("value"))
                    .map(|(_, v)| v)
            }
            _ => None,
        };
        let text = match id {
            Some(Value::String(s)) => s.clone(),
            _ => {
                return Err(Error::Client(ScimError::invalid_value(format!(
                    "each item of \"members\" is an object whose \"value\" is a User id string, e.g. {{\"value\": \"17\"}}; got {}",
                    short(v)
                ))));
            }
        };
        match (
            convert::parse_id(id_type, &text),
            ctx.settings.unknown_members,
        ) {
            (Some(id), _) => out.push(id),
            (None, Unmapped::Ignore) => {
                ctx.metrics.ignored_member();
                tracing::warn!(member = %text, "a member id that names no user of the platform was ignored");
            }
            (None, Unmapped::Reject) => {
                return Err(Error::Client(ScimError::invalid_value(format!(
                    "member {text:?} is not a User id of this platform"
                ))));
            }
        }
    }
    Ok(out)
}

/// A JSON value for an error message, cut at 80 characters.
fn short(v: &Value) -> String {
    let text = v.to_string();
    match text.char_indices().nth(80) {
        None => text,
        Some((i, _)) => format!("{}…", &text[..i]),
    }
}

/// The members a group is about to be written with, for membership held in the group object:
/// the ids it already has are kept as they are; each new one is read as a user first (the
/// platform would store any id), and one that names no user follows `[scim] unknown_members`:
/// `reject` answers 400 naming it (nothing is written), `ignore` leaves it out. Duplicates go.
pub async fn known<T: Transport>(
    ctx: &Ctx<'_, T>,
    current: &[String],
    wanted: Vec<PlatformId>,
) -> Result<Vec<PlatformId>, Error> {
    let mut out: Vec<PlatformId> = Vec::with_capacity(wanted.len());
    for id in wanted {
        if out.iter().any(|o| o.text == id.text) {
            continue;
        }
        if !current.contains(&id.text) {
            let users = ctx.map(ResourceKind::User)?;
            if ctx.read_one(users, &id).await?.is_none() {
                unknown(ctx, &id)?;
                continue;
            }
        }
        out.push(id);
    }
    Ok(out)
}

/// A member id that names no user: `Ok` (skipped, with a warning and a metric) under
/// `unknown_members = "ignore"`, the 400 naming it under `"reject"`.
fn unknown<T: Transport>(ctx: &Ctx<'_, T>, member: &PlatformId) -> Result<(), Error> {
    match ctx.settings.unknown_members {
        Unmapped::Ignore => {
            ctx.metrics.ignored_member();
            tracing::warn!(member = %member.text, "a member that names no user of the platform was ignored");
            Ok(())
        }
        Unmapped::Reject => Err(Error::Client(ScimError::invalid_value(format!(
            "member {:?} does not name a user of this platform; nothing was changed",
            member.text
        )))),
    }
}

/// A membership change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The member was added.
    Add,
    /// The member was removed.
    Remove,
}

/// The membership changes a request actually made (already-so changes are not listed).
pub type Done = Vec<(Change, PlatformId)>;

/// Adds and removes members with targeted calls (mode `calls` or `on_user`). Adding a member
/// that is already one, or removing one that is not, succeeds. On failure, what this call
/// changed is undone before the error is returned.
pub async fn change<T: Transport>(
    ctx: &Ctx<'_, T>,
    map: &ResourceMap,
    group: &PlatformId,
    add: &[PlatformId],
    remove: &[PlatformId],
) -> Result<Done, Error> {
    let mut done: Done = Vec::new();
    let work = add
        .iter()
        .map(|m| (Change::Add, m))
        .chain(remove.iter().map(|m| (Change::Remove, m)));
    for (change, member) in work {
        match one(ctx, map, group, member, change).await {
            Ok(true) => done.push((change, member.clone())),
            Ok(false) => {}
            Err(e) => {
                undo(ctx, map, group, &done).await;
                return Err(e);
            }
        }
    }
    Ok(done)
}

/// Reverses membership changes, last first (best effort: a failure is logged as an ERROR, as
/// the group is then left partly changed).
pub async fn undo<T: Transport>(
    ctx: &Ctx<'_, T>,
    map: &ResourceMap,
    group: &PlatformId,
    done: &Done,
) {
    crate::platform::budget::undoing(async {
        for (c, m) in done.iter().rev() {
            let reverse = match c {
                Change::Add => Change::Remove,
                Change::Remove => Change::Add,
            };
            if let Err(u) = one(ctx, map, group, m, reverse).await {
                tracing::error!(
                    group = %group.text, member = %m.text, error = %u,
                    "could not undo a membership change after a failed request; the group is partly changed"
                );
            }
        }
    })
    .await;
}

/// One membership change; `Ok(true)` when it changed something, `Ok(false)` when it was already so.
async fn one<T: Transport>(
    ctx: &Ctx<'_, T>,
    map: &ResourceMap,
    group: &PlatformId,
    member: &PlatformId,
    change: Change,
) -> Result<bool, Error> {
    match &map.members {
        Some(MemberSpec::Calls(c)) => {
            let (op, already) = match change {
                Change::Add => (&c.add, &c.already_member),
                Change::Remove => (&c.remove, &c.not_member),
            };
            let vars = Vars {
                id: Some(group),
                member: Some(member),
            };
            let call = platform::build(op, &vars, None)?;
            let reply = ctx.transport.send(&call).await?;
            if platform::succeeded(op, &reply) {
                let failed = crate::mapping::platform_errors::success_error(
                    &ctx.mapping.errors,
                    &reply,
                    op.label,
                );
                return failed.map_or(Ok(true), Err);
            }
            let status = reply.status.as_u16();
            let body: Option<Value> = serde_json::from_slice(&reply.body).ok();
            if change == Change::Add
                && c.unknown_member
                    .iter()
                    .any(|r| r.matches(status, body.as_ref()))
            {
                return unknown(ctx, member).map(|()| false);
            }
            if already.iter().any(|r| r.matches(status, body.as_ref())) {
                // "Already so" and "no such group" can share a status (a 404 on remove): the
                // group is read to tell them apart.
                if c.verify_group && ctx.read_one(map, group).await?.is_none() {
                    return Err(crate::service::not_found(map, &group.text));
                }
                return Ok(false);
            }
            Err(crate::mapping::platform_errors::classify(
                &ctx.mapping.errors,
                &reply,
                &format!("Group {}", group.text),
                op.label,
            ))
        }
        Some(MemberSpec::OnUser { field, .. }) => {
            let users = ctx.map(ResourceKind::User)?;
            let op = users
                .update
                .as_ref()
                .or(users.replace.as_ref())
                .ok_or_else(|| unsupported(users, "updating", "update"))?;
            let vars = Vars {
                id: Some(member),
                member: None,
            };
            let what = format!("User {}", member.text);
            // The user is read, changed and written back: its lock keeps two membership changes
            // of one user (from two groups) from overwriting each other.
            let _held = ctx.lock(ResourceKind::User, member).await?;
            let attempts = users.concurrency.as_ref().map_or(1, |c| c.attempts);
            let mut attempt = 1;
            loop {
                let Some(current) = ctx.read_current(users, member).await? else {
                    return match change {
                        Change::Remove => Ok(false),
                        Change::Add => unknown(ctx, member).map(|()| false),
                    };
                };
                let mut list: Vec<Value> = match field.get(&current.raw) {
                    Some(Value::Array(a)) => a.clone(),
                    _ => Vec::new(),
                };
                let is_group = |v: &Value| match v {
                    Value::String(s) => *s == group.text,
                    Value::Number(n) => n.to_string() == group.text,
                    _ => false,
                };
                let present = list.iter().any(is_group);
                match change {
                    Change::Add if present => return Ok(false),
                    Change::Remove if !present => return Ok(false),
                    Change::Add => list.push(group.json.clone()),
                    Change::Remove => list.retain(|v| !is_group(v)),
                }
                let body = if users.update.is_some() {
                    let mut b = Value::Object(serde_json::Map::new());
                    field.set(&mut b, Value::Array(list));
                    b
                } else {
                    // A full write: the user as read, with only the group list changed.
                    let mut obj = current.raw.clone();
                    field.set(&mut obj, Value::Array(list));
                    obj
                };
                let mut result = ctx
                    .write_after_read(users, op, &vars, Some(body), &what, &current)
                    .await;
                if !ctx.reapply(&mut result, attempt, attempts).await {
                    return result.map(|_| true);
                }
                attempt += 1;
            }
        }
        Some(MemberSpec::Embedded { .. }) | None => Err(Error::Internal(
            "targeted member change without member calls".to_owned(),
        )),
    }
}
