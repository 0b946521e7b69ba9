//! The SCIM endpoint table (RFC 7644 §3.2): which endpoint a request path names, relative to the
//! configured base path. Pure; tolerant of a trailing slash and of endpoint-name case.

use percent_encoding::percent_decode_str;

pub use crate::scim::resource::ResourceKind;

/// The endpoint a request path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `/ServiceProviderConfig`
    ServiceProviderConfig,
    /// `/Schemas`
    Schemas,
    /// `/Schemas/{urn}`
    Schema(String),
    /// `/ResourceTypes`
    ResourceTypes,
    /// `/ResourceTypes/{name}`
    ResourceType(String),
    /// `/Users`, `/Groups`
    Collection(ResourceKind),
    /// `/Users/{id}`, `/Groups/{id}` (the id percent-decoded)
    Resource(ResourceKind, String),
    /// `/.search` (kind `None`) or `/Users/.search`, `/Groups/.search`
    Search(Option<ResourceKind>),
    /// `/Bulk`
    Bulk,
    /// `/Me`
    Me,
}

/// Why a path names no endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoRoute {
    /// The path is outside the base path.
    OutsideBase,
    /// Inside the base path, but no such endpoint.
    Unknown,
    /// An id segment that is not valid UTF-8 once decoded, or is empty.
    BadId,
}

/// Maps a request path (raw, still percent-encoded) to an endpoint under `base` (normalised,
/// without trailing slash; `""` for the root). Segments are split *before* decoding, so an id
/// containing `%2F` stays one id and can never name another endpoint.
pub fn route(base: &str, raw_path: &str) -> Result<Endpoint, NoRoute> {
    let rest = raw_path.strip_prefix(base).ok_or(NoRoute::OutsideBase)?;
    if !rest.is_empty() && !rest.starts_with('/') {
        return Err(NoRoute::OutsideBase);
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let mut segs = rest.split('/').skip(1);
    let first = segs.next().unwrap_or("");
    let second = segs.next();
    if segs.next().is_some() {
        return Err(NoRoute::Unknown);
    }
    let is = |name: &str| first.eq_ignore_ascii_case(name);
    let kind = if is("Users") {
        Some(ResourceKind::User)
    } else if is("Groups") {
        Some(ResourceKind::Group)
    } else {
        None
    };
    match (kind, second) {
        (Some(k), None) => Ok(Endpoint::Collection(k)),
        (Some(k), Some(".search")) => Ok(Endpoint::Search(Some(k))),
        (Some(k), Some(id)) => Ok(Endpoint::Resource(k, decode(id)?)),
        (None, None) if is("ServiceProviderConfig") => Ok(Endpoint::ServiceProviderConfig),
        (None, None) if is("Schemas") => Ok(Endpoint::Schemas),
        (None, Some(id)) if is("Schemas") => Ok(Endpoint::Schema(decode(id)?)),
        (None, None) if is("ResourceTypes") => Ok(Endpoint::ResourceTypes),
        (None, Some(id)) if is("ResourceTypes") => Ok(Endpoint::ResourceType(decode(id)?)),
        (None, None) if first == ".search" => Ok(Endpoint::Search(None)),
        (None, None) if is("Bulk") => Ok(Endpoint::Bulk),
        (None, None) if is("Me") => Ok(Endpoint::Me),
        _ => Err(NoRoute::Unknown),
    }
}

fn decode(seg: &str) -> Result<String, NoRoute> {
    let s = percent_decode_str(seg)
        .decode_utf8()
        .map_err(|_| NoRoute::BadId)?
        .into_owned();
    if s.is_empty() {
        Err(NoRoute::BadId)
    } else {
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Endpoint as E;
    use ResourceKind::{Group, User};

    #[test]
    fn discovery_endpoints_route_with_or_without_trailing_slash() {
        let b = "/scim/v2";
        assert_eq!(
            route(b, "/scim/v2/ServiceProviderConfig"),
            Ok(E::ServiceProviderConfig)
        );
        assert_eq!(
            route(b, "/scim/v2/ServiceProviderConfig/"),
            Ok(E::ServiceProviderConfig)
        );
        assert_eq!(route(b, "/scim/v2/Schemas"), Ok(E::Schemas));
        assert_eq!(
            route(
                b,
                "/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User"
            ),
            Ok(E::Schema(
                "urn:ietf:params:scim:schemas:core:2.0:User".into()
            ))
        );
        assert_eq!(
            route(b, "/scim/v2/ResourceTypes/User/"),
            Ok(E::ResourceType("User".into()))
        );
        assert_eq!(
            route(b, "/scim/v2/schemas"),
            Ok(E::Schemas),
            "endpoint names are case-insensitive"
        );
    }

    #[test]
    fn resources_and_searches_route() {
        let b = "/scim/v2";
        assert_eq!(route(b, "/scim/v2/Users"), Ok(E::Collection(User)));
        assert_eq!(route(b, "/scim/v2/Groups/"), Ok(E::Collection(Group)));
        assert_eq!(
            route(b, "/scim/v2/Users/42"),
            Ok(E::Resource(User, "42".into()))
        );
        assert_eq!(
            route(b, "/scim/v2/Users/.search"),
            Ok(E::Search(Some(User)))
        );
        assert_eq!(route(b, "/scim/v2/.search"), Ok(E::Search(None)));
        assert_eq!(route(b, "/scim/v2/Bulk"), Ok(E::Bulk));
    }

    #[test]
    fn hostile_ids_stay_single_decoded_segments() {
        let b = "/scim/v2";
        assert_eq!(
            route(b, "/scim/v2/Users/1%2F2"),
            Ok(E::Resource(User, "1/2".into()))
        );
        assert_eq!(
            route(b, "/scim/v2/Users/..%2Fadmin"),
            Ok(E::Resource(User, "../admin".into()))
        );
        assert_eq!(route(b, "/scim/v2/Users/a/b"), Err(NoRoute::Unknown));
        assert_eq!(route(b, "/scim/v2/Users/%FF"), Err(NoRoute::BadId));
        assert_eq!(route(b, "/scim/v2/Users//"), Err(NoRoute::BadId));
    }

    #[test]
    fn paths_outside_the_base_or_unknown_do_not_route() {
        let b = "/scim/v2";
        assert_eq!(route(b, "/scim/v22/Users"), Err(NoRoute::OutsideBase));
        assert_eq!(route(b, "/admin"), Err(NoRoute::OutsideBase));
        assert_eq!(route(b, "/scim/v2"), Err(NoRoute::Unknown));
        assert_eq!(route(b, "/scim/v2/"), Err(NoRoute::Unknown));
        assert_eq!(route(b, "/scim/v2/Nope"), Err(NoRoute::Unknown));
        assert_eq!(
            route("", "/Users"),
            Ok(E::Collection(User)),
            "root base path"
        );
    }
}
