//! Reading resources: one by id, lists with filters and paging, and `POST /.search`.
//!
//! A filter is pushed down to the platform where the mapping allows (`id eq` becomes a read by
//! id, mapped comparisons become query parameters) and always re-checked here. Anything else is
//! evaluated over the pages read, one page in memory at a time, up to the scan limit. An
//! unfiltered list, or one whose filter the platform evaluates exactly, is read through the
//! platform's own paging, with the platform's total, its count call, or an honest lower bound.

use serde_json::Value;

use crate::error::Error;
use crate::mapping::convert::{self, Converted};
use crate::mapping::model::{Fidelity, Paging as PlatformPaging, ResourceMap, Total};
use crate::mapping::pushdown;
use crate::mapping::template::Vars;
use crate::operation::{FilterError, FilterText, ListQuery, Projection};
use crate::platform::calls::{self as platform, Flow, Start, Transport};
use crate::routes::ResourceKind;
use crate::scim::error::ScimError;
use crate::scim::filter::{self, Filter};
use crate::scim::list::{self, Paging};
use crate::service::{Ctx, Outcome, members, not_found, unsupported};

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
    // The platform's own paging answers an unfiltered list, and a filter it evaluates exactly,
    // as long as it can count what it lists (its total, a count call taking the filter's
    // parameters, or no total at all, answered honestly).
    let countable = match (&spec.total, &spec.count) {
        (Total::Absent, Some(c)) => plan.params.is_empty() || c.filters,
        _ => true,
    };
    if (f.is_none() || plan.exact) && countable {
        return window_fetch(ctx, map, f, &plan.params, start0, count).await;
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
        // The comparisons the platform can narrow (rules it matches too strictly for are not).
        let mut pushable: Vec<String> = Vec::new();
        for r in &map.pushdown {
            if r.fidelity == Fidelity::Stricter && !r.allow_stricter {
                continue;
            }
            let c = format!("{} {} \"...\"", r.attribute, r.op.as_str());
            if !pushable.contains(&c) {
                pushable.push(c);
            }
        }
        return Err(Error::Client(ScimError::too_many(format!(
            "answering this would read more than {} {} from the platform (scan_limit); filter with {} so the platform can narrow the search",
            spec.scan_limit,
            map.kind.endpoint().trim_start_matches('/'),
            if pushable.is_empty() {
                "id eq \"...\"".to_owned()
            } else {
                pushable.join(", ")
            }
        ))));
    }
    Ok((matched, keep))
}

/// A page read straight from the platform's own paging: for page and offset paging only the
/// platform pages overlapping the window are fetched; other paging styles are walked from the
/// start (up to the scan limit). `params` is an exactly pushed-down filter, whose results are
/// still checked against `f`.
///
/// The total is the platform's (in its answers, or from the count call). A platform that gives
/// none is answered with what is known: when the read reached the end, the exact count; when
/// more items exist, `startIndex - 1 + itemsPerPage + 1`, a lower bound that tells the client
/// to ask for the next page without claiming more than the sidecar knows.
///
/// A platform answering a page past the end with its last page again is detected: against the
/// total when there is one, else against the page before it (read once for a jump).
async fn window_fetch<T: Transport>(
    ctx: &Ctx<'_, T>,
    map: &ResourceMap,
    f: Option<&Filter>,
    params: &[(String, String)],
    start0: usize,
    count: usize,
) -> Result<(usize, Vec<Converted>), Error> {
    let Some(spec) = map.list.as_ref() else {
        return Err(unsupported(map, "listing", "list"));
    };
    let vars = Vars::default();
    let size = spec.page_size;
    let start0_u = start0 as u64;
    let jumps = matches!(
        spec.paging,
        PlatformPaging::Page { .. } | PlatformPaging::Offset { .. }
    );
    // A count call is made first for a jump (it tells a page past the end), else only when the
    // read does not reach the end (a lookup whose answer fits one page needs no count).
    let mut total = match &spec.count {
        Some(c) if start0 > 0 => {
            Some(platform::count(ctx.transport, ctx.mapping, c, &vars, params).await?)
        }
        _ => None,
    };
    let mut start = if jumps {
        Start::Item(start0_u)
    } else {
        Start::First
    };
    // The index in the collection of the next item read.
    let mut at = 0u64;
    // The index just past the last item seen: the size of the collection once the end is read.
    let mut seen_end = 0u64;
    let mut previous_first: Option<Value> = None;
    let mut first_page = true;
    let mut out = Vec::new();
    let mut more = false;
    let mut reached_end = false;
    let mut read = 0u64;
    loop {
        let mut p = platform::page(ctx.transport, ctx.mapping, spec, &vars, params, &start).await?;
        if total.is_none() {
            total = p.total;
        }
        if let Some(i) = p.first_item {
            at = i;
        }
        let past_total = matches!((p.first_item, total), (Some(i), Some(t)) if i >= t);
        if past_total || platform::repeats(spec, previous_first.as_ref(), &p) {
            p.items.clear();
            p.next = None;
        } else if first_page && total.is_none() && !p.items.is_empty() {
            // A jump without a total: the page before must differ, or this one repeats it.
            if let Some(i) = p.first_item.filter(|i| *i > 0) {
                let before = platform::page(
                    ctx.transport,
                    ctx.mapping,
                    spec,
                    &vars,
                    params,
                    &Start::Item(i.saturating_sub(size)),
                )
                .await?;
                if platform::repeats(spec, before.items.first(), &p) {
                    p.items.clear();
                    p.next = None;
                }
            }
        }
        let jumped_past_end = first_page && p.items.is_empty() && start0 > 0 && jumps;
        first_page = false;
        if jumped_past_end && total.is_none() {
            // Past the end of a platform that gives no total: how many items there are is
            // learnt by reading from the start (up to the scan limit; past it, a lower bound).
            let scanned = platform::scan(ctx.transport, ctx.mapping, spec, &vars, params, |_| {
                Ok(Flow::Continue)
            })
            .await?;
            seen_end = scanned.read;
            reached_end = true;
            break;
        }
        previous_first = p.items.first().cloned();
        read += p.items.len() as u64;
        seen_end = seen_end.max(at + p.items.len() as u64);
        for item in p.items {
            let index = at;
            at += 1;
            if index < start0_u {
                continue;
            }
            if out.len() >= count {
                more = true;
                break;
            }
            let c = ctx.convert(map, &item)?;
            if f.is_none_or(|f| filter::matches(f, &c.scim, &map.schema)) {
                out.push(c);
            }
        }
        let Some(n) = p.next else {
            reached_end = true;
            break;
        };
        // Once the window is full, one more page only serves to know whether more exist.
        if more || (out.len() >= count && total.is_some()) {
            break;
        }
        // Walking to startIndex is bounded; the window itself is bounded by `count`.
        if at < start0_u && read >= spec.scan_limit {
            return Err(Error::Client(ScimError::too_many(format!(
                "reaching startIndex {} would read more than {} {} from the platform (scan_limit), whose paging cannot start there",
                start0 + 1,
                spec.scan_limit,
                map.kind.endpoint().trim_start_matches('/'),
            ))));
        }
        start = Start::From(n);
    }
    let total = match (total, &spec.count) {
        (Some(t), _) => t,
        (None, _) if reached_end => seen_end,
        (None, Some(c)) => platform::count(ctx.transport, ctx.mapping, c, &vars, params).await?,
        (None, None) if more => (start0 + out.len()) as u64 + 1,
        (None, None) => seen_end,
    };
    let total = usize::try_from(total).unwrap_or(usize::MAX);
    Ok((total, out))
}

/// `POST /.search`: users then groups, paged as one sequence. A filter naming attributes only
/// one resource type has matches nothing in the other.
pub async fn search<T: Transport>(
    ctx: &Ctx<'_, T>,
    paging: &Paging,
    projection: &Projection,
    filter: Option<&FilterText>,
) -> Result<Outcome, Error> {
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
        let filter = match filter {
            Some(text) => match text.for_kind(kind, &map.schema, &ctx.settings.filter) {
                Ok(f) => Some(f),
                Err(FilterError::UnknownAttribute(_)) => continue,
                Err(e) => return Err(e.into()),
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
