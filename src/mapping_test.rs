//! `scim-sidecar test`: mapping tests. Each fixture case sends one SCIM request through the
//! request pipeline's resource stages (`explain::run`) against the recording transport replaying
//! the case's canned platform answers, then compares the calls made and the SCIM answer with the
//! case's expectations. Offline: no platform, no listener. Format: docs/mapping-tests.md.

pub mod compare;
pub mod fixture;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use std::path::{Path, PathBuf};

use crate::app::Runtime;
use crate::explain::{self, DryRun};
use crate::mapping::model::Mapping;
use crate::platform::Reply;
use crate::request::{Input, Query};
use crate::routes::{self, Endpoint};
use fixture::Case;

/// The result of a test run: the printed report and the counts.
#[derive(Debug, Default)]
pub struct Report {
    /// What to print: per case `ok` or `FAIL` with the differences, then the summary line.
    pub text: String,
    /// Cases that passed.
    pub passed: usize,
    /// Cases that failed.
    pub failed: usize,
}

/// A case made ready to run: request and canned answers checked.
struct Prepared<'c> {
    case: &'c Case,
    method: Method,
    endpoint: Endpoint,
    input: Input,
    answers: Vec<Reply>,
}

/// Runs every case of every file. `Err` (with every problem, each naming file and case) when a
/// file cannot be read or a case is malformed: nothing runs then.
pub async fn run(rt: &Runtime, files: &[PathBuf]) -> Result<Report, String> {
    let Some(mapping) = rt.config.scim.mapping.as_deref() else {
        return Err("the configuration names no mapping ([scim] mapping)".to_owned());
    };
    let mut loaded = Vec::new();
    let mut errors = Vec::new();
    for path in files {
        match fixture::load(path) {
            Ok(f) if f.cases.is_empty() => {
                errors.push(format!("{}: no [[case]] in the file", path.display()));
            }
            Ok(f) => loaded.push((path, f)),
            Err(e) => errors.push(e),
        }
    }
    let mut prepared = Vec::new();
    for (path, file) in &loaded {
        let mut cases = Vec::new();
        for case in &file.cases {
            match prepare(rt, case) {
                Ok(p) => cases.push(p),
                Err(e) => errors.push(format!("{}: case {:?}: {e}", path.display(), case.name)),
            }
        }
        prepared.push((path, cases));
    }
    if !errors.is_empty() {
        return Err(errors.join("\n"));
    }
    let mut report = Report::default();
    for (path, cases) in prepared {
        report.text.push_str(&format!("{}\n", path.display()));
        for p in cases {
            let name = p.case.name.clone();
            let diffs = run_case(rt, mapping, p).await;
            if diffs.is_empty() {
                report.passed += 1;
                report.text.push_str(&format!("  ok   {name}\n"));
            } else {
                report.failed += 1;
                report.text.push_str(&format!("  FAIL {name}\n"));
                for d in diffs {
                    report.text.push_str(&format!("       {d}\n"));
                }
            }
        }
    }
    report.text.push_str(&format!(
        "{} passed, {} failed\n",
        report.passed, report.failed
    ));
    Ok(report)
}

fn prepare<'c>(rt: &Runtime, case: &'c Case) -> Result<Prepared<'c>, String> {
    let r = &case.request;
    let method = Method::from_bytes(r.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| format!("request.method = {:?} is not an HTTP method", r.method))?;
    let base = &rt.config.scim.base_path;
    let endpoint = routes::route(base, &r.path)
        .ok()
        .filter(|e| {
            matches!(
                e,
                Endpoint::Collection(_) | Endpoint::Resource(..) | Endpoint::Search(_)
            )
        })
        .ok_or_else(|| {
            format!(
                "request.path = {:?} is not a SCIM resource path under {base:?} (e.g. {base}/Users/17)",
                r.path
            )
        })?;
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(r.query.iter())
        .finish();
    let body = r.body.as_ref().map(fixture::body_bytes).unwrap_or_default();
    let input = Input::new(
        Query::parse((!query.is_empty()).then_some(query.as_str())),
        body,
    );
    let mut answers = Vec::new();
    for (i, c) in case.calls.iter().enumerate() {
        let n = i + 1;
        Method::from_bytes(c.method.to_ascii_uppercase().as_bytes())
            .map_err(|_| format!("calls[{n}].method = {:?} is not an HTTP method", c.method))?;
        if let Some(b) = &c.body {
            fixture::expected_json(b).map_err(|e| format!("calls[{n}].body: {e}"))?;
        }
        let status = StatusCode::from_u16(c.answer.status).map_err(|_| {
            format!(
                "calls[{n}].answer.status = {} is not an HTTP status",
                c.answer.status
            )
        })?;
        let mut headers = HeaderMap::new();
        for (k, v) in &c.answer.headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| format!("calls[{n}].answer.headers: {k:?} is not a header name"))?;
            let value = HeaderValue::from_str(v).map_err(|_| {
                format!("calls[{n}].answer.headers.{k} = {v:?} is not a header value")
            })?;
            headers.append(name, value);
        }
        answers.push(Reply {
            status,
            headers,
            body: c
                .answer
                .body
                .as_ref()
                .map(fixture::body_bytes)
                .unwrap_or_default(),
        });
    }
    StatusCode::from_u16(case.expect.status).map_err(|_| {
        format!(
            "expect.status = {} is not an HTTP status",
            case.expect.status
        )
    })?;
    if let Some(b) = &case.expect.body {
        fixture::expected_json(b).map_err(|e| format!("expect.body: {e}"))?;
    }
    Ok(Prepared {
        case,
        method,
        endpoint,
        input,
        answers,
    })
}

/// Runs one case; returns its differences (none: it passed).
async fn run_case(rt: &Runtime, mapping: &Mapping, p: Prepared<'_>) -> Vec<String> {
    let dry = DryRun::replay(mapping, p.answers);
    let (_, response) = explain::run(rt, mapping, &dry, p.endpoint, &p.method, p.input).await;
    let status = response.status();
    let headers = response.headers().clone();
    let body: Bytes = response
        .into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let mut out = Vec::new();
    compare::calls(&p.case.calls, &dry.calls(), &mut out);
    let expect = &p.case.expect;
    if status.as_u16() != expect.status {
        let detail = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v.get("detail").cloned())
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        out.push(format!(
            "answer status: expected {}, got {}{detail}",
            expect.status,
            status.as_u16()
        ));
    }
    for (k, v) in &expect.headers {
        let got: Vec<&str> = headers
            .get_all(k.as_str())
            .iter()
            .map(|h| h.to_str().unwrap_or("<not text>"))
            .collect();
        match got.as_slice() {
            [] => out.push(format!("answer header {k}: expected {v:?}, got missing")),
            [one] if one == v => {}
            _ => out.push(format!("answer header {k}: expected {v:?}, got {got:?}")),
        }
    }
    if let Some(b) = &expect.body
        && let Ok(expected) = fixture::expected_json(b)
    {
        match serde_json::from_slice::<Value>(&body) {
            Ok(actual) => compare::subset("answer body", "", &expected, Some(&actual), &mut out),
            Err(_) => out.push(format!(
                "answer body: expected {expected}, got {:?}",
                String::from_utf8_lossy(&body)
            )),
        }
    }
    out
}

/// The fixture files of a directory (`*.toml`, sorted), for callers that take a folder.
pub fn files_in(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests;
