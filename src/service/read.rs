//! Reading resources: one by id, lists with filters and paging, and `POST /.search`.
//!
//! A filter is pushed down to the platform where the mapping allows (`id eq` becomes a read by
//! id, mapped comparisons become query parameters) and always re-checked here. Anything else is
//! evaluated over the pages read, one page in memory at a time, up to the scan limit.

use serde_json::Value;

use crate::error::Error;
use crate::mapping::convert::{self, Converted};
use crate::mapping::model::{Paging as PlatformPaging, ResourceMap, Total};
use crate::mapping::pushdown;
use crate::mapping::template::Vars;
use crate::routes::ResourceKind;
use crate::scim::error::ScimError;
use crate::scim::filter::{self, Filter};
use crate::scim::list::{self, Paging, SearchRequest};
use crate::service::platform::{self, Flow, Start, Transport};
use crate::service::{Ctx, Outcome, Projection, members, not_found, unsupported};

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

/// Parses and checks a filter for a resource type.
pub fn parse_filter<T: Transport>(
    ctx: &Ctx<'_, T>,
    map: &ResourceMap,
    text: &str,
) -> Result<Filter, Error> {
    let f = filter::parse_with(text, &ctx.settings.filter)?;
    let mut fired = Vec::new();
    let f = ctx.normalizer.filter(f, &map.schema, &mut fired);
    ctx.record(fired);
    filter::check(&f, &map.schema)?;
    Ok(f)
}

/// `GET /{Resources}/{id}`.
pub async fn get<T: Transport>(
    ctx: &Ctx<'_, T>,
    kind: ResourceKind,
    id: &str,
    proj: &Projection,
) -> Result<Outcome, Error> {
    let map = ctx.map(kind)?;
    let pid = ctx.parse_id(map, id)?;
    let conv = ctx
        .read_one(map, &pid)
        .await?
        .ok_or_else(|| not_found(map, id))?;
    let ms = members::fetch(ctx, map, &conv.id, proj.wants_members()).await?;
    let (res, version) = ctx.finish(map, conv, ms);
    Ok(Outcome::Ok {
        body: proj.apply(res, map),
        etag: Some(version),
    })
}

/// `GET /{Resources}` and `POST /{Resources}/.search`. A resource type the mapping does not
/// serve answers an empty list, so Entra's Test Connection probe of `/Groups` succeeds on a
/// platform without groups (Entra quirks 20, 21).
pub async fn list<T: Transport>(
    ctx: &Ctx<'_, T>,
    kind: ResourceKind,
    q: &ListQuery,
) -> Result<Outcome, Error> {
    let Some(map) = ctx.mapping.resource(kind) else {
        return Ok(Outcome::Ok {
            body: list::list_response(0, q.paging.start_index, Vec::new()),
            etag: None,
        });
    };
    let count = q
        .paging
        .count
        .unwrap_or(ctx.settings.default_page_size)
        .min(ctx.settings.max_page_size);
    let (total, found) = select(ctx, map, q.filter.as_ref(), q.paging.start_index, count).await?;
    let wants = q.projection.wants_members();
    let mut resources = Vec::with_capacity(found.len());
    for conv in found {
        let ms = members::fetch(ctx, map, &conv.id, wants).await?;
        let (res, _) = ctx.finish(map, conv, ms);
        resources.push(q.projection.apply(res, map));
    }
    Ok(Outcome::Ok {
        body: list::list_response(total, q.paging.start_index, resources),
        etag: None,
    })
}

/// Finds the resources of one page: the total and the converted resources in the window
/// `[start_index - 1, start_index - 1 + count)`.
pub async fn select<T: Transport>(
    ctx: &Ctx<'_, T>,
    map: &ResourceMap,
    f: Option<&Filter>,
    start_index: usize,
    count: usize,
) -> Result<(usize, Vec<Converted>), Error> {
    let start0 = start_index.saturating_sub(1);
    let window = start0..start0.saturating_add(count);
    let plan = f.map(|f| pushdown::plan(f, map)).unwrap_or_default();
    if plan.impossible {
        return Ok((0, Vec::new()));
    }
    if let (Some(f), Some(id)) = (f, &plan.by_id) {
        let found = match convert::parse_id(map.id_type, id) {
            Some(pid) => ctx.read_one(map, &pid).await?,
            None => None,
        };
        let hit = found.filter(|c| filter::matches(f, &c.scim, &map.schema));
        let total = usize::from(hit.is_some());
        return Ok((
            total,
            hit.into_iter().filter(|_| window.contains(&0)).collect(),
        ));
    }
    let spec = map
        .list
        .as_ref()
        .ok_or_else(|| unsupported(map, "listing", "list"))?;
    let vars = Vars::default();
    if f.is_none()
        && !matches!(spec.total, Total::Absent)
        && matches!(
            spec.paging,
            PlatformPaging::Page { .. } | PlatformPaging::Offset { .. }
        )
    {
        return window_fetch(ctx, map, start0, count).await;
    }
    let mut matched = 0usize;
    let mut keep = Vec::new();
    let scanned = platform::scan(
        ctx.transport,
        ctx.mapping,
        spec,
        &vars,
        &plan.params,
        |item| {
            match f {
                Some(f) => {
                    let c = ctx.convert(map, &item)?;
                    if filter::matches(f, &c.scim, &map.schema) {
                        if window.contains(&matched) {
                            keep.push(c);
                        }
                        matched += 1;
                    }
                }
                None => {
                    if window.contains(&matched) {
                        keep.push(ctx.convert(map, &item)?);
                    }
                    matched += 1;
                }
            }
            Ok(Flow::Continue)
        },
    )
    .await?;
    if scanned.truncated {
        let pushable: Vec<&str> = map.pushdown.iter().map(|r| r.attribute.as_str()).collect();
        return Err(Error::Client(ScimError::too_many(format!(
            "answering this would read more than {} {} from the platform (scan_limit); filter with {} so the platform can narrow the search",
            spec.scan_limit,
            map.kind.endpoint().trim_start_matches('/'),
            if pushable.is_empty() {
                "id eq \"...\"".to_owned()
            } else {
                format!("{} eq \"...\"", pushable.join(" eq, "))
            }
        ))));
    }
    Ok((matched, keep))
}

/// An unfiltered page read straight from the platform's own paging: only the platform pages
/// overlapping the window are fetched.
async fn window_fetch<T: Transport>(
    ctx: &Ctx<'_, T>,
    map: &ResourceMap,
    start0: usize,
    count: usize,
) -> Result<(usize, Vec<Converted>), Error> {
    let Some(spec) = map.list.as_ref() else {
        return Err(unsupported(map, "listing", "list"));
    };
    let size = spec.page_size;
    let start0_u = start0 as u64;
    let mut skip = match spec.paging {
        PlatformPaging::Page { .. } => usize::try_from(start0_u % size).unwrap_or(0),
        _ => 0,
    };
    let mut start = Start::Item(start0_u);
    let mut total = None;
    let mut out = Vec::new();
    loop {
        let p = platform::page(
            ctx.transport,
            ctx.mapping,
            spec,
            &Vars::default(),
            &[],
            &start,
        )
        .await?;
        if total.is_none() {
            total = p.total;
        }
        for item in p.items.into_iter().skip(skip) {
            if out.len() >= count {
                break;
            }
            out.push(ctx.convert(map, &item)?);
        }
        skip = 0;
        match p.next {
            Some(n) if out.len() < count => start = Start::From(n),
            _ => break,
        }
    }
    let total = usize::try_from(total.unwrap_or(0)).unwrap_or(usize::MAX);
    Ok((total, out))
}

/// `POST /.search` (all resource types, `kind = None`) and `POST /{Resources}/.search`.
pub async fn search<T: Transport>(
    ctx: &Ctx<'_, T>,
    kind: Option<ResourceKind>,
    body: &Value,
) -> Result<Outcome, Error> {
    let req: SearchRequest = list::parse_search_request(body)?;
    let paging = req.paging(ctx.settings.max_page_size);
    let projection = Projection {
        attributes: req.attributes.clone(),
        excluded: req.excluded_attributes.clone(),
    };
    if let Some(kind) = kind {
        let filter = match (&req.filter, ctx.mapping.resource(kind)) {
            (Some(text), Some(map)) => Some(parse_filter(ctx, map, text)?),
            _ => None,
        };
        return list(
            ctx,
            kind,
            &ListQuery {
                filter,
                paging,
                projection,
            },
        )
        .await;
    }
    // Root search: users then groups, paged as one sequence.
    let count = paging
        .count
        .unwrap_or(ctx.settings.default_page_size)
        .min(ctx.settings.max_page_size);
    let mut start = paging.start_index;
    let mut remaining = count;
    let mut total = 0usize;
    let mut resources = Vec::new();
    for kind in [ResourceKind::User, ResourceKind::Group] {
        let Some(map) = ctx.mapping.resource(kind) else {
            continue;
        };
        // A filter naming attributes only one resource type has matches nothing in the other.
        let filter = match &req.filter {
            Some(text) => match parse_filter(ctx, map, text) {
                Ok(f) => Some(f),
                Err(Error::Client(e))
                    if e.detail.contains("unknown attribute")
                        || e.detail.contains("not an attribute") =>
                {
                    continue;
                }
                Err(e) => return Err(e),
            },
            None => None,
        };
        let (n, found) = select(ctx, map, filter.as_ref(), start, remaining).await?;
        total += n;
        start = start.saturating_sub(n).max(1);
        remaining -= found.len().min(remaining);
        let wants = projection.wants_members();
        for conv in found {
            let ms = members::fetch(ctx, map, &conv.id, wants).await?;
            let (res, _) = ctx.finish(map, conv, ms);
            resources.push(projection.apply(res, map));
        }
    }
    Ok(Outcome::Ok {
        body: list::list_response(total, paging.start_index, resources),
        etag: None,
    })
}
