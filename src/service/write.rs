//! Changing resources: create, replace (PUT), PATCH, delete.
//!
//! PATCH takes targeted calls where the mapping declares them (adding or removing group members
//! never reads the member list), and otherwise reads the resource, applies the operations in
//! order on a copy (all or nothing), and writes back only what changed: no change, no write.

use serde_json::{Map, Value};

use crate::config::{GroupPatchResponse, Unmapped};
use crate::error::{Error, PlatformError};
use crate::mapping::convert::{self, Converted, Purpose};
use crate::mapping::model::{Deactivation, IdType, MemberSpec, Op, ResourceMap};
use crate::mapping::template::{PlatformId, Vars};
use crate::operation::Projection;
use crate::platform::calls::{self as platform, Transport};
use crate::routes::ResourceKind;
use crate::scim::error::ScimError;
use crate::scim::filter::{CompareOp, Filter, Literal};
use crate::scim::patch::{self, PatchOp, PatchOpKind, PatchOptions};
use crate::scim::validate::{self, Mode, UnknownAttributes};
use crate::service::journal::{Attempt, Journal, active_of};
use crate::service::{Ctx, Current, Outcome, members, not_found, read, steps, unsupported};

/// A member of a JSON object by case-insensitive name (`scim::value::get_ci`), `None` for a
/// value that is not an object.
fn get_ci<'a>(v: &'a Value, k: &str) -> Option<&'a Value> {
    crate::scim::value::get_ci(v.as_object()?, k)
}

/// Applies the unmapped-attribute policy to a request's resource.
fn check_unmapped<T: Transport>(
    ctx: &Ctx<'_, T>,
    map: &ResourceMap,
    resource: &Value,
    extra: &[String],
) -> Result<(), Error> {
    let mut u = convert::uncovered(map, resource);
    u.extend(extra.iter().cloned());
    if u.is_empty() {
        return Ok(());
    }
    match ctx.settings.unmapped {
        Unmapped::Reject => Err(Error::Client(ScimError::invalid_value(format!(
            "the platform does not store {}; remove {} from the provisioning client's attribute mappings, or set [scim] unmapped_attributes = \"ignore\"",
            u.join(", "),
            if u.len() == 1 { "it" } else { "them" }
        )))),
        Unmapped::Ignore => {
            ctx.metrics.ignored_attributes(map.kind.name());
            tracing::warn!(resource = map.kind.name(), attributes = ?u, "attributes the platform does not store were ignored");
            Ok(())
        }
    }
}

fn unknown_policy<T: Transport>(ctx: &Ctx<'_, T>) -> UnknownAttributes {
    match ctx.settings.unmapped {
        Unmapped::Reject => UnknownAttributes::Reject,
        Unmapped::Ignore => UnknownAttributes::Ignore,
    }
}

fn members_in(scim: &Value) -> Vec<Value> {
    match get_ci(scim, "members") {
        Some(Value::Array(a)) => a.clone(),
        _ => Vec::new(),
    }
}

/// Writes embedded member ids into a platform body.
fn embed_members(map: &ResourceMap, body: &mut Value, ids: &[PlatformId]) {
    if let Some(MemberSpec::Embedded { field, item_field }) = &map.members {
        let items = ids
            .iter()
            .map(|id| match item_field {
                Some(f) => {
                    let mut o = Value::Object(Map::new());
                    f.set(&mut o, id.json.clone());
                    o
                }
                None => id.json.clone(),
            })
            .collect();
        field.set(body, Value::Array(items));
    }
}

fn uses_member_calls(map: &ResourceMap) -> bool {
    matches!(
        map.members,
        Some(MemberSpec::Calls(_) | MemberSpec::OnUser { .. })
    )
}

/// How many times one read-modify-write of a resource type may be tried.
fn attempts(map: Option<&ResourceMap>) -> u32 {
    map.and_then(|m| m.concurrency.as_ref())
        .map_or(1, |c| c.attempts)
}

/// The member ids a SCIM resource lists (`members[].value`).
fn scim_member_ids(scim: &Value) -> Vec<String> {
    match get_ci(scim, "members") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|m| {
                get_ci(m, "value")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn is_embedded(map: &ResourceMap) -> bool {
    matches!(map.members, Some(MemberSpec::Embedded { .. }))
}

/// The membership changes between the ids a group had and the ids it is written with.
fn embedded_done(id_type: IdType, before: &[String], after: &[PlatformId]) -> members::Done {
    let (add, remove) = member_delta(id_type, before, after);
    add.into_iter()
        .map(|m| (members::Change::Add, m))
        .chain(remove.into_iter().map(|m| (members::Change::Remove, m)))
        .collect()
}

/// Calls the deactivate/activate operation when `active` changed (mode `calls`).
async fn toggle_active<T: Transport>(
    ctx: &Ctx<'_, T>,
    map: &ResourceMap,
    id: &PlatformId,
    before: Option<bool>,
    after: Option<bool>,
) -> Result<bool, Error> {
    let Deactivation::Calls(pair) = &map.deactivate else {
        return Ok(false);
    };
    let op = match (before.unwrap_or(true), after) {
        (true, Some(false)) => &pair.deactivate,
        (false, Some(true)) => &pair.activate,
        _ => return Ok(false),
    };
    platform::execute(
        ctx.transport,
        ctx.mapping,
        op,
        &Vars {
            id: Some(id),
            member: None,
        },
        None,
        &format!("User {}", id.text),
    )
    .await?;
    Ok(true)
}

/// The converted resource a write operation answered, or a fresh read when it answered nothing.
async fn written<T: Transport>(
    ctx: &Ctx<'_, T>,
    map: &ResourceMap,
    op: &Op,
    reply: &crate::platform::Reply,
    id: Option<&PlatformId>,
) -> Result<Converted, Error> {
    if let Some(obj) = platform::object(op, reply)? {
        return ctx.convert(map, &obj);
    }
    // No object: read it again, by the id we know or the one `Location` names.
    let from_location = reply
        .headers
        .get(http::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|l| l.trim_end_matches('/').rsplit('/').next())
        .and_then(|seg| percent_encoding::percent_decode_str(seg).decode_utf8().ok())
        .and_then(|seg| convert::parse_id(map.id_type, &seg));
    let id = id.cloned().or(from_location).ok_or_else(|| {
        Error::Platform(PlatformError::BadResponse(format!(
            "{}: the platform answered without the object and without a Location header",
            op.label
        )))
    })?;
    ctx.read_one(map, &id).await?.ok_or_else(|| {
        Error::Platform(PlatformError::BadResponse(format!(
            "{}: the platform reports success but {} {} cannot be read back",
            op.label,
            map.kind.name(),
            id.text
        )))
    })
}

/// `POST /{Resources}`.
pub async fn create<T: Transport>(
    ctx: &Ctx<'_, T>,
    kind: ResourceKind,
    body: &Value,
) -> Result<Outcome, Error> {
    let mut journal = Journal::new(kind, Attempt::Create, None);
    let result = create_inner(ctx, kind, body, &mut journal).await;
    journal.flush(ctx, result.as_ref().err());
    result
}

async fn create_inner<T: Transport>(
    ctx: &Ctx<'_, T>,
    kind: ResourceKind,
    body: &Value,
    journal: &mut Journal,
) -> Result<Outcome, Error> {
    let map = ctx.map(kind)?;
    let op = map
        .create
        .as_ref()
        .ok_or_else(|| unsupported(map, "creating", "create"))?;
    let v = validate::validate(body, &map.schema, Mode::Create, unknown_policy(ctx), None)?;
    check_unmapped(ctx, map, &v.resource, &v.ignored)?;
    let member_ids = if kind == ResourceKind::Group {
        members::member_ids(ctx, &members_in(&v.resource))?
    } else {
        Vec::new()
    };
    if !member_ids.is_empty() && map.members.is_none() {
        return Err(unsupported(map, "storing members of", "members"));
    }
    let active = active_of(&v.resource);
    if matches!(map.deactivate, Deactivation::Delete) && active == Some(false) {
        return Err(Error::Client(ScimError::invalid_value(
            "this platform deactivates users by deleting them, so an inactive user cannot be created",
        )));
    }
    let member_ids = if is_embedded(map) {
        members::known(ctx, &[], member_ids).await?
    } else {
        member_ids
    };
    let mut pbody = convert::to_platform(map, &v.resource, Purpose::Create)?;
    embed_members(map, &mut pbody, &member_ids);
    let (ran, reply) = match &op.steps {
        Some(s) => {
            let ran = steps::run(ctx, map, s, pbody, journal).await?;
            let reply = ran.result().cloned();
            (Some(ran), reply)
        }
        None => {
            let reply = platform::execute(
                ctx.transport,
                ctx.mapping,
                op,
                &Vars::default(),
                Some(pbody),
                map.kind.name(),
            )
            .await?;
            (None, Some(reply))
        }
    };
    let reply = reply.ok_or_else(|| Error::Internal(format!("{}: no result step", op.label)))?;
    let conv = match written(ctx, map, op, &reply, None).await {
        Ok(c) => c,
        Err(e) => {
            if let Some(ran) = &ran {
                ran.undo(ctx, map, journal).await;
            }
            return Err(e);
        }
    };

    // Steps after the create: undone (the resource deleted) if one fails.
    let post = async {
        let toggled = toggle_active(ctx, map, &conv.id, Some(true), active).await?;
        let done = if uses_member_calls(map) && !member_ids.is_empty() {
            members::change(ctx, map, &conv.id, &member_ids, &[]).await?
        } else {
            Vec::new()
        };
        Ok::<(bool, members::Done), Error>((toggled, done))
    };
    let conv = match post.await {
        Ok((toggled, done)) => {
            let conv = if toggled {
                ctx.read_one(map, &conv.id).await?.unwrap_or(conv)
            } else {
                conv
            };
            journal.created(&conv, &ctx.settings.audit);
            journal.members(&done);
            if is_embedded(map) {
                journal.members(&embedded_done(ctx.member_id_type(), &[], &member_ids));
            }
            conv
        }
        Err(e) => {
            if let Some(ran) = &ran {
                ran.undo(ctx, map, journal).await;
            } else if let Some(del) = &map.delete {
                let vars = Vars {
                    id: Some(&conv.id),
                    member: None,
                };
                let undo = platform::execute(
                    ctx.transport,
                    ctx.mapping,
                    del,
                    &vars,
                    None,
                    map.kind.name(),
                );
                if let Err(u) = crate::platform::budget::undoing(undo).await {
                    tracing::error!(id = %conv.id.text, error = %u, "could not delete a half-created resource after a failed request");
                }
            }
            return Err(e);
        }
    };
    let ms = uses_member_calls(map).then(|| member_ids.iter().map(|m| m.text.clone()).collect());
    let (body, etag) = ctx.finish(map, conv.clone(), ms);
    Ok(Outcome::Created {
        location: ctx.location(kind, &conv.id.text),
        body,
        etag,
    })
}

/// `PUT /{Resources}/{id}`: replaces the resource; attributes left out are cleared (members too).
pub async fn replace<T: Transport>(
    ctx: &Ctx<'_, T>,
    kind: ResourceKind,
    id: &str,
    body: &Value,
) -> Result<Outcome, Error> {
    reapplied(ctx, kind, id, |mut journal| async move {
        let result = replace_inner(ctx, kind, id, body, &mut journal).await;
        (journal, result)
    })
    .await
}

/// Runs one read-modify-write of a resource and audits it; when the platform refused its write
/// as stale (`[*.concurrency] conflict`), reads and applies it again, up to `attempts` times, a
/// fresh journal each time (a refused attempt changed nothing).
async fn reapplied<T, F, Fut>(
    ctx: &Ctx<'_, T>,
    kind: ResourceKind,
    id: &str,
    mut run: F,
) -> Result<Outcome, Error>
where
    T: Transport,
    F: FnMut(Journal) -> Fut,
    Fut: std::future::Future<Output = (Journal, Result<Outcome, Error>)>,
{
    let attempts = attempts(ctx.mapping.resource(kind));
    let mut attempt = 1;
    loop {
        let (journal, mut result) = run(Journal::new(kind, Attempt::Update, Some(id))).await;
        if ctx.reapply(&mut result, attempt, attempts).await {
            attempt += 1;
            continue;
        }
        journal.flush(ctx, result.as_ref().err());
        return result;
    }
}

async fn replace_inner<T: Transport>(
    ctx: &Ctx<'_, T>,
    kind: ResourceKind,
    id: &str,
    body: &Value,
    journal: &mut Journal,
) -> Result<Outcome, Error> {
    let map = ctx.map(kind)?;
    let pid = ctx.parse_id(map, id)?;
    if map.replace.is_none() && map.update.is_none() {
        return Err(unsupported(map, "replacing", "replace"));
    }
    let v = validate::validate(body, &map.schema, Mode::Replace, unknown_policy(ctx), None)?;
    check_unmapped(ctx, map, &v.resource, &v.ignored)?;
    let wanted = if kind == ResourceKind::Group {
        members::member_ids(ctx, &members_in(&v.resource))?
    } else {
        Vec::new()
    };
    let _held = ctx.lock(kind, &pid).await?;
    let current = ctx
        .read_current(map, &pid)
        .await?
        .ok_or_else(|| not_found(map, id))?;
    let old = &current.conv;
    let old_embedded = scim_member_ids(&old.scim);
    let wanted = if is_embedded(map) {
        members::known(ctx, &old_embedded, wanted).await?
    } else {
        wanted
    };
    if matches!(map.deactivate, Deactivation::Delete) && active_of(&v.resource) == Some(false) {
        return delete(ctx, kind, id).await;
    }
    // Members first: their calls are undone if the write that follows fails.
    let done = if uses_member_calls(map) {
        let current = members::fetch(ctx, map, &pid, true)
            .await?
            .unwrap_or_default();
        let (add, remove) = member_delta(ctx.member_id_type(), &current, &wanted);
        members::change(ctx, map, &pid, &add, &remove).await?
    } else {
        Vec::new()
    };
    let written_result = async {
        let vars = Vars {
            id: Some(&pid),
            member: None,
        };
        let conv = if let Some(op) = &map.replace {
            let mut pbody = convert::to_platform(map, &v.resource, Purpose::Replace)?;
            embed_members(map, &mut pbody, &wanted);
            if op.preserve_unmapped {
                pbody = convert::overlay(map, &current.raw, pbody);
            }
            let what = format!("{} {id}", kind.name());
            let reply = ctx
                .write_after_read(map, op, &vars, Some(pbody), &what, &current)
                .await?;
            written(ctx, map, op, &reply, Some(&pid)).await?
        } else {
            write_changes(ctx, map, &pid, &current, &v.resource, Some(&wanted)).await?
        };
        let toggled =
            toggle_active(ctx, map, &pid, active_of(&old.scim), active_of(&v.resource)).await?;
        Ok::<(Converted, bool), Error>((conv, toggled))
    }
    .await;
    let conv = settle(ctx, map, &pid, &done, written_result).await?;
    journal.updated(kind, &old.scim, &conv.scim, &ctx.settings.audit);
    journal.members(&done);
    if is_embedded(map) {
        journal.members(&embedded_done(ctx.member_id_type(), &old_embedded, &wanted));
    }
    let ms = uses_member_calls(map).then(|| wanted.iter().map(|m| m.text.clone()).collect());
    let (body, etag) = ctx.finish(map, conv, ms);
    Ok(Outcome::Ok {
        body,
        etag: Some(etag),
    })
}

/// Sends the changed fields of `new` against `old` with `update` (or the whole of `new` with
/// `replace`); no call when nothing changed.
async fn write_changes<T: Transport>(
    ctx: &Ctx<'_, T>,
    map: &ResourceMap,
    pid: &PlatformId,
    current: &Current,
    new: &Value,
    embedded: Option<&[PlatformId]>,
) -> Result<Converted, Error> {
    let old = &current.conv;
    let vars = Vars {
        id: Some(pid),
        member: None,
    };
    let what = format!("{} {}", map.kind.name(), pid.text);
    let embedded_changed = |ids: &[PlatformId]| {
        is_embedded(map)
            && !scim_member_ids(&old.scim)
                .iter()
                .eq(ids.iter().map(|i| &i.text))
    };
    if let Some(op) = &map.update {
        let mut changes = Value::Object(convert::diff(map, &old.scim, new)?);
        if let Some(ids) = embedded.filter(|ids| embedded_changed(ids)) {
            embed_members(map, &mut changes, ids);
        }
        if changes.as_object().is_some_and(Map::is_empty) {
            return Ok(old.clone());
        }
        let reply = ctx
            .write_after_read(map, op, &vars, Some(changes), &what, current)
            .await?;
        return written(ctx, map, op, &reply, Some(pid)).await;
    }
    let Some(op) = &map.replace else {
        return Err(unsupported(map, "updating", "update"));
    };
    let diff = convert::diff(map, &old.scim, new)?;
    let members_changed = embedded.is_some_and(embedded_changed);
    if diff.is_empty() && !members_changed {
        return Ok(old.clone());
    }
    let mut body = convert::to_platform(map, new, Purpose::Replace)?;
    match embedded {
        Some(ids) => embed_members(map, &mut body, ids),
        // Members untouched by this request are written back as read.
        None if is_embedded(map) => {
            let ids: Vec<PlatformId> = scim_member_ids(&old.scim)
                .iter()
                .filter_map(|t| convert::parse_id(ctx.member_id_type(), t))
                .collect();
            embed_members(map, &mut body, &ids);
        }
        None => {}
    }
    if op.preserve_unmapped {
        body = convert::overlay(map, &current.raw, body);
    }
    let reply = ctx
        .write_after_read(map, op, &vars, Some(body), &what, current)
        .await?;
    written(ctx, map, op, &reply, Some(pid)).await
}

fn member_delta(
    id_type: IdType,
    current: &[String],
    wanted: &[PlatformId],
) -> (Vec<PlatformId>, Vec<PlatformId>) {
    let add = wanted
        .iter()
        .filter(|w| !current.contains(&w.text))
        .cloned()
        .collect();
    let remove = current
        .iter()
        .filter(|c| !wanted.iter().any(|w| &&w.text == c))
        .filter_map(|c| convert::parse_id(id_type, c))
        .collect();
    (add, remove)
}

/// Whether an operation is about `members` only, and as what targeted change:
/// `add members [...]` or `remove members[value eq "x"]`.
fn member_op(op: &PatchOp) -> Option<(members::Change, Vec<Value>)> {
    let path = op.path.as_ref()?;
    if path.attr.urn.is_some()
        || !path.attr.name.eq_ignore_ascii_case("members")
        || path.attr.sub.is_some()
        || path.sub.is_some()
    {
        return None;
    }
    match (op.op, &path.filter) {
        (PatchOpKind::Add, None) => match &op.value {
            Some(Value::Array(a)) => Some((members::Change::Add, a.clone())),
            Some(v @ Value::Object(_)) => Some((members::Change::Add, vec![v.clone()])),
            _ => None,
        },
        (
            PatchOpKind::Remove,
            Some(Filter::Compare {
                path: p,
                op: CompareOp::Eq,
                value: Literal::String(s),
                ..
            }),
        ) if p.urn.is_none() && p.sub.is_none() && p.name.eq_ignore_ascii_case("value") => Some((
            members::Change::Remove,
            vec![serde_json::json!({ "value": s })],
        )),
        _ => None,
    }
}

/// After the member calls of a replace or a patch: when the field writes failed, the member
/// changes already made are undone (the request is all or nothing); when `active` was toggled
/// by its own call, the resource is read back so the answer shows it.
async fn settle<T: Transport>(
    ctx: &Ctx<'_, T>,
    map: &ResourceMap,
    pid: &PlatformId,
    done: &members::Done,
    written: Result<(Converted, bool), Error>,
) -> Result<Converted, Error> {
    let (conv, toggled) = match written {
        Ok(x) => x,
        Err(e) => {
            members::undo(ctx, map, pid, done).await;
            return Err(e);
        }
    };
    if toggled {
        Ok(ctx.read_one(map, pid).await?.unwrap_or(conv))
    } else {
        Ok(conv)
    }
}

/// `PATCH /{Resources}/{id}` with an RFC 7644 PatchOp body (already normalized).
pub async fn patch<T: Transport>(
    ctx: &Ctx<'_, T>,
    kind: ResourceKind,
    id: &str,
    body: &Value,
    proj: &Projection,
) -> Result<Outcome, Error> {
    reapplied(ctx, kind, id, |mut journal| async move {
        let result = patch_inner(ctx, kind, id, body, proj, &mut journal).await;
        (journal, result)
    })
    .await
}

async fn patch_inner<T: Transport>(
    ctx: &Ctx<'_, T>,
    kind: ResourceKind,
    id: &str,
    body: &Value,
    proj: &Projection,
    journal: &mut Journal,
) -> Result<Outcome, Error> {
    let map = ctx.map(kind)?;
    let pid = ctx.parse_id(map, id)?;
    let ops = patch::parse_request(body)?;

    // Targeted membership changes: one call per member, no member list read.
    if uses_member_calls(map) && !ops.is_empty() {
        let targeted: Option<Vec<(members::Change, Vec<Value>)>> =
            ops.iter().map(member_op).collect();
        if let Some(changes) = targeted {
            let mut add = Vec::new();
            let mut remove = Vec::new();
            for (change, values) in changes {
                let ids = members::member_ids(ctx, &values)?;
                for m in ids {
                    // Operations apply in order: a later remove cancels an earlier add and vice versa.
                    if change == members::Change::Add {
                        remove.retain(|r: &PlatformId| r.text != m.text);
                        if !add.iter().any(|a: &PlatformId| a.text == m.text) {
                            add.push(m);
                        }
                    } else {
                        add.retain(|a: &PlatformId| a.text != m.text);
                        if !remove.iter().any(|r: &PlatformId| r.text == m.text) {
                            remove.push(m);
                        }
                    }
                }
            }
            let done = members::change(ctx, map, &pid, &add, &remove).await?;
            journal.members(&done);
            return patch_answer(ctx, kind, id, proj).await;
        }
    }

    let _held = ctx.lock(kind, &pid).await?;
    let current = ctx
        .read_current(map, &pid)
        .await?
        .ok_or_else(|| not_found(map, id))?;
    let old = &current.conv;
    let touches_members = ops.iter().any(|o| match &o.path {
        Some(p) => p.attr.name.eq_ignore_ascii_case("members"),
        None => o
            .value
            .as_ref()
            .and_then(|v| get_ci(v, "members"))
            .is_some(),
    });
    let mut before = old.scim.clone();
    let old_members = if touches_members && uses_member_calls(map) {
        let ids = members::fetch(ctx, map, &pid, true)
            .await?
            .unwrap_or_default();
        if !ids.is_empty() {
            before["members"] = Value::Array(
                ids.iter()
                    .map(|i| serde_json::json!({ "value": i }))
                    .collect(),
            );
        }
        Some(ids)
    } else {
        None
    };
    let opts = PatchOptions {
        upsert_filtered_replace: ctx.settings.upsert_filtered_replace,
    };
    let after = patch::apply(&before, &ops, &map.schema, &opts)?;
    check_unmapped(ctx, map, &after, &[])?;
    if matches!(map.deactivate, Deactivation::Delete) && active_of(&after) == Some(false) {
        return delete(ctx, kind, id).await;
    }
    let wanted = if kind == ResourceKind::Group {
        members::member_ids(ctx, &members_in(&after))?
    } else {
        Vec::new()
    };
    let old_embedded = scim_member_ids(&old.scim);
    let wanted = if is_embedded(map) && touches_members {
        members::known(ctx, &old_embedded, wanted).await?
    } else {
        wanted
    };
    let embedded = touches_members.then_some(wanted.as_slice());
    // Members first: their calls are undone if the write that follows fails.
    let done = match &old_members {
        Some(current) => {
            let (add, remove) = member_delta(ctx.member_id_type(), current, &wanted);
            members::change(ctx, map, &pid, &add, &remove).await?
        }
        None => Vec::new(),
    };
    let written_result = async {
        let conv = write_changes(ctx, map, &pid, &current, &after, embedded).await?;
        let toggled =
            toggle_active(ctx, map, &pid, active_of(&old.scim), active_of(&after)).await?;
        Ok::<(Converted, bool), Error>((conv, toggled))
    }
    .await;
    let conv = settle(ctx, map, &pid, &done, written_result).await?;
    journal.updated(kind, &old.scim, &conv.scim, &ctx.settings.audit);
    journal.members(&done);
    if is_embedded(map) && touches_members {
        journal.members(&embedded_done(ctx.member_id_type(), &old_embedded, &wanted));
    }
    if kind == ResourceKind::Group {
        return patch_answer(ctx, kind, id, proj).await;
    }
    let (res, etag) = ctx.finish(map, conv, None);
    Ok(Outcome::Ok {
        body: proj.apply(res, map),
        etag: Some(etag),
    })
}

/// What a successful group PATCH answers: 204, or the group as a GET would return it.
async fn patch_answer<T: Transport>(
    ctx: &Ctx<'_, T>,
    kind: ResourceKind,
    id: &str,
    proj: &Projection,
) -> Result<Outcome, Error> {
    match (kind, ctx.settings.group_patch_response) {
        (ResourceKind::Group, GroupPatchResponse::NoContent) => Ok(Outcome::NoContent),
        _ => read::get(ctx, kind, id, proj).await,
    }
}

/// `DELETE /{Resources}/{id}`.
pub async fn delete<T: Transport>(
    ctx: &Ctx<'_, T>,
    kind: ResourceKind,
    id: &str,
) -> Result<Outcome, Error> {
    let mut journal = Journal::new(kind, Attempt::Delete, Some(id));
    let result = delete_inner(ctx, kind, id).await;
    if result.is_ok() {
        journal.deleted();
    }
    journal.flush(ctx, result.as_ref().err());
    result
}

async fn delete_inner<T: Transport>(
    ctx: &Ctx<'_, T>,
    kind: ResourceKind,
    id: &str,
) -> Result<Outcome, Error> {
    let map = ctx.map(kind)?;
    let pid = ctx.parse_id(map, id)?;
    let op = map
        .delete
        .as_ref()
        .ok_or_else(|| unsupported(map, "deleting", "delete"))?;
    platform::execute(
        ctx.transport,
        ctx.mapping,
        op,
        &Vars {
            id: Some(&pid),
            member: None,
        },
        None,
        &format!("{} {id:?}", kind.name()),
    )
    .await?;
    Ok(Outcome::NoContent)
}
