//! The typed request between the HTTP edge and the service: an endpoint, a method and the
//! normalized query and body become one [`Operation`], or the 400 that says why not. The method
//! rules of the resource endpoints live here, with the parsing of filters, paging and attribute
//! selection.

use http::Method;
use serde_json::Value;

use crate::error::Error;
use crate::mapping::model::Mapping;
use crate::request::{Input, Query};
use crate::routes::{Endpoint, ResourceKind};
use crate::scim::error::ScimError;
use crate::scim::filter::{self, Filter, FilterOptions};
use crate::scim::list::{self, Paging};
use crate::scim::path::{self, AttrPath, Miss};
use crate::scim::projection;
use crate::scim::schema::ResourceSchema;

/// One SCIM resource operation, parsed.
#[derive(Debug, Clone)]
pub enum Operation {
    /// `GET /{Resources}` and `POST /{Resources}/.search`.
    List {
        /// The resource type.
        kind: ResourceKind,
        /// Filter, paging and attribute selection.
        query: ListQuery,
    },
    /// `POST /.search`: every resource type, paged as one sequence.
    Search {
        /// Paging over the whole sequence.
        paging: Paging,
        /// Attribute selection.
        projection: Projection,
        /// The filter, parsed once per resource type (a filter naming attributes only one type
        /// has matches nothing in the other).
        filter: Option<FilterText>,
    },
    /// `GET /{Resources}/{id}`.
    Get {
        /// The resource type.
        kind: ResourceKind,
        /// The SCIM id.
        id: String,
        /// Attribute selection.
        projection: Projection,
    },
    /// `POST /{Resources}`.
    Create {
        /// The resource type.
        kind: ResourceKind,
        /// The resource, normalized.
        body: Value,
    },
    /// `PUT /{Resources}/{id}`.
    Replace {
        /// The resource type.
        kind: ResourceKind,
        /// The SCIM id.
        id: String,
        /// The resource, normalized.
        body: Value,
    },
    /// `PATCH /{Resources}/{id}`.
    Patch {
        /// The resource type.
        kind: ResourceKind,
        /// The SCIM id.
        id: String,
        /// The PatchOp body, normalized.
        body: Value,
        /// Attribute selection of the answer.
        projection: Projection,
    },
    /// `DELETE /{Resources}/{id}`.
    Delete {
        /// The resource type.
        kind: ResourceKind,
        /// The SCIM id.
        id: String,
    },
}

/// What parsing takes from the settings.
#[derive(Debug, Clone, Copy)]
pub struct Limits<'a> {
    /// The largest page served.
    pub max_page_size: usize,
    /// Filter parsing options (e.g. Entra's unquoted values).
    pub filter: &'a FilterOptions,
}

/// A list request, parsed.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// The filter, checked against the resource type's schema.
    pub filter: Option<Filter>,
    /// Paging.
    pub paging: Paging,
    /// Attribute selection.
    pub projection: Projection,
}

/// A filter as sent, and as the normalize stage parsed and rewrote it for each resource type.
#[derive(Debug, Clone, Default)]
pub struct FilterText {
    /// The text as sent.
    pub text: String,
    /// The normalized filter per resource type (none when the text does not parse).
    pub normalized: Vec<(ResourceKind, Filter)>,
}

impl FilterText {
    /// The filter of a resource type, checked against its schema.
    pub fn for_kind(
        &self,
        kind: ResourceKind,
        schema: &ResourceSchema,
        options: &FilterOptions,
    ) -> Result<Filter, FilterError> {
        filter_for(&self.text, &self.normalized, kind, schema, options)
    }
}

/// The filter of a resource type: the normalized one when there is one, else the text parsed.
fn filter_for(
    text: &str,
    normalized: &[(ResourceKind, Filter)],
    kind: ResourceKind,
    schema: &ResourceSchema,
    options: &FilterOptions,
) -> Result<Filter, FilterError> {
    match normalized.iter().find(|(k, _)| *k == kind) {
        Some((_, f)) => check_filter(f.clone(), schema),
        None => parse_filter(text, schema, options),
    }
}

/// Attribute selection from `attributes` / `excludedAttributes`.
#[derive(Debug, Clone, Default)]
pub struct Projection {
    /// `attributes`
    pub attributes: Vec<AttrPath>,
    /// `excludedAttributes`
    pub excluded: Vec<AttrPath>,
}

impl Projection {
    /// Parses the two query parameters.
    pub fn parse(
        attributes: Option<&str>,
        excluded: Option<&str>,
    ) -> Result<Projection, ScimError> {
        let (attributes, excluded) = projection::parse_projection(attributes, excluded)?;
        Ok(Projection {
            attributes,
            excluded,
        })
    }

    /// Whether the response would include group `members` (so they must be fetched).
    pub fn wants_members(&self) -> bool {
        let named = |p: &AttrPath| p.urn.is_none() && p.name.eq_ignore_ascii_case("members");
        if !self.attributes.is_empty() {
            return self.attributes.iter().any(named);
        }
        !self.excluded.iter().any(|p| named(p) && p.sub.is_none())
    }

    /// Applies the selection (the resource is handed back untouched when there is none).
    pub fn apply(&self, resource: Value, map: &crate::mapping::model::ResourceMap) -> Value {
        if self.attributes.is_empty() && self.excluded.is_empty() {
            return resource;
        }
        projection::project(&resource, &map.schema, &self.attributes, &self.excluded)
    }
}

/// Why a filter was refused for a resource type.
#[derive(Debug)]
pub enum FilterError {
    /// The filter names an attribute the resource type does not have (root `/.search` skips
    /// that type).
    UnknownAttribute(ScimError),
    /// Any other syntax or schema error.
    Invalid(ScimError),
}

impl From<FilterError> for Error {
    fn from(e: FilterError) -> Self {
        match e {
            FilterError::UnknownAttribute(e) | FilterError::Invalid(e) => Error::Client(e),
        }
    }
}

/// Parses a filter and checks it against a resource type's schema.
pub fn parse_filter(
    text: &str,
    schema: &ResourceSchema,
    options: &FilterOptions,
) -> Result<Filter, FilterError> {
    let f = filter::parse_with(text, options).map_err(FilterError::Invalid)?;
    check_filter(f, schema)
}

/// Checks a parsed filter against a resource type's schema.
pub fn check_filter(f: Filter, schema: &ResourceSchema) -> Result<Filter, FilterError> {
    filter::check(&f, schema).map_err(|e| match first_miss(&f, schema) {
        Some(Miss::Attribute) => FilterError::UnknownAttribute(e),
        Some(Miss::SubAttribute) | None => FilterError::Invalid(e),
    })?;
    Ok(f)
}

/// Why the first comparison the check refuses (left to right, as `filter::check` walks) did not
/// resolve its attribute path, if that is why it was refused.
fn first_miss(f: &Filter, schema: &ResourceSchema) -> Option<Miss> {
    match f {
        Filter::And(a, b) | Filter::Or(a, b) => {
            if filter::check(a, schema).is_err() {
                first_miss(a, schema)
            } else {
                first_miss(b, schema)
            }
        }
        Filter::Not(a) => first_miss(a, schema),
        Filter::Present { path, .. }
        | Filter::Compare { path, .. }
        | Filter::ValuePath { path, .. } => path::lookup(schema, path).err(),
    }
}

impl Operation {
    /// The operation a resource endpoint and method name, with the query and body as the
    /// normalize stage left them. A method an endpoint does not serve is a 400 naming the ones
    /// it does, not a 405 (Entra quirk 24: Entra counts a 405 as a failure).
    pub fn parse(
        endpoint: Endpoint,
        method: &Method,
        input: Input,
        mapping: &Mapping,
        limits: Limits<'_>,
    ) -> Result<Operation, Error> {
        let Limits {
            max_page_size,
            filter: options,
        } = limits;
        let Input {
            query,
            body,
            filters,
        } = input;
        let projection = || {
            Projection::parse(
                query.attributes.as_deref(),
                query.excluded_attributes.as_deref(),
            )
        };
        let not_allowed = |allowed: &str, what: &str| {
            Error::Client(ScimError::bad_request_plain(format!(
                "{method} is not supported on {what}; use {allowed}"
            )))
        };
        // The filter of one resource type: parsed when the mapping serves the type.
        let filter_for = |kind: ResourceKind, text: Option<&str>| -> Result<_, Error> {
            match (text, mapping.resource(kind)) {
                (Some(text), Some(map)) => Ok(Some(filter_for(
                    text,
                    &filters,
                    kind,
                    &map.schema,
                    options,
                )?)),
                _ => Ok(None),
            }
        };
        Ok(match (endpoint, method) {
            (Endpoint::Collection(kind), &Method::GET) => Operation::List {
                kind,
                query: ListQuery {
                    paging: paging(&query, max_page_size)?,
                    projection: projection()?,
                    filter: filter_for(kind, query.filter.as_deref())?,
                },
            },
            (Endpoint::Collection(kind), &Method::POST) => Operation::Create {
                kind,
                body: body.json()?,
            },
            (Endpoint::Collection(kind), _) => {
                return Err(not_allowed("GET or POST", kind.endpoint()));
            }
            (Endpoint::Resource(kind, id), &Method::GET) => Operation::Get {
                kind,
                id,
                projection: projection()?,
            },
            (Endpoint::Resource(kind, id), &Method::PUT) => Operation::Replace {
                kind,
                id,
                body: body.json()?,
            },
            (Endpoint::Resource(kind, id), &Method::PATCH) => Operation::Patch {
                kind,
                id,
                body: body.json()?,
                projection: projection()?,
            },
            (Endpoint::Resource(kind, id), &Method::DELETE) => Operation::Delete { kind, id },
            (Endpoint::Resource(kind, _), _) => {
                return Err(not_allowed(
                    "GET, PUT, PATCH or DELETE",
                    &format!("{}/{{id}}", kind.endpoint()),
                ));
            }
            (Endpoint::Search(kind), &Method::POST) => {
                let req = list::parse_search_request(&body.json()?)?;
                let paging = req.paging(max_page_size);
                let projection = Projection {
                    attributes: req.attributes,
                    excluded: req.excluded_attributes,
                };
                match kind {
                    Some(kind) => Operation::List {
                        kind,
                        query: ListQuery {
                            filter: filter_for(kind, req.filter.as_deref())?,
                            paging,
                            projection,
                        },
                    },
                    None => Operation::Search {
                        paging,
                        projection,
                        filter: req.filter.map(|text| FilterText {
                            text,
                            normalized: filters,
                        }),
                    },
                }
            }
            (Endpoint::Search(_), _) => return Err(not_allowed("POST", "/.search")),
            _ => {
                return Err(Error::Client(ScimError::not_found("no such endpoint")));
            }
        })
    }
}

fn paging(query: &Query, max_page_size: usize) -> Result<Paging, ScimError> {
    list::parse_paging(
        query.start_index.as_deref(),
        query.count.as_deref(),
        max_page_size,
    )
}

#[cfg(test)]
mod tests;
