//! The SCIM resource operations (`/Users`, `/Groups`, `/.search`) served through a compiled
//! mapping: the I/O-bound middle between the pure protocol core (`scim`), the pure mapping
//! (`mapping`) and the platform (`backend`).

pub mod dispatch;
pub mod journal;
pub mod locks;
pub mod members;
pub mod read;
pub mod steps;
pub mod write;

use serde_json::{Value, json};

use crate::config::{GroupPatchResponse, Unmapped};
use crate::error::{Error, PlatformError};
use crate::mapping::convert::{self, Converted};
use crate::mapping::model::Op;
use crate::mapping::model::{Mapping, ResourceMap};
use crate::mapping::template::{PlatformId, Vars};
use crate::platform::calls::{self as platform, Transport};
use crate::routes::ResourceKind;
use crate::scim::error::ScimError;
use crate::scim::etag;
use crate::scim::filter::FilterOptions;

/// What is percent-encoded in an id placed in a URL path segment: all but RFC 3986 §2.3's
/// unreserved characters (ALPHA / DIGIT / "-" / "." / "_" / "~").
const ID_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A resource as read for a read-modify-write.
#[derive(Debug, Clone)]
pub struct Current {
    /// The resource as SCIM sees it.
    pub conv: Converted,
    /// The platform object as read (at the read's `response` path).
    pub raw: Value,
    /// The platform's `ETag` of it, if it sent one.
    pub etag: Option<http::HeaderValue>,
}

/// Per-request settings of the resource operations.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Page size when the client sends no `count`.
    pub default_page_size: usize,
    /// Largest page served.
    pub max_page_size: usize,
    /// What to do with attributes the mapping does not store.
    pub unmapped: Unmapped,
    /// What a group PATCH answers.
    pub group_patch_response: GroupPatchResponse,
    /// What to do with member ids that name no user.
    pub unknown_members: Unmapped,
    /// Filter parsing options (e.g. Entra's unquoted values).
    pub filter: FilterOptions,
    /// Which audit events are emitted and which values they show.
    pub audit: crate::audit::Policy,
    /// Longest wait for the write lock of a resource.
    pub write_lock_timeout: std::time::Duration,
    /// `upsert_filtered_replace` for PATCH (Entra: a replace on an unmatched value path creates it).
    pub upsert_filtered_replace: bool,
}

impl Settings {
    /// What parsing an operation takes from the settings.
    pub fn limits(&self) -> crate::operation::Limits<'_> {
        crate::operation::Limits {
            max_page_size: self.max_page_size,
            filter: &self.filter,
        }
    }
}

/// Everything one resource operation needs.
pub struct Ctx<'a, T: Transport> {
    /// The compiled mapping.
    pub mapping: &'a Mapping,
    /// How platform calls are sent.
    pub transport: &'a T,
    /// The SCIM base URL the client used (for `Location`, `meta.location`, `$ref`).
    pub base_url: &'a str,
    /// Settings.
    pub settings: &'a Settings,
    /// The process's metrics.
    pub metrics: &'a crate::metrics::Metrics,
    /// Who asked, for the audit log (`None`: a dry run, nothing to audit).
    pub audit: Option<crate::audit::Who<'a>>,
    /// Per-resource write locks.
    pub locks: &'a locks::Locks,
    /// The status of a write refused as a conflict by the platform's optimistic concurrency
    /// (the resource changed since it was read), 0 when none: the operation is read and applied
    /// again.
    pub conflicted: std::sync::atomic::AtomicU16,
}

/// A successful resource operation's outcome.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// 200 with a body (a resource or a ListResponse); `etag` for single resources.
    Ok {
        /// The body.
        body: Value,
        /// The resource's version, for the `ETag` header.
        etag: Option<String>,
    },
    /// 201 with the created resource.
    Created {
        /// The resource.
        body: Value,
        /// Its URL, for the `Location` header.
        location: String,
        /// Its version.
        etag: String,
    },
    /// 204.
    NoContent,
}

impl<'a, T: Transport> Ctx<'a, T> {
    /// The context of one request's resource operation.
    pub fn new(
        mapping: &'a Mapping,
        transport: &'a T,
        base_url: &'a str,
        settings: &'a Settings,
        metrics: &'a crate::metrics::Metrics,
        locks: &'a locks::Locks,
        audit: Option<crate::audit::Who<'a>>,
    ) -> Self {
        Ctx {
            mapping,
            transport,
            base_url,
            settings,
            metrics,
            audit,
            locks,
            conflicted: std::sync::atomic::AtomicU16::new(0),
        }
    }

    /// The mapping of a resource type, or the 400 that says it is not mapped.
    pub fn map(&self, kind: ResourceKind) -> Result<&ResourceMap, Error> {
        self.mapping.resource(kind).ok_or_else(|| {
            Error::Client(ScimError::bad_request_plain(format!(
                "{} are not provisioned to this platform: the mapping has no [{}] section",
                kind.endpoint().trim_start_matches('/'),
                kind.section()
            )))
        })
    }

    /// The URL of a resource. The id is one path segment: everything but RFC 3986's unreserved
    /// characters is percent-encoded (`a-b_c.d~e` stays as it is; `/`, `?`, `#`, `%` and spaces
    /// do not). `.` and `..` cannot be ids (`convert::parse_id` refuses them), so no location
    /// climbs a directory.
    pub fn location(&self, kind: ResourceKind, id: &str) -> String {
        let endpoint = kind.endpoint();
        // Written into one right-sized String: this runs for every resource answered.
        let mut url = String::with_capacity(self.base_url.len() + endpoint.len() + 1 + id.len());
        url.push_str(self.base_url);
        url.push_str(endpoint);
        url.push('/');
        url.extend(percent_encoding::utf8_percent_encode(id, ID_SEGMENT));
        url
    }

    /// Completes a converted resource: members (when fetched), `meta` with location and version.
    /// Returns the resource and its version.
    pub fn finish(
        &self,
        map: &ResourceMap,
        conv: Converted,
        members: Option<Vec<String>>,
    ) -> (Value, String) {
        let Converted { id, mut scim } = conv;
        if let Some(ms) = members {
            if ms.is_empty() {
                if let Some(o) = scim.as_object_mut() {
                    o.remove("members");
                }
            } else {
                scim["members"] = Value::Array(
                    ms.into_iter()
                        .map(|m| {
                            json!({
                                "value": m,
                                "$ref": self.location(ResourceKind::User, &m),
                                "type": "User",
                            })
                        })
                        .collect(),
                );
            }
        } else if let Some(Value::Array(items)) = scim.get_mut("members") {
            for it in items {
                if let Some(v) = it.get("value").and_then(Value::as_str).map(str::to_owned) {
                    it["$ref"] = Value::String(self.location(ResourceKind::User, &v));
                }
            }
        }
        let version = etag::weak_etag(&scim);
        let location = self.location(map.kind, &id.text);
        let fill = |meta: &mut serde_json::Map<String, Value>| {
            meta.insert("resourceType".into(), Value::from(map.kind.name()));
            meta.insert("location".into(), Value::String(location));
            meta.insert("version".into(), Value::String(version.clone()));
        };
        // The mapping's own `meta` (created, lastModified) is completed where it stands, not
        // copied; a resource without one gets a new one at the end, as before.
        match scim.get_mut("meta") {
            Some(Value::Object(meta)) => fill(meta),
            _ => {
                let mut meta = serde_json::Map::with_capacity(3);
                fill(&mut meta);
                scim["meta"] = Value::Object(meta);
            }
        }
        (scim, version)
    }

    /// Reads one resource by platform id; `None` when the platform says 404.
    pub async fn read_one(
        &self,
        map: &ResourceMap,
        id: &PlatformId,
    ) -> Result<Option<Converted>, Error> {
        Ok(self.read_current(map, id).await?.map(|c| c.conv))
    }

    /// Reads one resource by platform id for a read-modify-write: the converted resource, the
    /// platform object as read, and its `ETag`. `None` when the platform says 404.
    pub async fn read_current(
        &self,
        map: &ResourceMap,
        id: &PlatformId,
    ) -> Result<Option<Current>, Error> {
        let Some(op) = &map.read else {
            return Err(Error::Internal("mapping without read".to_owned()));
        };
        let call = platform::build(
            op,
            &Vars {
                id: Some(id),
                member: None,
            },
            None,
        )?;
        let reply = self.transport.send(&call).await?;
        if reply.status == http::StatusCode::NOT_FOUND && !op.ok.contains(&404) {
            return Ok(None);
        }
        if !platform::succeeded(op, &reply) {
            return Err(crate::mapping::platform_errors::classify(
                &self.mapping.errors,
                &reply,
                &format!("{} {}", map.kind.name(), id.text),
                op.label,
            ));
        }
        let obj = platform::object(op, &reply)?.ok_or_else(|| {
            Error::Platform(PlatformError::BadResponse(format!(
                "{}: no object at {} in the platform's answer",
                op.label,
                op.response.as_str()
            )))
        })?;
        let conv = self.convert(map, &obj)?;
        Ok(Some(Current {
            conv,
            raw: obj,
            etag: reply.headers.get(http::header::ETAG).cloned(),
        }))
    }

    /// Takes the write lock of one resource for a read-modify-write (bounded wait).
    pub async fn lock(
        &self,
        kind: ResourceKind,
        id: &PlatformId,
    ) -> Result<locks::Held<'_>, Error> {
        self.locks
            .lock(kind, &id.text, self.settings.write_lock_timeout)
            .await
    }

    /// The status of a write of this request refused as a conflict, if one was (and clears it).
    fn take_conflict(&self) -> Option<u16> {
        match self
            .conflicted
            .swap(0, std::sync::atomic::Ordering::Relaxed)
        {
            0 => None,
            s => Some(s),
        }
    }

    /// After one attempt of a read-modify-write: `true` when its write was refused as a
    /// conflict and attempts are left, after a short, jittered pause (so competing replicas fall
    /// out of step): read and apply it again. Otherwise `false`, and `result` is the answer; a
    /// conflict still there after the last attempt is 503 with `Retry-After` when the platform
    /// said 412 (the resource keeps changing: transient), while other statuses keep their mapped
    /// meaning (a 409 may also be a taken name).
    pub async fn reapply<R>(
        &self,
        result: &mut Result<R, Error>,
        attempt: u32,
        attempts: u32,
    ) -> bool {
        if result.is_ok() {
            return false;
        }
        let Some(status) = self.take_conflict() else {
            return false;
        };
        if attempt < attempts {
            let jitter = u64::from(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.subsec_nanos())
                    % 20,
            );
            tokio::time::sleep(std::time::Duration::from_millis(
                5 * u64::from(attempt) + jitter,
            ))
            .await;
            return true;
        }
        if status == 412 {
            *result = Err(Error::Platform(PlatformError::Contended {
                retry_after_secs: 1,
            }));
        }
        false
    }

    /// Sends a write that follows a read of the same resource, with the platform's optimistic
    /// concurrency when the mapping declares one: the version field of the object read is copied
    /// into the body, its `ETag` sent as `If-Match`. A conflict status marks the request
    /// (`Ctx::reapply`) so that the whole operation is read and applied again.
    pub async fn write_after_read(
        &self,
        map: &ResourceMap,
        op: &Op,
        vars: &Vars<'_>,
        mut body: Option<Value>,
        what: &str,
        current: &Current,
    ) -> Result<crate::platform::Reply, Error> {
        let mut if_match = None;
        if let Some(c) = &map.concurrency {
            if let (Some(f), Some(b)) = (&c.version_field, body.as_mut())
                && let Some(v) = f.get(&current.raw)
            {
                f.set(b, v.clone());
            }
            if c.etag {
                if_match = current.etag.clone();
            }
        }
        let mut call = platform::build(op, vars, body)?;
        call.if_match = if_match;
        let reply = self.transport.send(&call).await?;
        if platform::succeeded(op, &reply) {
            let failed = crate::mapping::platform_errors::success_error(
                &self.mapping.errors,
                &reply,
                op.label,
            );
            return failed.map_or(Ok(reply), Err);
        }
        let status = reply.status.as_u16();
        if map
            .concurrency
            .as_ref()
            .is_some_and(|c| c.conflict.contains(&status))
        {
            self.conflicted
                .store(status, std::sync::atomic::Ordering::Relaxed);
            tracing::info!(
                operation = op.label,
                status,
                "the platform refused a write as a conflict (the resource changed since it was read)"
            );
        }
        Err(crate::mapping::platform_errors::classify(
            &self.mapping.errors,
            &reply,
            what,
            op.label,
        ))
    }

    /// Converts a platform object, treating a failure as the platform's fault.
    pub fn convert(&self, map: &ResourceMap, obj: &Value) -> Result<Converted, Error> {
        convert::to_scim(map, obj).map_err(|e| Error::Platform(PlatformError::BadResponse(e)))
    }

    /// How User ids (and so group member ids) are typed.
    pub fn member_id_type(&self) -> crate::mapping::model::IdType {
        self.mapping
            .users
            .as_ref()
            .map_or(crate::mapping::model::IdType::String, |u| u.id_type)
    }

    /// The platform id a SCIM id names, or the 404 for ids that cannot name one.
    pub fn parse_id(&self, map: &ResourceMap, id: &str) -> Result<PlatformId, Error> {
        convert::parse_id(map.id_type, id).ok_or_else(|| not_found(map, id))
    }
}

/// The 404 for a resource.
pub fn not_found(map: &ResourceMap, id: &str) -> Error {
    Error::Client(ScimError::not_found(format!(
        "{} {id:?} not found",
        map.kind.name()
    )))
}

/// The 400 for an operation the mapping does not provide.
pub fn unsupported(map: &ResourceMap, what: &str, section: &str) -> Error {
    Error::Client(ScimError::bad_request_plain(format!(
        "{what} {} is not supported by this platform's mapping (no [{}.{section}])",
        map.kind.endpoint().trim_start_matches('/'),
        map.kind.section()
    )))
}
