//! PATCH (RFC 7644 §3.5.2): parsing the strict RFC `PatchOp` body and applying its operations to
//! a resource atomically.
//!
//! [`parse_request`] accepts only the RFC form; a separate normalisation stage turns Entra ID's
//! shapes (capitalised `op`s, `remove` with a `value`, string booleans, ...) into it first.
//!
//! [`apply`] works on a copy, in order, and returns either the whole result or the first error, so
//! a failing operation leaves nothing applied (§3.5.2: "SHALL be treated as atomic"). Errors name
//! the operation as `Operations[i]` with a 0-based `i` (the JSON array index) and its path.
//!
//! Semantics follow §3.5.2.1–3, with these decisions where the RFC is silent or loose:
//! - **Path-less add/replace**: each member of the value object is handled as if it were an
//!   operation on that attribute. Members are attribute names, URN-qualified names, dotted
//!   `attr.sub` names, or an extension URN holding an object of that extension's attributes.
//!   An unknown member is 400 `invalidValue` (Table 9: the value is not compatible with the
//!   resource); an unknown attribute in a `path` is 400 `invalidPath`. `schemas` members are
//!   accepted when they name this resource type's schemas and otherwise ignored: `schemas` is
//!   recomputed from the extensions present. A `path` of `schemas` is 400 `mutability`.
//! - **readOnly**: a path naming a readOnly attribute or sub-attribute (`id`, `meta`, `groups`,
//!   `members.display`, ...) is 400 `mutability`. In a path-less value, a readOnly attribute is
//!   tolerated when it equals the current value (clients echo `id`), else `mutability`.
//!   readOnly sub-attributes inside a value (`members[].display` in the RFC's own examples) are
//!   ignored, as RFC 7644 §3.3/§3.5.1 do for POST/PUT; a filtered whole-element replace keeps the
//!   element's readOnly sub-attributes.
//! - **immutable**: may be set while unassigned; a different value afterwards is `mutability`.
//!   For sub-attributes of multi-valued attributes this applies to existing elements modified
//!   through a filter or merged by `add`.
//! - **required**: removing (or replacing with null/empty) a required attribute or sub-attribute
//!   is 400 `mutability` (§3.5.2.2, last paragraph).
//! - **null**: a `replace` with a `null` value unassigns, like `remove` (RFC 7643 §2.5); an `add`
//!   needs a non-null value (400 `invalidValue`). `null` members inside objects unassign.
//! - **Single values for multi-valued attributes** are accepted and wrapped in an array.
//! - **Complex single-valued**: add and replace merge the given sub-attributes and leave the
//!   others (§3.5.2.3).
//! - **Multi-valued add** appends, except that a value already present is merged instead of
//!   duplicated: for attributes with a `value` sub-attribute, "already present" means an element
//!   with an equal `value` whose `type` (when both carry one) is equal; otherwise an identical
//!   element. Replace without a filter replaces the whole set.
//! - **Value filters**: add merges the value into each matched element (or sets the path's
//!   sub-attribute); replace replaces each matched element whole (or sets the sub-attribute);
//!   remove removes matched elements (or their sub-attribute; an element left empty goes too).
//!   `attr.sub` without a filter addresses that sub-attribute of every element.
//!   - add matching nothing creates an element from the filter's `eq` comparisons plus the value
//!     (`emails[type eq "work"].value` + `"x"` → `{"type":"work","value":"x"}`) when the filter is
//!     a conjunction of `eq` comparisons with non-null values; otherwise 400 `noTarget`;
//!   - replace matching nothing is 400 `noTarget` (§3.5.2.3), or behaves like that add with
//!     [`PatchOptions::upsert_filtered_replace`];
//!   - remove matching nothing (or of an unassigned attribute) succeeds without change: the RFC
//!     only mandates `noTarget` for replace, and idempotent removal is what provisioning clients
//!     retrying a membership change need.
//!   - value filters on multi-valued attributes of simple type (e.g. `schemas`) select elements
//!     by `value` and are supported by remove only.
//! - **primary**: writing `primary: true` on one element sets it to `false` on the others
//!   (§3.5.2); one operation writing two primary values is 400 `invalidValue`.
//! - A `path` naming a whole extension (its URN) addresses the extension object: add/replace take
//!   an object of its attributes (as in a path-less value), remove unassigns all of them.
//! - A multi-valued attribute left empty is removed. Keys are written in the schema's spelling and
//!   found case-insensitively (renamed when written). Writing an extension attribute adds the
//!   extension URN to `schemas`; removing its last attribute removes the object and the URN.

mod apply;
mod op;
mod parse;
mod values;

pub use apply::apply;
pub use op::{MAX_OPERATIONS, PatchOp, PatchOpKind, PatchOptions};
pub use parse::parse_request;

#[cfg(test)]
mod tests;
