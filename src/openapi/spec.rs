//! Reading an OpenAPI 3.x or Swagger 2.0 document (JSON or YAML) into a `serde_json::Value`, and
//! the lookups the guesses need: `$ref`s, a path's operations, their parameters, request body and
//! success answer schemas, and an object schema's properties (through `allOf`).

use serde_json::{Map, Value};

/// The HTTP methods an OpenAPI path item may hold, in the order they are looked at.
const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// A parsed API description.
pub(super) struct Spec {
    doc: Value,
    /// "OpenAPI 3.0.3" or "Swagger 2.0", for the header comment.
    pub(super) version: String,
}

impl Spec {
    /// Parses `text` as JSON when it starts with `{`, else as YAML; it must name its version in
    /// `openapi` (3.x) or `swagger` (2.0) and hold `paths`.
    pub(super) fn parse(text: &str) -> Result<Spec, String> {
        let doc: Value = if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?
        } else {
            serde_saphyr::from_str(text).map_err(|e| format!("not valid YAML: {e}"))?
        };
        let version = match (doc.get("openapi"), doc.get("swagger")) {
            (Some(Value::String(v)), _) if v.starts_with('3') => format!("OpenAPI {v}"),
            (_, Some(Value::String(v))) if v.starts_with('2') => format!("Swagger {v}"),
            _ => {
                return Err(
                    "neither an OpenAPI 3.x document (\"openapi\": \"3...\") nor a Swagger 2.0 \
                     one (\"swagger\": \"2.0\")"
                        .to_owned(),
                );
            }
        };
        if !doc.get("paths").is_some_and(Value::is_object) {
            return Err("the document has no \"paths\" object".to_owned());
        }
        Ok(Spec { doc, version })
    }

    /// The document's title, if any.
    pub(super) fn title(&self) -> Option<&str> {
        self.doc.pointer("/info/title").and_then(Value::as_str)
    }

    /// Every path of the document, in document order.
    pub(super) fn paths(&self) -> Vec<&str> {
        self.doc
            .get("paths")
            .and_then(Value::as_object)
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// The methods (lower case) `path` has operations for.
    pub(super) fn methods(&self, path: &str) -> Vec<&'static str> {
        let Some(item) = self.path_item(path) else {
            return Vec::new();
        };
        METHODS
            .into_iter()
            .filter(|m| item.get(*m).is_some_and(Value::is_object))
            .collect()
    }

    fn path_item(&self, path: &str) -> Option<&Map<String, Value>> {
        self.doc
            .get("paths")
            .and_then(|p| p.get(path))
            .map(|v| self.deref(v))
            .and_then(Value::as_object)
    }

    fn operation(&self, path: &str, method: &str) -> Option<&Value> {
        self.path_item(path)?.get(method)
    }

    /// Follows `$ref`s inside this document (`#/...`), at most 16 deep.
    pub(super) fn deref<'a>(&'a self, mut value: &'a Value) -> &'a Value {
        for _ in 0..16 {
            let Some(target) = value.get("$ref").and_then(Value::as_str) else {
                return value;
            };
            let Some(pointer) = target.strip_prefix('#') else {
                return value;
            };
            match self.doc.pointer(pointer) {
                Some(next) => value = next,
                None => return value,
            }
        }
        value
    }

    /// The parameters of an operation, the path item's included: (name, location, schema).
    pub(super) fn parameters(&self, path: &str, method: &str) -> Vec<Param> {
        let mut out: Vec<Param> = Vec::new();
        let item = self.path_item(path);
        let shared = item.and_then(|i| i.get("parameters"));
        let own = self
            .operation(path, method)
            .and_then(|o| o.get("parameters"));
        for list in [own, shared].into_iter().flatten() {
            for p in list.as_array().into_iter().flatten() {
                let p = self.deref(p);
                let (Some(name), Some(location)) = (
                    p.get("name").and_then(Value::as_str),
                    p.get("in").and_then(Value::as_str),
                ) else {
                    continue;
                };
                if out.iter().any(|q| q.name == name && q.location == location) {
                    continue;
                }
                // Swagger 2.0 keeps the type on the parameter, OpenAPI 3 in `schema`.
                let schema = p.get("schema").map(|s| self.deref(s)).unwrap_or(p).clone();
                out.push(Param {
                    name: name.to_owned(),
                    location: location.to_owned(),
                    schema,
                });
            }
        }
        out
    }

    /// The schema of an operation's JSON request body (OpenAPI 3 `requestBody`, Swagger 2.0 an
    /// `in: body` parameter), dereferenced.
    pub(super) fn request_schema(&self, path: &str, method: &str) -> Option<&Value> {
        let op = self.operation(path, method)?;
        if let Some(body) = op.get("requestBody") {
            return self.content_schema(self.deref(body));
        }
        let params = op.get("parameters")?.as_array()?;
        params
            .iter()
            .map(|p| self.deref(p))
            .find(|p| p.get("in").and_then(Value::as_str) == Some("body"))
            .and_then(|p| p.get("schema"))
            .map(|s| self.deref(s))
    }

    /// The schema of an operation's first 2xx answer, dereferenced, and the headers it declares.
    pub(super) fn response_schema(
        &self,
        path: &str,
        method: &str,
    ) -> Option<(&Value, Vec<String>)> {
        let responses = self
            .operation(path, method)?
            .get("responses")?
            .as_object()?;
        let (_, answer) = responses
            .iter()
            .filter(|(code, _)| code.starts_with('2'))
            .min_by_key(|(code, _)| code.as_str())?;
        let answer = self.deref(answer);
        let headers = answer
            .get("headers")
            .and_then(Value::as_object)
            .map(|h| h.keys().cloned().collect())
            .unwrap_or_default();
        let schema = match answer.get("schema") {
            Some(s) => Some(self.deref(s)),
            None => self.content_schema(answer),
        }?;
        Some((schema, headers))
    }

    /// `content["application/json"].schema` (or the first media type's schema).
    fn content_schema<'a>(&'a self, holder: &'a Value) -> Option<&'a Value> {
        let content = holder.get("content")?.as_object()?;
        let media = content
            .get("application/json")
            .or_else(|| {
                content
                    .iter()
                    .find(|(k, _)| k.contains("json"))
                    .map(|(_, v)| v)
            })
            .or_else(|| content.values().next())?;
        media.get("schema").map(|s| self.deref(s))
    }

    /// An object schema's properties, `allOf` parts merged, each dereferenced; in order.
    pub(super) fn properties<'a>(&'a self, schema: &'a Value) -> Vec<(&'a str, &'a Value)> {
        let mut out = Vec::new();
        self.collect_properties(self.deref(schema), &mut out, 0);
        out
    }

    fn collect_properties<'a>(
        &'a self,
        schema: &'a Value,
        out: &mut Vec<(&'a str, &'a Value)>,
        depth: usize,
    ) {
        if depth > 8 {
            return;
        }
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (name, s) in props {
                if !out.iter().any(|(n, _)| *n == name.as_str()) {
                    out.push((name.as_str(), self.deref(s)));
                }
            }
        }
        for part in schema
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.collect_properties(self.deref(part), out, depth + 1);
        }
    }

    /// Names of the security schemes, with their definitions (OpenAPI 3
    /// `components.securitySchemes`, Swagger 2.0 `securityDefinitions`).
    pub(super) fn security_schemes(&self) -> Vec<(&str, &Value)> {
        self.doc
            .pointer("/components/securitySchemes")
            .or_else(|| self.doc.get("securityDefinitions"))
            .and_then(Value::as_object)
            .map(|m| m.iter().map(|(k, v)| (k.as_str(), self.deref(v))).collect())
            .unwrap_or_default()
    }

    /// The path prefix every path is relative to, and a concrete server URL when the document
    /// names one (`servers[0].url` without variables; Swagger 2.0 `host` + `basePath`).
    pub(super) fn server(&self) -> (String, Option<String>) {
        if let Some(url) = self.doc.pointer("/servers/0/url").and_then(Value::as_str) {
            let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
            let prefix = if url.contains("://") {
                after_scheme.find('/').map_or("", |i| &after_scheme[i..])
            } else {
                url
            };
            let concrete = (url.starts_with("http") && !url.contains('{'))
                .then(|| url.trim_end_matches('/').to_owned());
            return (clean_prefix(prefix), concrete);
        }
        let base = self
            .doc
            .get("basePath")
            .and_then(Value::as_str)
            .unwrap_or("");
        (clean_prefix(base), None)
    }
}

/// A path prefix without template markup (Gitea's `{{AppSubUrl}}`) or variables, no trailing `/`.
fn clean_prefix(prefix: &str) -> String {
    let mut out = String::new();
    for segment in prefix.split('/') {
        if segment.is_empty() || segment.contains('{') || segment.contains('}') {
            continue;
        }
        out.push('/');
        out.push_str(segment);
    }
    out
}

/// One parameter of an operation.
pub(super) struct Param {
    /// Its name as sent.
    pub(super) name: String,
    /// "query", "path", "header", ...
    pub(super) location: String,
    /// Its schema (type, minimum, default).
    pub(super) schema: Value,
}
