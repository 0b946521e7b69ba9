//! The audit journal of one write request: the changes it made, turned into audit events (one
//! typed [`Action`] each) when the request ends.

use serde_json::{Map, Value};

use crate::error::Error;
use crate::mapping::convert::Converted;
use crate::platform::calls::Transport;
use crate::routes::ResourceKind;
use crate::service::{Ctx, members};

/// An audit event's kind; [`Action::as_str`] is its name in the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `user.created`
    UserCreated,
    /// `user.updated`
    UserUpdated,
    /// `user.enabled`
    UserEnabled,
    /// `user.disabled`
    UserDisabled,
    /// `user.deleted`
    UserDeleted,
    /// `group.created`
    GroupCreated,
    /// `group.updated`
    GroupUpdated,
    /// `group.renamed`
    GroupRenamed,
    /// `group.member_added`
    GroupMemberAdded,
    /// `group.member_removed`
    GroupMemberRemoved,
    /// `group.deleted`
    GroupDeleted,
    /// `step.done`: a step of a multi-step operation succeeded.
    StepDone,
    /// `step.undone`: a step was taken back (its `undo` ran) after a later step failed.
    StepUndone,
    /// `step.undo_failed`: a step's `undo` failed; the platform may hold a partial resource.
    StepUndoFailed,
}

impl Action {
    /// The event's name in the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::UserCreated => "user.created",
            Action::UserUpdated => "user.updated",
            Action::UserEnabled => "user.enabled",
            Action::UserDisabled => "user.disabled",
            Action::UserDeleted => "user.deleted",
            Action::GroupCreated => "group.created",
            Action::GroupUpdated => "group.updated",
            Action::GroupRenamed => "group.renamed",
            Action::GroupMemberAdded => "group.member_added",
            Action::GroupMemberRemoved => "group.member_removed",
            Action::GroupDeleted => "group.deleted",
            Action::StepDone => "step.done",
            Action::StepUndone => "step.undone",
            Action::StepUndoFailed => "step.undo_failed",
        }
    }
}

/// What a write request attempts: the event its failure is reported as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// POST.
    Create,
    /// PUT or PATCH.
    Update,
    /// DELETE.
    Delete,
}

/// The changes a request made, turned into audit events when it ends.
#[derive(Debug)]
pub struct Journal {
    /// The event a failure of the whole request is reported as.
    attempt: Action,
    /// The resource's id, once known.
    id: Option<String>,
    /// What was done.
    events: Vec<Entry>,
    /// The steps of a multi-step operation that ran or were undone: event, step call, the
    /// failure of an undo.
    steps: Vec<(Action, &'static str, Option<Error>)>,
}

/// One audit event to emit: its action, the member it names, the attributes it changed.
type Entry = (Action, Option<String>, Option<Map<String, Value>>);

/// A resource's `active`, when it is a boolean (the attribute name matched case-insensitively).
pub fn active_of(scim: &Value) -> Option<bool> {
    scim.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("active"))
        .and_then(|(_, v)| v.as_bool())
}

impl Journal {
    /// The journal of a request attempting `attempt` on a resource of `kind` (`id` once known).
    pub fn new(kind: ResourceKind, attempt: Attempt, id: Option<&str>) -> Journal {
        let attempt = match (kind, attempt) {
            (ResourceKind::User, Attempt::Create) => Action::UserCreated,
            (ResourceKind::User, Attempt::Delete) => Action::UserDeleted,
            (ResourceKind::User, Attempt::Update) => Action::UserUpdated,
            (ResourceKind::Group, Attempt::Create) => Action::GroupCreated,
            (ResourceKind::Group, Attempt::Delete) => Action::GroupDeleted,
            (ResourceKind::Group, Attempt::Update) => Action::GroupUpdated,
        };
        Journal {
            attempt,
            id: id.map(str::to_owned),
            events: Vec::new(),
            steps: Vec::new(),
        }
    }

    /// A step of a multi-step operation ran ([`Action::StepDone`]) or was undone
    /// ([`Action::StepUndone`], [`Action::StepUndoFailed`] with its error); `label` names it.
    pub fn step(&mut self, event: Action, label: &'static str, failure: Option<Error>) {
        self.steps.push((event, label, failure));
    }

    /// The resource was created.
    pub fn created(&mut self, conv: &Converted, policy: &crate::audit::Policy) {
        self.id = Some(conv.id.text.clone());
        let c = crate::audit::changes(None, &conv.scim, policy);
        self.events.push((self.attempt, None, Some(c)));
    }

    /// The resource changed from `before` to `after`.
    pub fn updated(
        &mut self,
        kind: ResourceKind,
        before: &Value,
        after: &Value,
        policy: &crate::audit::Policy,
    ) {
        let mut c = crate::audit::changes(Some(before), after, policy);
        match kind {
            ResourceKind::User => {
                if let Some(v) = c.remove("active") {
                    let event = if active_of(after) == Some(false) {
                        Action::UserDisabled
                    } else {
                        Action::UserEnabled
                    };
                    let mut only = Map::new();
                    only.insert("active".to_owned(), v);
                    self.events.push((event, None, Some(only)));
                }
                if !c.is_empty() {
                    self.events.push((Action::UserUpdated, None, Some(c)));
                }
            }
            ResourceKind::Group => {
                if let Some(v) = c.remove("displayName") {
                    let mut only = Map::new();
                    only.insert("displayName".to_owned(), v);
                    self.events.push((Action::GroupRenamed, None, Some(only)));
                }
                if !c.is_empty() {
                    self.events.push((Action::GroupUpdated, None, Some(c)));
                }
            }
        }
    }

    /// Members were added or removed.
    pub fn members(&mut self, done: &members::Done) {
        for (change, m) in done {
            let event = match change {
                members::Change::Add => Action::GroupMemberAdded,
                members::Change::Remove => Action::GroupMemberRemoved,
            };
            self.events.push((event, Some(m.text.clone()), None));
        }
    }

    /// The resource was deleted.
    pub fn deleted(&mut self) {
        self.events.push((self.attempt, None, None));
    }

    /// Emits what was done, then the failure of the request, if it failed.
    pub fn flush<T: Transport>(self, ctx: &Ctx<'_, T>, err: Option<&Error>) {
        let policy = &ctx.settings.audit;
        let id = self.id.as_deref();
        for (event, step, failure) in &self.steps {
            let e = crate::audit::Event {
                event: event.as_str(),
                scim_id: id,
                platform_id: id,
                member: None,
                changes: None,
                step: Some(step),
            };
            crate::audit::emit(ctx.audit, policy, &e, failure.as_ref().map_or(Ok(()), Err));
        }
        for (event, member, changes) in &self.events {
            let e = crate::audit::Event {
                event: event.as_str(),
                scim_id: id,
                platform_id: id,
                member: member.as_deref(),
                changes: changes.as_ref(),
                step: None,
            };
            crate::audit::emit(ctx.audit, policy, &e, Ok(()));
        }
        if let Some(err) = err {
            let e = crate::audit::Event {
                event: self.attempt.as_str(),
                scim_id: id,
                platform_id: id,
                member: None,
                changes: None,
                step: None,
            };
            crate::audit::emit(ctx.audit, policy, &e, Err(err));
        }
    }
}
