//! The discovery endpoints (RFC 7644 §4): `/ServiceProviderConfig`, `/Schemas`, `/ResourceTypes`,
//! rendered from the schema registry. Built once per configuration; only `meta.location` (which
//! depends on the URL the client used) is filled in per request.

use http::header::ALLOW;
use http::{Method, Response, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;

use crate::respond::{self, Body, Failure};
use crate::routes::Endpoint;
use crate::scim::error::ScimError;

use crate::scim::resource::ResourceKind;
use crate::scim::schema::{
    LIST_RESPONSE_URN, RESOURCE_TYPE_URN, ResourceSchema, SERVICE_PROVIDER_CONFIG_URN, Schema,
};

/// What the service provider supports, as published in `/ServiceProviderConfig`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Features {
    /// `filter.maxResults`.
    pub max_results: usize,
    /// `etag.supported`.
    pub etag: bool,
    /// `documentationUri`, if any.
    pub documentation_uri: Option<String>,
}

/// Pre-rendered discovery documents.
#[derive(Debug, Clone)]
pub struct Discovery {
    service_provider_config: Value,
    schemas: Vec<Arc<Schema>>,
    resource_types: Vec<(ResourceKind, Arc<ResourceSchema>)>,
}

impl Discovery {
    /// Builds the documents for the served resource types.
    pub fn new(
        resource_types: Vec<(ResourceKind, Arc<ResourceSchema>)>,
        features: &Features,
    ) -> Self {
        let mut schemas: Vec<Arc<Schema>> = Vec::new();
        for (_, rs) in &resource_types {
            for s in std::iter::once(&rs.core).chain(rs.extensions.iter().map(|e| &e.schema)) {
                if !schemas.iter().any(|x| x.id == s.id) {
                    schemas.push(s.clone());
                }
            }
        }
        let mut spc = json!({
            "schemas": [SERVICE_PROVIDER_CONFIG_URN],
            "patch": { "supported": true },
            "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
            "filter": { "supported": true, "maxResults": features.max_results },
            "changePassword": { "supported": false },
            "sort": { "supported": false },
            "etag": { "supported": features.etag },
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": "Authentication with a long-lived bearer token (the Entra ID 'Secret Token')",
                "specUri": "https://www.rfc-editor.org/info/rfc6750",
                "primary": true,
            }],
        });
        if let Some(uri) = &features.documentation_uri {
            spc["documentationUri"] = json!(uri);
        }
        Discovery {
            service_provider_config: spc,
            schemas,
            resource_types,
        }
    }

    /// `GET /ServiceProviderConfig`.
    pub fn service_provider_config(&self, base_url: &str) -> Value {
        let mut v = self.service_provider_config.clone();
        v["meta"] = json!({
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base_url}/ServiceProviderConfig"),
        });
        v
    }

    /// `GET /Schemas`: a ListResponse of every published schema.
    pub fn schemas(&self, base_url: &str) -> Value {
        let items: Vec<Value> = self
            .schemas
            .iter()
            .map(|s| s.to_json(&format!("{base_url}/Schemas/{}", s.id)))
            .collect();
        list(items)
    }

    /// `GET /Schemas/{id}` (URN compared case-insensitively).
    pub fn schema(&self, id: &str, base_url: &str) -> Option<Value> {
        self.schemas
            .iter()
            .find(|s| s.id.eq_ignore_ascii_case(id))
            .map(|s| s.to_json(&format!("{base_url}/Schemas/{}", s.id)))
    }

    /// `GET /ResourceTypes`: a ListResponse of every served resource type.
    pub fn resource_types(&self, base_url: &str) -> Value {
        let items: Vec<Value> = self
            .resource_types
            .iter()
            .map(|(k, rs)| resource_type_json(*k, rs, base_url))
            .collect();
        list(items)
    }

    /// `GET /ResourceTypes/{name}` (name compared case-insensitively).
    pub fn resource_type(&self, name: &str, base_url: &str) -> Option<Value> {
        self.resource_types
            .iter()
            .find(|(k, _)| k.name().eq_ignore_ascii_case(name))
            .map(|(k, rs)| resource_type_json(*k, rs, base_url))
    }
}

impl Discovery {
    /// The answer of an endpoint served without the mapping: the discovery documents (read-only:
    /// other methods are 405 with `Allow`), and the 501 of `/Bulk` and `/Me`. `None` for the
    /// resource endpoints.
    pub fn answer(
        &self,
        endpoint: &Endpoint,
        method: &Method,
        base_url: &str,
    ) -> Option<Result<Response<Body>, Failure>> {
        let read_only = |name: &str| -> Failure {
            Failure::from(ScimError::new(
                405,
                None,
                format!("{name} is read-only: only GET is supported"),
            ))
            .with_header(ALLOW, "GET, HEAD")
        };
        let ok = |v: &Value| Ok(respond::json(StatusCode::OK, v));
        let is_read = *method == Method::GET || *method == Method::HEAD;
        Some(match endpoint {
            Endpoint::ServiceProviderConfig if is_read => {
                ok(&self.service_provider_config(base_url))
            }
            Endpoint::Schemas if is_read => ok(&self.schemas(base_url)),
            Endpoint::Schema(id) if is_read => match self.schema(id, base_url) {
                Some(v) => ok(&v),
                None => Err(Failure::from(ScimError::not_found(format!(
                    "no schema {id:?}"
                )))),
            },
            Endpoint::ResourceTypes if is_read => ok(&self.resource_types(base_url)),
            Endpoint::ResourceType(name) if is_read => match self.resource_type(name, base_url) {
                Some(v) => ok(&v),
                None => Err(Failure::from(ScimError::not_found(format!(
                    "no resource type {name:?}"
                )))),
            },
            Endpoint::ServiceProviderConfig => Err(read_only("/ServiceProviderConfig")),
            Endpoint::Schemas | Endpoint::Schema(_) => Err(read_only("/Schemas")),
            Endpoint::ResourceTypes | Endpoint::ResourceType(_) => Err(read_only("/ResourceTypes")),
            Endpoint::Bulk => Err(Failure::from(ScimError::new(
                501,
                None,
                "bulk operations are not supported (ServiceProviderConfig bulk.supported = false); send individual requests",
            ))),
            Endpoint::Me => Err(Failure::from(ScimError::new(
                501,
                None,
                "the /Me endpoint is not supported (RFC 7644 §3.11)",
            ))),
            Endpoint::Collection(_) | Endpoint::Resource(..) | Endpoint::Search(_) => return None,
        })
    }
}

/// A resource endpoint without a mapping: only Entra's Test Connection probes get an answer (an
/// empty list).
pub fn unmapped(endpoint: &Endpoint, method: &Method) -> Result<Response<Body>, Failure> {
    if let (Endpoint::Collection(_), &Method::GET) = (endpoint, method) {
        return Ok(respond::json(
            StatusCode::OK,
            &crate::scim::list::list_response(0, 1, Vec::new()),
        ));
    }
    Err(Failure::from(ScimError::not_found(
        "no mapping is configured ([scim] mapping), so no resources are served",
    )))
}

fn list(items: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE_URN],
        "totalResults": items.len(),
        "startIndex": 1,
        "itemsPerPage": items.len(),
        "Resources": items,
    })
}

fn resource_type_json(kind: ResourceKind, rs: &ResourceSchema, base_url: &str) -> Value {
    let mut v = json!({
        "schemas": [RESOURCE_TYPE_URN],
        "id": kind.name(),
        "name": kind.name(),
        "endpoint": kind.endpoint(),
        "description": rs.core.description,
        "schema": rs.core.id,
    });
    if !rs.extensions.is_empty() {
        v["schemaExtensions"] = Value::Array(
            rs.extensions
                .iter()
                .map(|e| json!({ "schema": e.schema.id, "required": e.required }))
                .collect(),
        );
    }
    v["meta"] = json!({
        "resourceType": "ResourceType",
        "location": format!("{base_url}/ResourceTypes/{}", kind.name()),
    });
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::{ENTERPRISE_USER_URN, GROUP_URN, Registry, USER_URN};

    fn discovery() -> Discovery {
        let r = Registry::standard();
        Discovery::new(
            vec![(ResourceKind::User, r.user), (ResourceKind::Group, r.group)],
            &Features {
                max_results: 200,
                etag: false,
                documentation_uri: None,
            },
        )
    }

    #[test]
    fn schemas_list_every_schema_once_with_locations() {
        let d = discovery();
        let v = d.schemas("https://h/scim/v2");
        assert_eq!(v["totalResults"], 3);
        let ids: Vec<&str> = v["Resources"]
            .as_array()
            .map(|a| a.iter().filter_map(|s| s["id"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(ids, [USER_URN, ENTERPRISE_USER_URN, GROUP_URN]);
        assert_eq!(
            v["Resources"][2]["meta"]["location"],
            format!("https://h/scim/v2/Schemas/{GROUP_URN}")
        );
        assert!(d.schema(&USER_URN.to_uppercase(), "x").is_some());
        assert!(d.schema("urn:nope", "x").is_none());
    }

    #[test]
    fn resource_types_name_their_schemas_and_extensions() {
        let d = discovery();
        let user = d.resource_type("user", "/scim/v2").expect("User");
        assert_eq!(user["endpoint"], "/Users");
        assert_eq!(user["schema"], USER_URN);
        assert_eq!(user["schemaExtensions"][0]["schema"], ENTERPRISE_USER_URN);
        assert_eq!(user["meta"]["location"], "/scim/v2/ResourceTypes/User");
        let group = d.resource_type("Group", "/scim/v2").expect("Group");
        assert!(group.get("schemaExtensions").is_none());
        assert_eq!(d.resource_types("")["totalResults"], 2);
    }

    #[test]
    fn service_provider_config_reports_features() {
        let v = discovery().service_provider_config("/scim/v2");
        assert_eq!(v["patch"]["supported"], true);
        assert_eq!(v["bulk"]["supported"], false);
        assert_eq!(v["filter"]["maxResults"], 200);
        assert_eq!(v["authenticationSchemes"][0]["type"], "oauthbearertoken");
        assert_eq!(v["meta"]["location"], "/scim/v2/ServiceProviderConfig");
    }
}
