//! The access line built without `tracing` has the shape `tracing-subscriber`'s formatters give
//! the same event.

use super::*;
use crate::auth::{Method as AuthMethod, Principal};
use serde_json::Value;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A writer into shared memory, for a capturing subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The line `tracing-subscriber` writes for `l` (JSON, flattened, as `logging::init` sets it up).
fn through_tracing(l: &AccessLine<'_>, json: bool) -> String {
    let out = Captured::default();
    let writer = out.clone();
    let builder = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone());
    if json {
        let subscriber = builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || access_log(l));
    } else {
        tracing::subscriber::with_default(builder.finish(), || access_log(l));
    }
    let bytes = out.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

/// The line the direct path writes for `l`.
fn direct(l: &AccessLine<'_>, json: bool) -> String {
    let duration_ms = (l.started.elapsed().as_secs_f64() * 1_000_000.0).round() / 1000.0;
    let auth = l.principal.map_or("-", |p| p.method.as_str());
    let (token, client) = match l.principal {
        Some(p) if p.method == AuthMethod::Token => (&*p.token_name, "-"),
        Some(p) => ("-", &*p.token_name),
        None => ("-", "-"),
    };
    let f = fields(l, duration_ms, auth, token, client);
    let mut out = Vec::new();
    if json {
        line::json(&mut out, &f);
    } else {
        line::text(&mut out, &f);
    }
    String::from_utf8(out).unwrap()
}

fn without_timestamp(line: &str) -> serde_json::Map<String, Value> {
    let mut v: serde_json::Map<String, Value> = serde_json::from_str(line).unwrap();
    let ts = v.remove("timestamp").unwrap();
    // RFC 3339 UTC with microseconds, e.g. 2026-12-05T00:18:32.123456Z.
    let ts = ts.as_str().unwrap();
    assert_eq!(ts.len(), 27, "{ts}");
    assert!(ts.ends_with('Z') && ts.as_bytes()[19] == b'.', "{ts}");
    v
}

#[tokio::test(start_paused = true)]
async fn the_direct_json_line_is_the_line_tracing_writes() {
    let token = Principal {
        token_name: Arc::from("entra-2026"),
        method: AuthMethod::Token,
    };
    let oauth = Principal {
        token_name: Arc::from("client \"x\"\n"),
        method: AuthMethod::OAuth,
    };
    let started = Instant::now();
    tokio::time::advance(Duration::from_micros(12_345)).await;
    let faults = [
        None,
        Some((
            Fault::Client,
            "bad filter: \"userName eq\" \\ \u{1}\ttab é".to_owned(),
        )),
        Some((Fault::Platform, "platform answered 503".to_owned())),
        Some((Fault::Sidecar, "internal: oops".to_owned())),
    ];
    let quirks: [&[&'static str]; 3] = [&[], &["a"], &["capitalised_op", "string_bool"]];
    let mut n = 0;
    for fault in faults {
        for q in quirks {
            for principal in [None, Some(&token), Some(&oauth)] {
                let l = AccessLine {
                    method: &Method::PATCH,
                    path: "/scim/v2/Users/a\"b\\c\u{7f}ü",
                    status: StatusCode::BAD_REQUEST,
                    started,
                    request_id: "req-1",
                    principal,
                    quirks: q,
                    peer: "[::1]:4242".parse().unwrap(),
                    fault: fault.clone(),
                };
                let expected = through_tracing(&l, true);
                let got = direct(&l, true);
                assert!(
                    got.ends_with('\n') && got.matches('\n').count() == 1,
                    "{got}"
                );
                assert_eq!(
                    without_timestamp(&got),
                    without_timestamp(&expected),
                    "\n{got}{expected}"
                );
                // Same keys in the same order, and the same text past the timestamp.
                assert_eq!(got[40..], expected[40..], "\n{got}{expected}");
                n += 1;
            }
        }
    }
    assert_eq!(n, 36);
}

#[tokio::test(start_paused = true)]
async fn the_direct_text_line_is_the_line_tracing_writes() {
    let p = Principal {
        token_name: Arc::from("entra"),
        method: AuthMethod::Token,
    };
    let started = Instant::now();
    tokio::time::advance(Duration::from_micros(500)).await;
    for fault in [
        None,
        Some((Fault::Platform, "platform answered 503".to_owned())),
    ] {
        let l = AccessLine {
            method: &Method::GET,
            path: "/scim/v2/Users/1",
            status: StatusCode::OK,
            started,
            request_id: "r\"1",
            principal: Some(&p),
            quirks: &["a", "b"],
            peer: "127.0.0.1:5555".parse().unwrap(),
            fault,
        };
        let expected = through_tracing(&l, false);
        let got = direct(&l, false);
        // Past the timestamp (27 characters), the same text.
        assert_eq!(got[27..], expected[27..], "\n{got}{expected}");
    }
}
