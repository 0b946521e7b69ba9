//! `[*.deactivate]` (how `active` reaches the platform) and `[groups.members]` (where
//! membership lives).

use super::*;

impl Compiler<'_> {
    pub(super) fn deactivation(
        &mut self,
        d: raw::Deactivate,
        attributes: &mut [AttrMap],
        has_delete: bool,
    ) -> Deactivation {
        match d.mode.as_deref().unwrap_or("field") {
            "field" => Deactivation::Field,
            "calls" => {
                let deactivate = self.op(ResourceKind::User, &DEACTIVATE, d.deactivate);
                let activate = self.op(ResourceKind::User, &ACTIVATE, d.activate);
                match (deactivate, activate) {
                    (Some(deactivate), Some(activate)) => {
                        // `active` is read through its mapping but never written into bodies.
                        for m in attributes.iter_mut() {
                            if m.extension.is_none() && m.attr == "active" {
                                m.write = None;
                                m.required = false;
                            }
                        }
                        Deactivation::Calls(Box::new(CallPair {
                            deactivate,
                            activate,
                        }))
                    }
                    _ => {
                        self.err("users.deactivate", q("calls"), "mode = \"calls\" needs both [users.deactivate.deactivate] and [users.deactivate.activate]");
                        Deactivation::Field
                    }
                }
            }
            "delete" => {
                if !has_delete {
                    self.err("users.deactivate.mode", q("delete"), "needs [users.delete]");
                }
                if attributes
                    .iter()
                    .any(|m| m.extension.is_none() && m.attr == "active")
                {
                    self.err("users.deactivate.mode", q("delete"), "with deactivation by delete, every existing user is active: remove the `active` attribute mapping");
                }
                Deactivation::Delete
            }
            other => {
                self.err(
                    "users.deactivate.mode",
                    q(other),
                    "expected \"field\", \"calls\" or \"delete\"",
                );
                Deactivation::Field
            }
        }
    }

    /// Member-call answer rules; `default` (a status, 0 for none) when the list is empty.
    fn answers(&mut self, key: &str, rules: Vec<raw::AnswerRule>, default: u16) -> Vec<AnswerRule> {
        if rules.is_empty() {
            return (default != 0)
                .then_some(AnswerRule {
                    status: default,
                    when: None,
                })
                .into_iter()
                .collect();
        }
        let mut out = Vec::with_capacity(rules.len());
        for (i, r) in rules.into_iter().enumerate() {
            let key = format!("{key}[{i}]");
            let (status, when) = match r {
                raw::AnswerRule::Status(s) => (s, None),
                raw::AnswerRule::Rule(c) => {
                    let when = match (c.when, c.equals) {
                        (None, None) => None,
                        (Some(w), Some(v)) => {
                            self.json_path(&format!("{key}.when"), &w).map(|p| (p, v))
                        }
                        (Some(_), None) => {
                            self.err(
                                format!("{key}.equals"),
                                None,
                                "missing; `when` needs the value to compare with",
                            );
                            None
                        }
                        (None, Some(_)) => {
                            self.err(
                                format!("{key}.when"),
                                None,
                                "missing; `equals` needs a JSONPath into the platform's answer",
                            );
                            None
                        }
                    };
                    (c.status, when)
                }
            };
            if !(100..=599).contains(&status) {
                self.err(&key, Some(status.to_string()), "not an HTTP status");
                continue;
            }
            out.push(AnswerRule { status, when });
        }
        out
    }

    pub(super) fn members(&mut self, m: raw::Members, group_writable: bool) -> Option<MemberSpec> {
        let mode = m.mode.as_deref().unwrap_or("calls");
        match mode {
            "calls" => {
                let list = match m.list {
                    Some(l) => self.list(
                        ResourceKind::Group,
                        "groups.members.list",
                        "members.list",
                        l,
                        &[Var::Id],
                        true,
                    ),
                    None => {
                        self.err("groups.members.list", None, "missing; the member list call, e.g. path = \"/api/v1/groups/{id}/members\"");
                        None
                    }
                };
                let add = self.op(ResourceKind::Group, &MEMBERS_ADD, m.add);
                let remove = self.op(ResourceKind::Group, &MEMBERS_REMOVE, m.remove);
                for (name, op) in [("add", &add), ("remove", &remove)] {
                    match op {
                        None => self.err(
                            format!("groups.members.{name}"),
                            None,
                            "missing; mode = \"calls\" needs list, add and remove",
                        ),
                        Some(op) if !op.path.uses(Var::Member) && op.body.is_none() => self.err(
                            format!("groups.members.{name}"),
                            None,
                            "name the member with {member}, in the path or in a `body` template",
                        ),
                        Some(_) => {}
                    }
                }
                let already_member =
                    self.answers("groups.members.already_member", m.already_member, 409);
                let not_member = self.answers("groups.members.not_member", m.not_member, 404);
                let unknown_member =
                    self.answers("groups.members.unknown_member", m.unknown_member, 0);
                Some(MemberSpec::Calls(Box::new(MemberCalls {
                    list: list?,
                    add: add?,
                    remove: remove?,
                    already_member,
                    not_member,
                    unknown_member,
                    verify_group: m.verify_group.unwrap_or(true),
                })))
            }
            "embedded" => {
                if !group_writable {
                    self.err("groups.members.mode", q("embedded"), "embedded members are written with the group: needs [groups.update] or [groups.replace]");
                }
                let field = match m.field.as_deref() {
                    Some(f) => self.field("groups.members.field", f),
                    None => {
                        self.err(
                            "groups.members.field",
                            None,
                            "missing; the group field holding the member array",
                        );
                        None
                    }
                };
                let item_field = m
                    .item_field
                    .as_deref()
                    .and_then(|f| self.field("groups.members.item_field", f));
                Some(MemberSpec::Embedded {
                    field: field?,
                    item_field,
                })
            }
            "on_user" => {
                let field = match m.user_field.as_deref() {
                    Some(f) => self.field("groups.members.user_field", f),
                    None => {
                        self.err(
                            "groups.members.user_field",
                            None,
                            "missing; the user field holding the user's group ids",
                        );
                        None
                    }
                };
                let Some(param) = m.param else {
                    self.err(
                        "groups.members.param",
                        None,
                        "missing; the users-list query parameter selecting a group's members",
                    );
                    return None;
                };
                Some(MemberSpec::OnUser {
                    field: field?,
                    param,
                })
            }
            other => {
                self.err(
                    "groups.members.mode",
                    q(other),
                    "expected \"calls\", \"embedded\" or \"on_user\"",
                );
                None
            }
        }
    }
}
