//! SCIM filters (RFC 7644 §3.4.2.2): a linear-time parser, a canonical printer, schema checks and
//! evaluation against a resource's JSON.
//!
//! Grammar accepted (the RFC's ABNF, made precise where it is loose):
//!
//! ```text
//! filter    = or
//! or        = and *( "or" and )
//! and       = unary *( "and" unary )
//! unary     = "not" *WS "(" filter ")" / "(" filter ")" / attrExp / valuePath
//! valuePath = attrPath "[" valFilter "]" [ "." ATTRNAME ( "pr" / compareOp compValue ) ]
//! attrExp   = attrPath ( "pr" / compareOp compValue )
//! ```
//!
//! Choices where the RFC is silent or loose, made deliberately:
//! - Keywords (`and`, `or`, `not`, `pr`, operators, `true`/`false`/`null`) are case-insensitive;
//!   attribute names keep the spelling given and are resolved case-insensitively via the schema.
//! - Whitespace is SP, HTAB, CR or LF, any number of them. It is required only where two words
//!   would otherwise run together (`userName eq"x"` is accepted; `userNameeq` is one word).
//! - `not` requires parentheses, as the ABNF does (`not (x)` and `not(x)` both parse; `not x` is an
//!   error). A word `not` followed by an operator is an attribute named `not`.
//! - Value filters do not nest (`valFilter` in the ABNF has no `valuePath`), and a value filter
//!   follows an attribute, not a sub-attribute (`name.givenName[...]` is rejected).
//! - `emails[type eq "work"].value eq "x"` (sent by Entra ID) is [`Filter::ValuePath`] with
//!   `then = Some(..)`: it matches when some element satisfies the bracketed filter AND that same
//!   element's `value` satisfies `eq "x"`. It prints back in the same form.
//! - Inside a value filter on a multi-valued attribute of simple type (e.g. `schemas`), the
//!   element itself is named `value`: `schemas[value eq "urn:..."]`.
//! - Literals are JSON values. Numbers are parsed with std's correctly rounded parser (integers
//!   that fit stay exact) so that the canonical text parses back to the identical number.
//!   [`FilterOptions::unquoted_strings`] also reads other bare words as strings.
//! - Limits: input longer than [`MAX_FILTER_LEN`] bytes, or nesting (parentheses, `not`, value
//!   filters) deeper than [`MAX_DEPTH`], is rejected. The parser is recursive descent without
//!   backtracking; recursion happens only on nesting, which is capped before recursing, so parse
//!   time is linear and stack use bounded. `and`/`or` chains are built iteratively; the resulting
//!   tree is at most `MAX_FILTER_LEN / 8` levels deep. The canonical text can be longer than the
//!   input (spaces, quotes around unquoted strings, expanded numbers such as `1e5` → `100000.0`),
//!   so a filter close to the limit may print past it.
//!
//! Evaluation ([`matches()`]) assumes [`check`] passed but never panics on any JSON. Semantics:
//! multi-valued attributes match when ANY value matches (RFC); a complex attribute compared without
//! a sub-attribute compares its `value` sub-attribute; `pr` means assigned and non-empty; an
//! unassigned attribute makes every comparison false except `ne`, which is true (the values are
//! "not identical"); `eq null` is true exactly when `pr` is false, and `ne null` when it is true.
//! A value path selects nothing when the attribute is unassigned, so it is then false.
//!
//! Comparisons: strings compare exactly when the attribute is `caseExact`, and always for
//! `reference` and `binary` attributes (RFC 7643 §2.3.6–7 make both case exact); otherwise
//! caselessly, with an allocation-free ASCII path and, for other text, the Unicode lowercase
//! mapping of each character (final `ς` folded to `σ`; no full case folding, so `ß` ≠ `ss`).
//! `gt`/`ge`/`lt`/`le` on strings are lexicographic by (lowercased) code points. `dateTime`
//! values compare as instants when both sides parse, else as strings. Numbers compare
//! numerically, integers exactly. A literal of another JSON type than the value never matches
//! (and is "not identical" for `ne`).

mod ast;
mod check;
mod eval;
mod parse;
mod print;

pub use crate::scim::syntax::MAX_FILTER_LEN;
pub use ast::{CompareOp, ElementTest, Filter, Literal, Site, Test};
pub use check::check;
pub(crate) use check::check_element_filter;
pub(crate) use eval::element_matches;
pub use eval::matches;
pub use parse::{FilterOptions, MAX_DEPTH, PatchPath, parse, parse_with};
pub use print::same_shape;

#[cfg(test)]
mod tests;
