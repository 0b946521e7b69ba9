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

use crate::scim::datetime;
use crate::scim::error::{ScimError, ScimType};
use crate::scim::path::{self, AttrPath, PatchPath, Target};
use crate::scim::schema::is_attr_name;
use crate::scim::schema::{AttrType, Attribute, ResourceSchema};
use crate::scim::value::{
    case_exact, excerpt, get_ci, is_present, num_cmp, str_cmp, str_contains, str_ends, str_eq,
    str_starts,
};
use serde_json::{Number, Value};
use std::cmp::Ordering;
use std::fmt;

/// Longest filter accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 4096;
/// Deepest nesting of parentheses, `not` and value filters accepted.
pub const MAX_DEPTH: usize = 32;

/// A comparison operator (RFC 7644 §3.4.2.2, Table 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Contains.
    Co,
    /// Starts with.
    Sw,
    /// Ends with.
    Ew,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Ge,
    /// Less than.
    Lt,
    /// Less than or equal.
    Le,
}

impl CompareOp {
    /// Every operator, in the RFC's order.
    pub const ALL: [CompareOp; 9] = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ];

    /// The lowercase keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// Parses a keyword, case-insensitively.
    pub fn parse(word: &str) -> Option<CompareOp> {
        CompareOp::ALL
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(word))
    }

    /// Whether this is `gt`, `ge`, `lt` or `le`.
    pub fn is_ordering(self) -> bool {
        matches!(
            self,
            CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
        )
    }

    /// Whether this is `co`, `sw` or `ew`.
    pub fn is_substring(self) -> bool {
        matches!(self, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A comparison value (`compValue`: JSON false / null / true / number / string).
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A string (JSON escapes decoded).
    String(String),
    /// A JSON number.
    Number(Number),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
}

impl Literal {
    fn describe(&self) -> String {
        match self {
            Literal::String(s) => format!("the string {:?}", excerpt(s, 40)),
            Literal::Number(n) => format!("the number {n}"),
            Literal::Bool(b) => format!("{b}"),
            Literal::Null => "null".to_owned(),
        }
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::String(s) => write_json_string(f, s),
            Literal::Number(n) => write!(f, "{n}"),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Null => f.write_str("null"),
        }
    }
}

/// Writes `s` as a JSON string literal.
pub(crate) fn write_json_string(f: &mut impl fmt::Write, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            '\u{8}' => f.write_str("\\b")?,
            '\u{c}' => f.write_str("\\f")?,
            c if u32::from(c) < 0x20 => write!(f, "\\u{:04x}", u32::from(c))?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
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

/// What is tested on an attribute: presence or a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    /// `pr`.
    Present,
    /// `op value`.
    Compare {
        /// The operator.
        op: CompareOp,
        /// The value compared with.
        value: Literal,
    },
}

impl Test {
    /// `None` for `pr`, else the operator and value.
    pub fn comparison(&self) -> Option<(CompareOp, &Literal)> {
        match self {
            Test::Present => None,
            Test::Compare { op, value } => Some((*op, value)),
        }
    }
}

impl fmt::Display for Test {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Test::Present => f.write_str("pr"),
            Test::Compare { op, value } => write!(f, "{op} {value}"),
        }
    }
}

/// The `.sub op value` after a value filter: `emails[type eq "work"].value eq "x"`.
#[derive(Debug, Clone, PartialEq)]
pub struct ElementTest {
    /// Sub-attribute name, as spelled in the input.
    pub sub: String,
    /// The test applied to that sub-attribute of each selected element.
    pub test: Test,
    /// Byte offset of the sub-attribute name.
    pub pos: usize,
}

/// A parsed filter. `pos` fields are byte offsets into the input (for error messages).
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `attrPath op value`.
    Compare {
        /// The attribute compared.
        path: AttrPath,
        /// The operator.
        op: CompareOp,
        /// The value compared with.
        value: Literal,
        /// Offset of the attribute path.
        pos: usize,
    },
    /// `attrPath pr`.
    Present {
        /// The attribute tested.
        path: AttrPath,
        /// Offset of the attribute path.
        pos: usize,
    },
    /// `attrPath[filter]`, optionally followed by `.sub test` (see [`ElementTest`]). Paths inside
    /// `filter` name sub-attributes of the element.
    ValuePath {
        /// The multi-valued or complex attribute whose values are selected.
        path: AttrPath,
        /// The element filter.
        filter: Box<Filter>,
        /// A test on a sub-attribute of the selected elements.
        then: Option<ElementTest>,
        /// Offset of the attribute path.
        pos: usize,
    },
    /// Both hold.
    And(Box<Filter>, Box<Filter>),
    /// Either holds.
    Or(Box<Filter>, Box<Filter>),
    /// `not (filter)`.
    Not(Box<Filter>),
}

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

// === parser ===================================================================================

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

// === printing and shape =======================================================================

impl Filter {
    fn precedence(&self) -> u8 {
        match self {
            Filter::Or(..) => 1,
            Filter::And(..) => 2,
            _ => 3,
        }
    }

    /// The same filter with every position set to 0 (for comparing shapes).
    pub fn without_positions(&self) -> Filter {
        match self {
            Filter::Compare {
                path, op, value, ..
            } => Filter::Compare {
                path: path.clone(),
                op: *op,
                value: value.clone(),
                pos: 0,
            },
            Filter::Present { path, .. } => Filter::Present {
                path: path.clone(),
                pos: 0,
            },
            Filter::ValuePath {
                path, filter, then, ..
            } => Filter::ValuePath {
                path: path.clone(),
                filter: Box::new(filter.without_positions()),
                then: then.as_ref().map(|t| ElementTest {
                    pos: 0,
                    ..t.clone()
                }),
                pos: 0,
            },
            Filter::And(a, b) => Filter::And(
                Box::new(a.without_positions()),
                Box::new(b.without_positions()),
            ),
            Filter::Or(a, b) => Filter::Or(
                Box::new(a.without_positions()),
                Box::new(b.without_positions()),
            ),
            Filter::Not(a) => Filter::Not(Box::new(a.without_positions())),
        }
    }

    /// Byte offset of this node in the parsed input (of its left-most part for `and`/`or`).
    pub fn pos(&self) -> usize {
        match self {
            Filter::Compare { pos, .. }
            | Filter::Present { pos, .. }
            | Filter::ValuePath { pos, .. } => *pos,
            Filter::And(a, _) | Filter::Or(a, _) | Filter::Not(a) => a.pos(),
        }
    }
}

/// Whether two filters are equal ignoring positions.
pub fn same_shape(a: &Filter, b: &Filter) -> bool {
    match (a, b) {
        (
            Filter::Compare {
                path: p1,
                op: o1,
                value: v1,
                ..
            },
            Filter::Compare {
                path: p2,
                op: o2,
                value: v2,
                ..
            },
        ) => p1 == p2 && o1 == o2 && v1 == v2,
        (Filter::Present { path: p1, .. }, Filter::Present { path: p2, .. }) => p1 == p2,
        (
            Filter::ValuePath {
                path: p1,
                filter: f1,
                then: t1,
                ..
            },
            Filter::ValuePath {
                path: p2,
                filter: f2,
                then: t2,
                ..
            },
        ) => {
            p1 == p2
                && same_shape(f1, f2)
                && match (t1, t2) {
                    (None, None) => true,
                    (Some(x), Some(y)) => x.sub == y.sub && x.test == y.test,
                    _ => false,
                }
        }
        (Filter::And(a1, b1), Filter::And(a2, b2)) | (Filter::Or(a1, b1), Filter::Or(a2, b2)) => {
            same_shape(a1, a2) && same_shape(b1, b2)
        }
        (Filter::Not(a1), Filter::Not(a2)) => same_shape(a1, a2),
        _ => false,
    }
}

fn write_operand(f: &mut fmt::Formatter<'_>, child: &Filter, parens: bool) -> fmt::Result {
    if parens {
        write!(f, "({child})")
    } else {
        write!(f, "{child}")
    }
}

/// Canonical text: lowercase keywords, single spaces, JSON-escaped strings, and only the
/// parentheses needed to parse back to the same tree (`and`/`or` associate to the left).
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Compare {
                path, op, value, ..
            } => write!(f, "{path} {op} {value}"),
            Filter::Present { path, .. } => write!(f, "{path} pr"),
            Filter::ValuePath {
                path, filter, then, ..
            } => {
                write!(f, "{path}[{filter}]")?;
                if let Some(t) = then {
                    write!(f, ".{} {}", t.sub, t.test)?;
                }
                Ok(())
            }
            Filter::And(a, b) | Filter::Or(a, b) => {
                let (p, word) = if matches!(self, Filter::And(..)) {
                    (2, " and ")
                } else {
                    (1, " or ")
                };
                write_operand(f, a, a.precedence() < p)?;
                f.write_str(word)?;
                write_operand(f, b, b.precedence() <= p)
            }
            Filter::Not(a) => write!(f, "not ({a})"),
        }
    }
}

// === schema check =============================================================================

/// Validates a parsed filter against a resource type's schemas before evaluation: every attribute
/// resolves; comparisons fit the attribute's type (RFC 7644 §3.4.2.2: `gt`/`ge`/`lt`/`le` on
/// boolean or binary attributes fail); complex attributes are compared through their `value`
/// sub-attribute or not at all; value filters apply to multi-valued or complex attributes.
/// Errors are 400 `invalidFilter` naming the attribute and position.
pub fn check(f: &Filter, schema: &ResourceSchema) -> Result<(), ScimError> {
    check_node(f, schema).map_err(|e| e.into_scim(ScimType::InvalidFilter, "filter"))
}

fn resolve_at<'a>(
    schema: &'a ResourceSchema,
    path: &AttrPath,
    pos: usize,
) -> Result<Target<'a>, SyntaxError> {
    path::lookup(schema, path)
        .map_err(|miss| SyntaxError::new(pos, path::describe_miss(path, miss)))
}

/// The attribute whose values a comparison on `t` compares.
fn compared_attribute<'a>(t: &Target<'a>, pos: usize) -> Result<&'a Attribute, SyntaxError> {
    match t.sub {
        Some(s) => Ok(s),
        None if t.attribute.is_complex() => t.attribute.sub("value").ok_or_else(|| {
            let example = t
                .attribute
                .sub_attributes
                .first()
                .map_or(String::new(), |s| format!(", e.g. '{}.{}'", t.label(), s.name));
            SyntaxError::new(
                pos,
                format!(
                    "attribute '{}' is complex and has no 'value' sub-attribute: compare one of its sub-attributes{example}",
                    t.label()
                ),
            )
        }),
        None => Ok(t.attribute),
    }
}

fn check_node(f: &Filter, schema: &ResourceSchema) -> Result<(), SyntaxError> {
    match f {
        Filter::And(a, b) | Filter::Or(a, b) => {
            check_node(a, schema)?;
            check_node(b, schema)
        }
        Filter::Not(a) => check_node(a, schema),
        Filter::Present { path, pos } => resolve_at(schema, path, *pos).map(|_| ()),
        Filter::Compare {
            path,
            op,
            value,
            pos,
        } => {
            let t = resolve_at(schema, path, *pos)?;
            let def = compared_attribute(&t, *pos)?;
            let label = match t.sub {
                Some(_) => t.label(),
                None if t.attribute.is_complex() => format!("{}.{}", t.label(), def.name),
                None => t.label(),
            };
            check_compare(def, &label, *op, value, *pos)
        }
        Filter::ValuePath {
            path,
            filter,
            then,
            pos,
        } => {
            let t = resolve_at(schema, path, *pos)?;
            let attr = t.attribute;
            let label = t.label();
            if !attr.multi_valued && !attr.is_complex() {
                return Err(SyntaxError::new(
                    *pos,
                    format!(
                        "a value filter needs a multi-valued or complex attribute, and '{label}' is a single {}",
                        attr.ty.as_str()
                    ),
                ));
            }
            check_element_filter(filter, attr, &label)?;
            if let Some(t) = then {
                let sub = element_attribute(attr, &t.sub).ok_or_else(|| {
                    SyntaxError::new(
                        t.pos,
                        format!("attribute '{label}' has no sub-attribute '{}'", t.sub),
                    )
                })?;
                if let Test::Compare { op, value } = &t.test {
                    check_compare(sub, &format!("{label}.{}", sub.name), *op, value, t.pos)?;
                }
            }
            Ok(())
        }
    }
}

/// The definition a name inside a value filter on `attr` refers to: a sub-attribute of a complex
/// attribute, or (for a multi-valued attribute of simple type) `value`, meaning the element itself.
pub(crate) fn element_attribute<'a>(attr: &'a Attribute, name: &str) -> Option<&'a Attribute> {
    if attr.is_complex() {
        attr.sub(name)
    } else {
        name.eq_ignore_ascii_case("value").then_some(attr)
    }
}

/// Checks a filter whose paths are relative to an element of `attr` (labelled `label`).
pub(crate) fn check_element_filter(
    f: &Filter,
    attr: &Attribute,
    label: &str,
) -> Result<(), SyntaxError> {
    let sub_def = |path: &AttrPath, pos: usize| -> Result<&Attribute, SyntaxError> {
        if path.urn.is_some() || path.sub.is_some() {
            return Err(SyntaxError::new(
                pos,
                format!(
                    "inside '{label}[...]' name sub-attributes of '{label}' directly, not '{path}'"
                ),
            ));
        }
        element_attribute(attr, &path.name).ok_or_else(|| {
            let hint = if attr.is_complex() {
                String::new()
            } else {
                " (its values are named 'value')".to_owned()
            };
            SyntaxError::new(
                pos,
                format!(
                    "attribute '{label}' has no sub-attribute '{}'{hint}",
                    path.name
                ),
            )
        })
    };
    match f {
        Filter::And(a, b) | Filter::Or(a, b) => {
            check_element_filter(a, attr, label)?;
            check_element_filter(b, attr, label)
        }
        Filter::Not(a) => check_element_filter(a, attr, label),
        Filter::Present { path, pos } => sub_def(path, *pos).map(|_| ()),
        Filter::Compare {
            path,
            op,
            value,
            pos,
        } => {
            let def = sub_def(path, *pos)?;
            let sub_label = if attr.is_complex() {
                format!("{label}.{}", def.name)
            } else {
                label.to_owned()
            };
            check_compare(def, &sub_label, *op, value, *pos)
        }
        Filter::ValuePath { pos, .. } => {
            Err(SyntaxError::new(*pos, "value filters cannot be nested"))
        }
    }
}

fn check_compare(
    def: &Attribute,
    label: &str,
    op: CompareOp,
    value: &Literal,
    pos: usize,
) -> Result<(), SyntaxError> {
    let ty = def.ty;
    if let Literal::Null = value {
        return if matches!(op, CompareOp::Eq | CompareOp::Ne) {
            Ok(())
        } else {
            Err(SyntaxError::new(
                pos,
                format!("'{op}' cannot compare with null; use 'pr', 'eq null' or 'ne null'"),
            ))
        };
    }
    if op.is_ordering() && matches!(ty, AttrType::Boolean | AttrType::Binary) {
        return Err(SyntaxError::new(
            pos,
            format!(
                "'{op}' is not supported on {} attribute '{label}' (RFC 7644 §3.4.2.2)",
                ty.as_str()
            ),
        ));
    }
    if op.is_substring()
        && matches!(
            ty,
            AttrType::Boolean | AttrType::Integer | AttrType::Decimal
        )
    {
        return Err(SyntaxError::new(
            pos,
            format!(
                "'{op}' compares strings, and '{label}' is of type {}",
                ty.as_str()
            ),
        ));
    }
    let fits = match (ty, value) {
        (AttrType::Boolean, Literal::Bool(_)) => true,
        (AttrType::Integer | AttrType::Decimal, Literal::Number(_)) => true,
        (AttrType::String | AttrType::Reference | AttrType::Binary, Literal::String(_)) => true,
        (AttrType::DateTime, Literal::String(s)) => {
            if !op.is_substring() && datetime::parse(s).is_none() {
                return Err(SyntaxError::new(
                    pos,
                    format!(
                        "attribute '{label}' is a dateTime, and {:?} is not an xsd:dateTime such as \"2011-05-13T04:42:34Z\"",
                        excerpt(s, 40)
                    ),
                ));
            }
            true
        }
        _ => false,
    };
    if fits {
        Ok(())
    } else {
        Err(SyntaxError::new(
            pos,
            format!(
                "attribute '{label}' is of type {} and cannot be compared with {}",
                ty.as_str(),
                value.describe()
            ),
        ))
    }
}

// === evaluation ===============================================================================

/// Whether `resource` matches `f`. Assumes [`check`] passed; anything that does not resolve simply
/// does not match. Never panics, whatever the JSON.
pub fn matches(f: &Filter, resource: &Value, schema: &ResourceSchema) -> bool {
    match f {
        Filter::And(a, b) => matches(a, resource, schema) && matches(b, resource, schema),
        Filter::Or(a, b) => matches(a, resource, schema) || matches(b, resource, schema),
        Filter::Not(a) => !matches(a, resource, schema),
        Filter::Present { path, .. } => {
            let Some(t) = path::resolve(schema, path) else {
                return false;
            };
            let pick = t.sub.map(|s| s.name.as_str());
            candidates(t.value_in(resource), t.attribute.multi_valued, pick).any(is_present)
        }
        Filter::Compare {
            path, op, value, ..
        } => {
            let Some(t) = path::resolve(schema, path) else {
                return false;
            };
            let (def, pick) = match t.sub {
                Some(s) => (s, Some(s.name.as_str())),
                None if t.attribute.is_complex() => match t.attribute.sub("value") {
                    Some(v) => (v, Some(v.name.as_str())),
                    None => return false,
                },
                None => (t.attribute, None),
            };
            let values = candidates(t.value_in(resource), t.attribute.multi_valued, pick);
            eval_compare(def, *op, value, values)
        }
        Filter::ValuePath {
            path, filter, then, ..
        } => {
            let Some(t) = path::resolve(schema, path) else {
                return false;
            };
            if t.sub.is_some() {
                return false;
            }
            let elements = match t.value_in(resource) {
                Some(Value::Array(a)) => a.as_slice(),
                Some(v) => std::slice::from_ref(v),
                None => &[],
            };
            elements.iter().any(|el| {
                element_matches(filter, el, t.attribute)
                    && then.as_ref().is_none_or(|th| {
                        element_test(&th.sub, th.test.comparison(), el, t.attribute)
                    })
            })
        }
    }
}

/// Whether one element of `attr` (an object for complex attributes, else the value itself)
/// matches a value filter.
pub(crate) fn element_matches(f: &Filter, el: &Value, attr: &Attribute) -> bool {
    match f {
        Filter::And(a, b) => element_matches(a, el, attr) && element_matches(b, el, attr),
        Filter::Or(a, b) => element_matches(a, el, attr) || element_matches(b, el, attr),
        Filter::Not(a) => !element_matches(a, el, attr),
        Filter::Present { path, .. } if path.urn.is_none() && path.sub.is_none() => {
            element_test(&path.name, None, el, attr)
        }
        Filter::Compare {
            path, op, value, ..
        } if path.urn.is_none() && path.sub.is_none() => {
            element_test(&path.name, Some((*op, value)), el, attr)
        }
        Filter::Present { .. } | Filter::Compare { .. } | Filter::ValuePath { .. } => false,
    }
}

/// Applies a test (`None` = `pr`) to the sub-attribute `name` of element `el` of `attr`.
fn element_test(
    name: &str,
    test: Option<(CompareOp, &Literal)>,
    el: &Value,
    attr: &Attribute,
) -> bool {
    let Some(def) = element_attribute(attr, name) else {
        return false;
    };
    let value = if attr.is_complex() {
        el.as_object().and_then(|o| get_ci(o, &def.name))
    } else {
        Some(el)
    };
    let mut values = candidates(value, true, None);
    match test {
        None => values.any(is_present),
        Some((op, lit)) => eval_compare(def, op, lit, values),
    }
}

/// The non-null scalar values of an attribute value: each element of an array (when `multi`), or
/// the value itself; with `pick`, the named sub-attribute of each.
fn candidates<'v>(
    value: Option<&'v Value>,
    multi: bool,
    pick: Option<&str>,
) -> impl Iterator<Item = &'v Value> {
    let elements: &'v [Value] = match value {
        Some(Value::Array(a)) if multi => a,
        Some(v) => std::slice::from_ref(v),
        None => &[],
    };
    elements
        .iter()
        .filter_map(move |el| match pick {
            None => Some(el),
            Some(name) => el.as_object().and_then(|o| get_ci(o, name)),
        })
        .flat_map(|v| match v {
            Value::Array(a) => a.iter(),
            other => std::slice::from_ref(other).iter(),
        })
        .filter(|v| !v.is_null())
}

fn eval_compare<'v>(
    def: &Attribute,
    op: CompareOp,
    lit: &Literal,
    mut values: impl Iterator<Item = &'v Value>,
) -> bool {
    if let Literal::Null = lit {
        let present = values.any(is_present);
        return match op {
            CompareOp::Eq => !present,
            CompareOp::Ne => present,
            _ => false,
        };
    }
    let mut seen = false;
    let hit = values.any(|v| {
        seen = true;
        compare(def, op, lit, v)
    });
    hit || (!seen && op == CompareOp::Ne)
}

fn holds(op: CompareOp, o: Ordering) -> bool {
    match op {
        CompareOp::Eq => o.is_eq(),
        CompareOp::Ne => o.is_ne(),
        CompareOp::Gt => o.is_gt(),
        CompareOp::Ge => o.is_ge(),
        CompareOp::Lt => o.is_lt(),
        CompareOp::Le => o.is_le(),
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

/// Compares one non-null attribute value `v` with `lit` (attribute value on the left).
fn compare(def: &Attribute, op: CompareOp, lit: &Literal, v: &Value) -> bool {
    let exact = case_exact(def);
    match (lit, v) {
        (Literal::String(s), Value::String(a)) => match op {
            CompareOp::Co => str_contains(a, s, exact),
            CompareOp::Sw => str_starts(a, s, exact),
            CompareOp::Ew => str_ends(a, s, exact),
            CompareOp::Eq if def.ty != AttrType::DateTime => str_eq(a, s, exact),
            CompareOp::Ne if def.ty != AttrType::DateTime => !str_eq(a, s, exact),
            _ => {
                let order = match (def.ty, datetime::parse(a), datetime::parse(s)) {
                    (AttrType::DateTime, Some(x), Some(y)) => x.cmp(&y),
                    _ => str_cmp(a, s, exact),
                };
                holds(op, order)
            }
        },
        (Literal::Number(n), Value::Number(m)) => {
            num_cmp(m, n).map_or(op == CompareOp::Ne, |o| holds(op, o))
        }
        (Literal::Bool(b), Value::Bool(a)) => match op {
            CompareOp::Eq => a == b,
            CompareOp::Ne => a != b,
            _ => false,
        },
        _ => op == CompareOp::Ne,
    }
}

#[cfg(test)]
mod tests;
