//! What the filter and path parsers share: the input length limit and a syntax error at a byte
//! position (turned into a 400 naming that position).

use crate::scim::error::{ScimError, ScimType};

/// Longest filter (or attribute or PATCH path) accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 4096;

/// A syntax or schema error at a byte position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub(crate) pos: usize,
    pub(crate) msg: String,
}

impl SyntaxError {
    pub(crate) fn new(pos: usize, msg: impl Into<String>) -> Self {
        SyntaxError {
            pos,
            msg: msg.into(),
        }
    }

    /// A 400 with `scim_type`: "invalid {what} at position {pos}: {msg}".
    pub(crate) fn into_scim(self, scim_type: ScimType, what: &str) -> ScimError {
        ScimError::bad_request(
            scim_type,
            format!("invalid {what} at position {}: {}", self.pos, self.msg),
        )
    }
}
