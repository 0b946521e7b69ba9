//! Multi-step operations (`[[users.create.steps]]`): the steps' calls in order, each step's
//! outputs (`{steps.<name>.body.<field>}`, `.status`, `.header.<name>`) fed to the later ones,
//! and compensation when a step fails: the `undo` calls of the steps already done, in reverse,
//! each audited. Why compensation and not a transaction: docs/design/multi-step.md.

use serde_json::Value;

use crate::error::{Error, PlatformError};
use crate::mapping::model::{Op, ResourceMap, Steps};
use crate::mapping::platform_errors::{classify, success_error};
use crate::mapping::template::{StepOut, StepRef, Vars};
use crate::platform::calls::{self as platform, Transport};
use crate::platform::{Call, Reply};
use crate::scim::error::ScimError;
use crate::service::Ctx;
use crate::service::journal::{Action, Journal};

/// The steps of an operation that all succeeded: their replies, kept to undo them if what
/// follows the calls (reading the result, activation, member calls) fails.
#[derive(Debug)]
pub struct Ran<'m> {
    steps: &'m Steps,
    replies: Vec<Reply>,
}

impl Ran<'_> {
    /// The reply of the result step (`result`; the first step by default).
    pub fn result(&self) -> Option<&Reply> {
        self.replies.get(self.steps.result)
    }

    /// Undoes every step, last first (a later part of the request failed).
    pub async fn undo<T: Transport>(&self, ctx: &Ctx<'_, T>, map: &ResourceMap, j: &mut Journal) {
        compensate(ctx, map, self.steps, &self.replies, j).await;
    }
}

/// The value of a step output among the replies so far.
fn output(replies: &[Reply], r: &StepRef) -> Option<Value> {
    let reply = replies.get(r.step)?;
    match &r.out {
        StepOut::Status => Some(Value::from(reply.status.as_u16())),
        StepOut::Header(name) => reply
            .headers
            .get(name.as_str())
            .and_then(|v| v.to_str().ok())
            .map(|v| Value::String(v.to_owned())),
        StepOut::Body(field) => {
            let body = reply.json().ok().flatten()?;
            field.get(&body).cloned()
        }
    }
}

/// A step's call, its templates filled from the replies of the steps before it.
fn build(op: &Op, replies: &[Reply], body: Option<Value>) -> Result<Call, Error> {
    let values = |r: &StepRef| output(replies, r);
    let vars = Vars::default();
    // A missing output is the platform's doing: an earlier reply lacked what the mapping expects.
    let missing = |e: String| {
        Error::Platform(PlatformError::BadResponse(format!(
            "{}: {e} (an earlier step's reply does not hold it)",
            op.label
        )))
    };
    platform::build_with(op, &vars, &values, body, missing)
}

/// Sends one step's call (or undo); a failure status, or a success whose body a
/// `[[platform.errors]]` rule reports as a failure, is the mapped error.
async fn send<T: Transport>(
    ctx: &Ctx<'_, T>,
    map: &ResourceMap,
    op: &Op,
    replies: &[Reply],
    body: Option<Value>,
) -> Result<Reply, Error> {
    let call = build(op, replies, body)?;
    let reply = ctx.transport.send(&call).await?;
    if !platform::succeeded(op, &reply) {
        return Err(classify(
            &ctx.mapping.errors,
            &reply,
            map.kind.name(),
            op.label,
        ));
    }
    match success_error(&ctx.mapping.errors, &reply, op.label) {
        Some(e) => Err(e),
        None => Ok(reply),
    }
}

/// How compensation went.
#[derive(Debug, Default)]
struct Undone {
    /// Steps whose `undo` succeeded.
    undone: usize,
    /// Steps whose `undo` failed.
    failed: Vec<String>,
    /// Steps without an `undo`.
    missing: Vec<String>,
}

/// Runs the `undo` of each step that has a reply, last first; each is audited, a failure logged
/// at error level (the platform may now hold a partial resource).
async fn compensate<T: Transport>(
    ctx: &Ctx<'_, T>,
    map: &ResourceMap,
    steps: &Steps,
    replies: &[Reply],
    journal: &mut Journal,
) -> Undone {
    let mut out = Undone::default();
    for (step, _) in steps.steps.iter().zip(replies).rev() {
        let Some(undo) = &step.undo else {
            out.missing.push(step.name.clone());
            continue;
        };
        match crate::platform::budget::undoing(send(ctx, map, undo, replies, None)).await {
            Ok(_) => {
                journal.step(Action::StepUndone, step.call.label, None);
                out.undone += 1;
            }
            Err(e) => {
                tracing::error!(
                    step = step.call.label,
                    undo = undo.label,
                    error = %e,
                    "could not undo a step of a failed multi-step operation; the platform may hold a partial resource"
                );
                journal.step(Action::StepUndoFailed, step.call.label, Some(e));
                out.failed.push(step.name.clone());
            }
        }
    }
    out
}

/// The detail of a failed step for the client: which step, its cause, what compensation did.
fn detail(steps: &Steps, failed: usize, cause: &str, undone: &Undone) -> String {
    let total = steps.steps.len();
    let name = steps.steps.get(failed).map_or("", |s| s.name.as_str());
    let earlier = failed;
    let plural = |n: usize| if n == 1 { "step" } else { "steps" };
    let mut d = format!("step {} of {total} ({name}) failed: {cause}; ", failed + 1);
    if undone.failed.is_empty() && undone.missing.is_empty() {
        d.push_str(&format!(
            "the {earlier} earlier {} {} undone",
            plural(earlier),
            if earlier == 1 { "was" } else { "were" }
        ));
    } else {
        d.push_str(&format!(
            "{} of the {earlier} earlier {} undone",
            undone.undone,
            plural(earlier)
        ));
        if !undone.failed.is_empty() {
            d.push_str(&format!("; undoing {} failed", undone.failed.join(", ")));
        }
        if !undone.missing.is_empty() {
            d.push_str(&format!("; {} has no undo", undone.missing.join(", ")));
        }
        d.push_str(": the platform may hold a partial resource");
    }
    d
}

/// Runs the steps in order; `body` (the attribute-built body) goes to the first step without its
/// own `body`. When a step after the first fails, the earlier ones are undone and the client gets
/// the failing step's error with a detail naming it (a platform failure is 502). A first step's
/// failure is returned as it is: nothing was done.
pub async fn run<'m, T: Transport>(
    ctx: &Ctx<'_, T>,
    map: &ResourceMap,
    steps: &'m Steps,
    body: Value,
    journal: &mut Journal,
) -> Result<Ran<'m>, Error> {
    let mut body = Some(body);
    let mut replies: Vec<Reply> = Vec::with_capacity(steps.steps.len());
    for (i, step) in steps.steps.iter().enumerate() {
        let b = if steps.body_step == Some(i) {
            body.take()
        } else {
            None
        };
        match send(ctx, map, &step.call, &replies, b).await {
            Ok(reply) => {
                journal.step(Action::StepDone, step.call.label, None);
                replies.push(reply);
            }
            Err(e) if i == 0 => return Err(e),
            Err(e) => {
                tracing::warn!(step = step.call.label, error = %e, "a step of a multi-step operation failed; undoing the earlier steps");
                let undone = compensate(ctx, map, steps, &replies, journal).await;
                return Err(match e {
                    Error::Client(c) => {
                        let d = detail(steps, i, &c.detail, &undone);
                        Error::Client(ScimError::new(c.status, c.scim_type, d))
                    }
                    other => {
                        let cause = other.to_scim().detail;
                        Error::Platform(PlatformError::Step(detail(steps, i, &cause, &undone)))
                    }
                });
            }
        }
    }
    Ok(Ran { steps, replies })
}
