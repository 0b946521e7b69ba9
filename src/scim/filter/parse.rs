//! The filter parser: recursive descent over bytes, linear time, bounded depth; also PATCH paths
//! (`attrPath[valFilter].sub`), which need the value-filter grammar.

use super::ast::{CompareOp, ElementTest, Filter, Literal, Test};
use crate::scim::error::{ScimError, ScimType};
use crate::scim::path::AttrPath;
use crate::scim::schema::is_attr_name;
use crate::scim::syntax::{MAX_FILTER_LEN, SyntaxError};
use crate::scim::value::excerpt;
use serde_json::Number;

/// Deepest nesting of parentheses, `not` and value filters accepted.
pub const MAX_DEPTH: usize = 32;

/// Parser options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterOptions {
    /// Read a bare word that is not `true`/`false`/`null`/a number as a string
    /// (`externalId eq jyoung`, as some Entra ID documentation sends).
    pub unquoted_strings: bool,
}

/// Parses a filter with default options.
pub fn parse(input: &str) -> Result<Filter, ScimError> {
    parse_with(input, &FilterOptions::default())
}

/// Parses a filter. Errors are 400 `invalidFilter` naming the byte position, what was expected and
/// what was found.
pub fn parse_with(input: &str, opts: &FilterOptions) -> Result<Filter, ScimError> {
    if input.len() > MAX_FILTER_LEN {
        return Err(ScimError::invalid_filter(format!(
            "the filter is {} bytes long; the limit is {MAX_FILTER_LEN}",
            input.len()
        )));
    }
    Parser::new(input, opts)
        .whole_filter()
        .map_err(|e| e.into_scim(ScimType::InvalidFilter, "filter"))
}

impl std::str::FromStr for Filter {
    type Err = ScimError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
    }
}

/// A PATCH operation path: `attrPath / valuePath [subAttr]` (RFC 7644 §3.5.2).
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// The attribute (possibly with a sub-attribute when there is no filter).
    pub attr: AttrPath,
    /// The value selection filter in `[...]`, relative to the attribute's elements.
    pub filter: Option<Filter>,
    /// The sub-attribute after `]`.
    pub sub: Option<String>,
}

impl PatchPath {
    /// Parses a PATCH path; errors are 400 `invalidPath` naming the position.
    pub fn parse(s: &str) -> Result<PatchPath, ScimError> {
        PatchPath::parse_with(s, &FilterOptions::default())
    }

    /// Parses a PATCH path with filter options for the value filter.
    pub fn parse_with(s: &str, opts: &FilterOptions) -> Result<PatchPath, ScimError> {
        if s.len() > MAX_FILTER_LEN {
            return Err(ScimError::invalid_path(format!(
                "the path is {} bytes long; the limit is {MAX_FILTER_LEN}",
                s.len()
            )));
        }
        Parser::new(s, opts)
            .patch_path()
            .map_err(|e| e.into_scim(ScimType::InvalidPath, "path"))
    }

    /// The sub-attribute this path targets: `attr.sub` or `attr[filter].sub`.
    pub fn target_sub(&self) -> Option<&str> {
        self.sub.as_deref().or(self.attr.sub.as_deref())
    }
}

impl std::str::FromStr for PatchPath {
    type Err = ScimError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PatchPath::parse(s)
    }
}

/// Parses a JSON number (RFC 8259 §6 grammar). Integers that fit are kept exact; everything else
/// becomes the correctly rounded `f64` (std's parser), so that printing (shortest round-trip form)
/// and parsing again always gives back the same number. serde_json's default float parser does
/// not promise that without its `float_roundtrip` feature.
pub(crate) fn json_number(w: &str) -> Option<Number> {
    let b = w.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    let int_start = i;
    let int_len = digits(&mut i);
    if int_len == 0 || (int_len > 1 && b.get(int_start) == Some(&b'0')) {
        return None;
    }
    let mut integer = true;
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return None;
        }
        integer = false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return None;
        }
        integer = false;
    }
    if i != b.len() {
        return None;
    }
    if integer {
        if let Ok(n) = w.parse::<u64>() {
            return Some(n.into());
        }
        if let Ok(n) = w.parse::<i64>() {
            return Some(n.into());
        }
    }
    w.parse::<f64>().ok().and_then(Number::from_f64)
}

/// A character of an unquoted value ([`FilterOptions::unquoted_strings`], Entra quirk 18: the
/// tutorial's `externalId eq jyoung`): letters, digits and the punctuation of user names, e-mail
/// addresses, GUIDs and UPNs (`#EXT#`). Not quotes, braces, commas or backslashes, so a
/// single-quoted string or a JSON object is not read as a string.
fn unquoted_char(c: char) -> bool {
    c.is_alphanumeric() || "._-+@#$%&*/=?^~!|:'".contains(c)
}

fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_delim(c: u8) -> bool {
    is_ws(c) || matches!(c, b'(' | b')' | b'[' | b']' | b'"')
}

const EXPECT_OPERATOR: &str = "expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr)";
const EXPECT_TERM: &str = "expected an attribute path, \"not\" or \"(\"";

/// Where the expression being parsed ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Close {
    End,
    Paren,
    Bracket,
}

impl Close {
    fn expected(self) -> &'static str {
        match self {
            Close::End => "expected \"and\", \"or\" or the end of the filter",
            Close::Paren => "expected \"and\", \"or\" or \")\"",
            Close::Bracket => "expected \"and\", \"or\" or \"]\"",
        }
    }
}

/// Recursive-descent parser over bytes; words are maximal runs of non-delimiter bytes, so slicing
/// at word boundaries is always at UTF-8 character boundaries (delimiters are ASCII).
pub(crate) struct Parser<'s> {
    src: &'s str,
    b: &'s [u8],
    pos: usize,
    unquoted: bool,
}

impl<'s> Parser<'s> {
    pub(crate) fn new(src: &'s str, opts: &FilterOptions) -> Self {
        Parser {
            src,
            b: src.as_bytes(),
            pos: 0,
            unquoted: opts.unquoted_strings,
        }
    }

    fn skip_ws(&mut self) {
        while self.b.get(self.pos).is_some_and(|&c| is_ws(c)) {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn peek_word(&self) -> &'s str {
        let rest = self.b.get(self.pos..).unwrap_or_default();
        let len = rest.iter().position(|&c| is_delim(c)).unwrap_or(rest.len());
        self.src.get(self.pos..self.pos + len).unwrap_or_default()
    }

    fn word(&mut self) -> &'s str {
        let w = self.peek_word();
        self.pos += w.len();
        w
    }

    /// What is at the current position, for "found ..." in messages.
    fn found(&self) -> String {
        match self.peek() {
            None => "the end of the input".to_owned(),
            Some(b'"') => "a string".to_owned(),
            Some(c) if is_delim(c) => format!("\"{}\"", char::from(c)),
            Some(_) => format!("{:?}", excerpt(self.peek_word(), 40)),
        }
    }

    fn error(&self, expected: &str) -> SyntaxError {
        SyntaxError::new(self.pos, format!("{expected}, found {}", self.found()))
    }

    fn enter(&self, depth: usize) -> Result<(), SyntaxError> {
        if depth >= MAX_DEPTH {
            return Err(SyntaxError::new(
                self.pos,
                format!(
                    "the filter nests more than {MAX_DEPTH} levels of parentheses, \"not\" and value filters"
                ),
            ));
        }
        Ok(())
    }

    /// Consumes the keyword `kw` (case-insensitive) if it is the next word.
    fn keyword(&mut self, kw: &str) -> bool {
        self.skip_ws();
        let w = self.peek_word();
        if w.eq_ignore_ascii_case(kw) {
            self.pos += w.len();
            true
        } else {
            false
        }
    }

    fn whole_filter(&mut self) -> Result<Filter, SyntaxError> {
        let f = self.or_expr(0, false)?;
        self.close(Close::End)?;
        Ok(f)
    }

    fn close(&mut self, close: Close) -> Result<(), SyntaxError> {
        self.skip_ws();
        let want = match close {
            Close::End => None,
            Close::Paren => Some(b')'),
            Close::Bracket => Some(b']'),
        };
        if self.peek() == want {
            self.pos += usize::from(want.is_some());
            Ok(())
        } else {
            Err(self.error(close.expected()))
        }
    }

    fn or_expr(&mut self, depth: usize, in_value_filter: bool) -> Result<Filter, SyntaxError> {
        let mut left = self.and_expr(depth, in_value_filter)?;
        while self.keyword("or") {
            let right = self.and_expr(depth, in_value_filter)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_expr(&mut self, depth: usize, in_value_filter: bool) -> Result<Filter, SyntaxError> {
        let mut left = self.unary(depth, in_value_filter)?;
        while self.keyword("and") {
            let right = self.unary(depth, in_value_filter)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn group(&mut self, depth: usize, in_value_filter: bool) -> Result<Filter, SyntaxError> {
        self.enter(depth)?;
        self.pos += 1; // '('
        let inner = self.or_expr(depth + 1, in_value_filter)?;
        self.close(Close::Paren)?;
        Ok(inner)
    }

    fn unary(&mut self, depth: usize, in_value_filter: bool) -> Result<Filter, SyntaxError> {
        self.skip_ws();
        match self.peek() {
            Some(b'(') => return self.group(depth, in_value_filter),
            None => return Err(self.error(EXPECT_TERM)),
            Some(c) if is_delim(c) => return Err(self.error(EXPECT_TERM)),
            Some(_) => {}
        }
        let w = self.peek_word();
        if w.eq_ignore_ascii_case("not") {
            let start = self.pos;
            self.pos += w.len();
            self.skip_ws();
            if self.peek() == Some(b'(') {
                return Ok(Filter::Not(Box::new(self.group(depth, in_value_filter)?)));
            }
            let next = self.peek_word();
            let attribute_named_not = (self.pos == start + w.len() && self.peek() == Some(b'['))
                || next.eq_ignore_ascii_case("pr")
                || CompareOp::parse(next).is_some();
            if !attribute_named_not {
                return Err(
                    self.error("expected \"(\" after \"not\" (the syntax is: not (filter))")
                );
            }
            self.pos = start;
        }
        self.attr_expr(depth, in_value_filter)
    }

    fn attr_path(&mut self) -> Result<(AttrPath, usize), SyntaxError> {
        let start = self.pos;
        let w = self.word();
        if w.is_empty() {
            return Err(self.error("expected an attribute path"));
        }
        Ok((AttrPath::parse_at(w, start)?, start))
    }

    fn attr_expr(&mut self, depth: usize, in_value_filter: bool) -> Result<Filter, SyntaxError> {
        let (path, pos) = self.attr_path()?;
        if self.peek() != Some(b'[') {
            return Ok(match self.test()? {
                Test::Present => Filter::Present { path, pos },
                Test::Compare { op, value } => Filter::Compare {
                    path,
                    op,
                    value,
                    pos,
                },
            });
        }
        if in_value_filter {
            return Err(SyntaxError::new(
                self.pos,
                "value filters cannot be nested: inside [...] name sub-attributes directly",
            ));
        }
        let filter = self.value_filter(depth, &path, pos)?;
        let then = if self.peek() == Some(b'.') {
            self.pos += 1;
            let sub_pos = self.pos;
            let sub = self.word();
            if !is_attr_name(sub) {
                return Err(SyntaxError::new(
                    sub_pos,
                    format!(
                        "expected a sub-attribute name after \"].\", found {:?}",
                        excerpt(sub, 40)
                    ),
                ));
            }
            let test = self.test()?;
            Some(ElementTest {
                sub: sub.to_owned(),
                test,
                pos: sub_pos,
            })
        } else {
            None
        };
        Ok(Filter::ValuePath {
            path,
            filter: Box::new(filter),
            then,
            pos,
        })
    }

    /// `[valFilter]`, the position being at `[`.
    fn value_filter(
        &mut self,
        depth: usize,
        path: &AttrPath,
        path_pos: usize,
    ) -> Result<Filter, SyntaxError> {
        if path.sub.is_some() {
            return Err(SyntaxError::new(
                path_pos,
                format!(
                    "a value filter must follow an attribute, not a sub-attribute ('{path}[...]')"
                ),
            ));
        }
        self.enter(depth)?;
        self.pos += 1; // '['
        let filter = self.or_expr(depth + 1, true)?;
        self.close(Close::Bracket)?;
        Ok(filter)
    }

    /// `pr` or `op value`.
    fn test(&mut self) -> Result<Test, SyntaxError> {
        self.skip_ws();
        let w = self.peek_word();
        if w.eq_ignore_ascii_case("pr") {
            self.pos += w.len();
            return Ok(Test::Present);
        }
        let Some(op) = CompareOp::parse(w) else {
            return Err(self.error(EXPECT_OPERATOR));
        };
        self.pos += w.len();
        let value = self.literal()?;
        Ok(Test::Compare { op, value })
    }

    fn literal(&mut self) -> Result<Literal, SyntaxError> {
        const EXPECT_VALUE: &str =
            "expected a value (a \"double-quoted\" string, a number, true, false or null)";
        self.skip_ws();
        match self.peek() {
            Some(b'"') => return self.string().map(Literal::String),
            Some(c) if !is_delim(c) => {}
            _ => return Err(self.error(EXPECT_VALUE)),
        }
        let pos = self.pos;
        let w = self.word();
        if w.eq_ignore_ascii_case("true") {
            return Ok(Literal::Bool(true));
        }
        if w.eq_ignore_ascii_case("false") {
            return Ok(Literal::Bool(false));
        }
        if w.eq_ignore_ascii_case("null") {
            return Ok(Literal::Null);
        }
        let numeric = w.starts_with(|c: char| c == '-' || c.is_ascii_digit());
        if numeric {
            match json_number(w) {
                Some(n) => return Ok(Literal::Number(n)),
                None if self.unquoted => {}
                None => {
                    return Err(SyntaxError::new(
                        pos,
                        format!(
                            "{:?} is not a valid JSON number (or is out of range)",
                            excerpt(w, 40)
                        ),
                    ));
                }
            }
        }
        if self.unquoted {
            if let Some(i) = w.find(char::is_control) {
                return Err(SyntaxError::new(
                    pos + i,
                    "control characters are not allowed in an unquoted string",
                ));
            }
            if let Some(i) = w
                .find(|c: char| !unquoted_char(c))
                .or(w.starts_with('\'').then_some(0))
            {
                return Err(SyntaxError::new(
                    pos + i,
                    format!(
                        "{EXPECT_VALUE}, found {:?}: strings must be in double quotes (an unquoted value is only a bare word such as jyoung or ada@example.com; single quotes and JSON objects are not values)",
                        excerpt(w, 40)
                    ),
                ));
            }
            return Ok(Literal::String(w.to_owned()));
        }
        Err(SyntaxError::new(
            pos,
            format!(
                "{EXPECT_VALUE}, found {:?} (strings must be in double quotes)",
                excerpt(w, 40)
            ),
        ))
    }

    /// A JSON string literal, the position being at its opening quote.
    fn string(&mut self) -> Result<String, SyntaxError> {
        let start = self.pos;
        let mut i = start + 1;
        loop {
            match self.b.get(i) {
                None => {
                    return Err(SyntaxError::new(
                        start,
                        "unterminated string: missing the closing '\"'",
                    ));
                }
                Some(b'\\') => i += 2,
                Some(b'"') => break,
                Some(_) => i += 1,
            }
        }
        self.pos = i + 1;
        let raw = self.src.get(start..=i).unwrap_or("");
        serde_json::from_str::<String>(raw).map_err(|e| {
            SyntaxError::new(
                start + e.column().saturating_sub(1),
                "invalid string literal: strings are JSON strings (escapes \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX; no raw control characters)",
            )
        })
    }

    /// A PATCH path: `attrPath [ "[" valFilter "]" [ "." ATTRNAME ] ]`, with nothing after it.
    pub(crate) fn patch_path(&mut self) -> Result<PatchPath, SyntaxError> {
        self.skip_ws();
        let (attr, pos) = self.attr_path()?;
        let mut filter = None;
        let mut sub = None;
        if self.peek() == Some(b'[') {
            filter = Some(self.value_filter(0, &attr, pos)?);
            if self.peek() == Some(b'.') {
                self.pos += 1;
                let sub_pos = self.pos;
                let w = self.word();
                if !is_attr_name(w) {
                    return Err(SyntaxError::new(
                        sub_pos,
                        format!(
                            "expected a sub-attribute name after \"].\", found {:?}",
                            excerpt(w, 40)
                        ),
                    ));
                }
                sub = Some(w.to_owned());
            }
        }
        self.skip_ws();
        if self.peek().is_some() {
            let expected = if filter.is_some() {
                "expected \".subAttribute\" or the end of the path"
            } else {
                "expected \"[\" or the end of the path"
            };
            return Err(self.error(expected));
        }
        Ok(PatchPath { attr, filter, sub })
    }
}
