//! The demo platform's URL table: a request path resolved to a [`Route`].

use std::borrow::Cow;

/// A request path, resolved. Ids are `None` when the (percent-decoded) segment is not a canonical
/// decimal number, which every handler answers with 404.
///
/// Literal segments are compared on the raw path, so `..`, `.`, `%2F` or an encoded literal can
/// never steer a request to another route: such a path either matches nothing or puts the odd
/// segment where an id goes, where it is not a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Route {
    Users,
    User(Option<u64>),
    Groups,
    Group(Option<u64>),
    Members(Option<u64>),
    Member(Option<u64>, Option<u64>),
    /// `/oauth/token`, the OAuth2 token endpoint (when enabled).
    Token,
    /// `/api/v1/answer/{status}`: answers any method with that status and the request's body
    /// (for tests of failing calls and of success answers that carry an error).
    Answer(Option<u64>),
    Unmatched,
}

impl Route {
    pub(super) fn parse(path: &str) -> Route {
        if path == "/oauth/token" {
            return Route::Token;
        }
        let Some(rest) = path.strip_prefix("/api/v1/") else {
            return Route::Unmatched;
        };
        let mut segments = rest.split('/');
        match (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ) {
            (Some("answer"), Some(status), None, ..) => Route::Answer(parse_id(status)),
            (Some("users"), None, ..) => Route::Users,
            (Some("users"), Some(id), None, ..) => Route::User(parse_id(id)),
            (Some("groups"), None, ..) => Route::Groups,
            (Some("groups"), Some(id), None, ..) => Route::Group(parse_id(id)),
            (Some("groups"), Some(id), Some("members"), None, _) => Route::Members(parse_id(id)),
            (Some("groups"), Some(group), Some("members"), Some(user), None) => {
                Route::Member(parse_id(group), parse_id(user))
            }
            _ => Route::Unmatched,
        }
    }

    pub(super) fn pattern_index(self) -> usize {
        match self {
            Route::Users => 0,
            Route::User(_) => 1,
            Route::Groups => 2,
            Route::Group(_) => 3,
            Route::Members(_) => 4,
            Route::Member(..) => 5,
            Route::Token => 6,
            Route::Unmatched => 7,
            Route::Answer(_) => 8,
        }
    }
}

/// A percent-decoded path segment as an id: ASCII digits without sign or leading zero.
pub(super) fn parse_id(segment: &str) -> Option<u64> {
    let decoded: Cow<'_, [u8]> = percent_encoding::percent_decode_str(segment).into();
    match &*decoded {
        [] | [b'0', _, ..] => None,
        digits => digits.iter().try_fold(0u64, |id, &b| {
            if b.is_ascii_digit() {
                id.checked_mul(10)?.checked_add(u64::from(b - b'0'))
            } else {
                None
            }
        }),
    }
}
