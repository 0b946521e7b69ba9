//! The parsed form of a PATCH request: operations, their kinds, and the switches of `apply`.

use crate::scim::filter::PatchPath;
use serde_json::Value;

/// Most operations accepted in one PATCH request.
pub const MAX_OPERATIONS: usize = 1000;

/// A PATCH operation kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PatchOpKind {
    /// `add`.
    Add,
    /// `replace`.
    Replace,
    /// `remove`.
    Remove,
}

impl PatchOpKind {
    /// The RFC keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            PatchOpKind::Add => "add",
            PatchOpKind::Replace => "replace",
            PatchOpKind::Remove => "remove",
        }
    }
}

/// One PATCH operation.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOp {
    /// What to do.
    pub op: PatchOpKind,
    /// The target; `None` means the resource itself (add/replace only).
    pub path: Option<PatchPath>,
    /// The value (required for add/replace; absent or null for remove).
    pub value: Option<Value>,
}

/// Behaviour switches for `apply`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatchOptions {
    /// A filtered `replace` that matches nothing behaves like `add` (creating the element)
    /// instead of failing with `noTarget`.
    pub upsert_filtered_replace: bool,
}
