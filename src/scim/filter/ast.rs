//! The filter syntax tree: comparison operators, literals, tests, filters, and the one owned
//! rewrite of comparison values ([`Filter::map_compares`]).

use crate::scim::path::AttrPath;
use crate::scim::value::excerpt;
use serde_json::Number;

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
    pub(crate) fn describe(&self) -> String {
        match self {
            Literal::String(s) => format!("the string {:?}", excerpt(s, 40)),
            Literal::Number(n) => format!("the number {n}"),
            Literal::Bool(b) => format!("{b}"),
            Literal::Null => "null".to_owned(),
        }
    }
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

/// Where a comparison sits in a filter, as [`Filter::map_compares`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Site<'a> {
    /// `path op value` outside any value filter: `path` is relative to the resource.
    Resource(&'a AttrPath),
    /// `path op value` inside `parent[...]`: `path` names a sub-attribute of `parent`'s elements.
    Element {
        /// The attribute whose elements the value filter selects.
        parent: &'a AttrPath,
        /// The path compared, relative to one element.
        path: &'a AttrPath,
    },
    /// The `.sub op value` after `parent[...]` (see [`ElementTest`]).
    Then {
        /// The attribute whose elements the value filter selects.
        parent: &'a AttrPath,
        /// The sub-attribute name, as spelled in the input.
        sub: &'a str,
    },
}

// === impl Filter ===

impl Filter {
    /// The same filter with the value of every comparison replaced by `f(site, op, value)`: plain
    /// comparisons, comparisons inside value filters (`emails[type eq "work"]`) and the test after
    /// one (`emails[...].value eq "x"`). Everything else (operators, paths, positions, `pr`, the
    /// tree's shape) is kept.
    pub fn map_compares<F>(self, f: &mut F) -> Filter
    where
        F: FnMut(Site<'_>, CompareOp, Literal) -> Literal,
    {
        self.rebuild(None, f, &|pos| pos)
    }

    /// The same filter with every position set to 0 (for comparing shapes).
    pub fn without_positions(&self) -> Filter {
        self.clone().rebuild(None, &mut |_, _, value| value, &|_| 0)
    }

    /// The one owned walk: comparison values through `f`, byte positions through `pos`.
    fn rebuild<F>(
        self,
        parent: Option<&AttrPath>,
        f: &mut F,
        pos_of: &dyn Fn(usize) -> usize,
    ) -> Filter
    where
        F: FnMut(Site<'_>, CompareOp, Literal) -> Literal,
    {
        match self {
            Filter::Compare {
                path,
                op,
                value,
                pos,
            } => {
                let site = match parent {
                    None => Site::Resource(&path),
                    Some(parent) => Site::Element {
                        parent,
                        path: &path,
                    },
                };
                let value = f(site, op, value);
                Filter::Compare {
                    path,
                    op,
                    value,
                    pos: pos_of(pos),
                }
            }
            Filter::Present { path, pos } => Filter::Present {
                path,
                pos: pos_of(pos),
            },
            Filter::ValuePath {
                path,
                filter,
                then,
                pos,
            } => {
                let filter = Box::new(filter.rebuild(Some(&path), f, pos_of));
                let then = then.map(|mut t| {
                    if let Test::Compare { op, value } = t.test {
                        let site = Site::Then {
                            parent: &path,
                            sub: &t.sub,
                        };
                        t.test = Test::Compare {
                            op,
                            value: f(site, op, value),
                        };
                    }
                    t.pos = pos_of(t.pos);
                    t
                });
                Filter::ValuePath {
                    path,
                    filter,
                    then,
                    pos: pos_of(pos),
                }
            }
            Filter::And(a, b) => Filter::And(
                Box::new(a.rebuild(parent, f, pos_of)),
                Box::new(b.rebuild(parent, f, pos_of)),
            ),
            Filter::Or(a, b) => Filter::Or(
                Box::new(a.rebuild(parent, f, pos_of)),
                Box::new(b.rebuild(parent, f, pos_of)),
            ),
            Filter::Not(a) => Filter::Not(Box::new(a.rebuild(parent, f, pos_of))),
        }
    }
}
