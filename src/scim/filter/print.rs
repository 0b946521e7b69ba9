//! The canonical printer (lowercase keywords, single spaces, JSON-escaped strings, minimal
//! parentheses) and shape helpers that ignore positions.

use super::ast::{CompareOp, Filter, Literal, Test};
use super::parse::PatchPath;
use std::fmt;

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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

impl fmt::Display for Test {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Test::Present => f.write_str("pr"),
            Test::Compare { op, value } => write!(f, "{op} {value}"),
        }
    }
}

impl Filter {
    fn precedence(&self) -> u8 {
        match self {
            Filter::Or(..) => 1,
            Filter::And(..) => 2,
            _ => 3,
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

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(s) = &self.sub {
            write!(f, ".{s}")?;
        }
        Ok(())
    }
}
