//! `scim-sidecar shadow-report FILE`: what a shadow run's record says a live run would have
//! changed: creates, updates by field, disables and enables, deletes, member changes. Plain text
//! for people, `--json` for machines.

use serde::Serialize;
use serde_json::Value;

use super::record::{Entry, Kind};

/// A record summarised.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// Writes recorded.
    pub writes: usize,
    /// Objects created.
    pub creates: Vec<Item>,
    /// Objects whose fields changed.
    pub updates: Vec<Item>,
    /// Objects deactivated.
    pub disables: Vec<Item>,
    /// Objects activated again.
    pub enables: Vec<Item>,
    /// Objects deleted.
    pub deletes: Vec<Item>,
    /// Members added to or removed from groups.
    pub members: Vec<MemberChange>,
    /// Writes of other operations.
    pub other: Vec<Item>,
}

/// One object a write touches.
#[derive(Debug, Serialize)]
pub struct Item {
    /// `users`, `groups`.
    pub resource: String,
    /// The platform id (simulated for objects the run created).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// userName or displayName, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Updates: the platform fields changed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    /// The mapped operation.
    pub operation: String,
    /// The SCIM request's id.
    pub request_id: String,
}

/// One member change.
#[derive(Debug, Serialize)]
pub struct MemberChange {
    /// The group's platform id.
    pub group: Option<String>,
    /// `added` or `removed`.
    pub change: &'static str,
    /// The member's platform id.
    pub member: Option<String>,
    /// The SCIM request's id.
    pub request_id: String,
}

/// Parses a record's text; a line that is not a record entry is an error naming its number.
pub fn parse(text: &str) -> Result<Vec<Entry>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str::<Entry>(l)
                .map_err(|e| format!("line {}: not a shadow record entry: {e}", i + 1))
        })
        .collect()
}

/// Summarises entries, in record order.
pub fn summarise(entries: &[Entry]) -> Report {
    let mut r = Report {
        writes: entries.len(),
        ..Report::default()
    };
    for e in entries {
        let item = || Item {
            resource: e.resource.clone(),
            id: e.id.clone(),
            name: e.name.clone(),
            fields: if e.kind == Kind::Update {
                e.changed.clone()
            } else {
                Vec::new()
            },
            operation: e.operation.clone(),
            request_id: e.request.request_id.clone(),
        };
        match e.kind {
            Kind::Create => r.creates.push(item()),
            Kind::Update => r.updates.push(item()),
            Kind::Disable => r.disables.push(item()),
            Kind::Enable => r.enables.push(item()),
            Kind::Delete => r.deletes.push(item()),
            Kind::Other => r.other.push(item()),
            Kind::MemberAdd | Kind::MemberRemove => r.members.push(MemberChange {
                group: e.id.clone(),
                change: if e.kind == Kind::MemberAdd {
                    "added"
                } else {
                    "removed"
                },
                member: e.member.clone(),
                request_id: e.request.request_id.clone(),
            }),
        }
    }
    r
}

impl Report {
    /// The report as JSON.
    pub fn json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The report as text.
    pub fn text(&self) -> String {
        let mut out = format!(
            "Shadow record: {} write{} recorded; a live run would have made these changes:\n",
            self.writes,
            if self.writes == 1 { "" } else { "s" }
        );
        let line = |i: &Item| {
            let mut s = format!(
                "  {} {}",
                i.resource,
                i.id.as_deref().unwrap_or("(id unknown)")
            );
            if let Some(n) = &i.name {
                s.push_str(&format!(" ({n})"));
            }
            if !i.fields.is_empty() {
                s.push_str(&format!(": {}", i.fields.join(", ")));
            }
            s.push_str(&format!(
                "    [{}, request {}]\n",
                i.operation, i.request_id
            ));
            s
        };
        for (title, items) in [
            ("Creates", &self.creates),
            ("Updates (fields changed)", &self.updates),
            ("Disables", &self.disables),
            ("Enables", &self.enables),
            ("Deletes", &self.deletes),
            ("Other writes", &self.other),
        ] {
            out.push_str(&format!("{title}: {}\n", items.len()));
            for i in items {
                out.push_str(&line(i));
            }
        }
        out.push_str(&format!("Member changes: {}\n", self.members.len()));
        for m in &self.members {
            out.push_str(&format!(
                "  group {}: {} member {}    [request {}]\n",
                m.group.as_deref().unwrap_or("(id unknown)"),
                m.change,
                m.member.as_deref().unwrap_or("(id unknown)"),
                m.request_id
            ));
        }
        out
    }
}
