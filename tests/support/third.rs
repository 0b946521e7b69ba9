//! A third test platform, shaped like the directory APIs that lose data when mapped naively
//! (Keycloak's admin API, json-server): PUT only (no partial update), so every write carries the
//! whole object, which holds fields no mapping covers (`phone`, `attributes.department`, ...);
//! members embedded in the team object as an id array, and also held on each user (`teams`);
//! lists as bare arrays with no total; ids with `-`, `_` and `.` in them. Optional optimistic
//! concurrency: an `ETag` checked against `If-Match` (412), or a `version` field checked in the
//! body (409). A read delay widens the window between a client's read and its write, so lost
//! updates show. Header auth (`X-Token`). Every request is logged.
#![allow(dead_code)]

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const SECRET: &str = "third-platform-secret";
pub const SECRET_ENV: &str = "THIRD_PLATFORM_TOKEN";

/// How the platform checks concurrent writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Check {
    /// Last write wins (most platforms).
    #[default]
    None,
    /// `ETag: "<version>"` on reads; a PUT whose `If-Match` names another version gets 412.
    Etag,
    /// A PUT whose body `version` is not the current one gets 409 `version_conflict`.
    Version,
}

/// Numbers the platforms a test binary starts, so ids differ between them.
static INSTANCES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

#[derive(Default)]
pub struct State {
    /// This platform's number, part of every id it hands out.
    pub instance: u64,
    pub people: BTreeMap<String, Value>,
    pub teams: BTreeMap<String, Value>,
    pub next: u64,
    pub check: Check,
    /// Delay before a read by id answers (with the state as it was when the read came in).
    pub read_delay: Duration,
    /// Writes refused as conflicts (412 or 409).
    pub conflicts: u64,
    /// (method, path and query) of every request.
    pub log: Vec<(String, String)>,
}

#[derive(Clone)]
pub struct Third {
    pub state: Arc<Mutex<State>>,
    pub addr: SocketAddr,
}

impl Third {
    pub async fn spawn() -> Third {
        let state = Arc::new(Mutex::new(State {
            instance: INSTANCES.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            ..State::default()
        }));
        let s = state.clone();
        let addr = super::serve(move |req| handle(s.clone(), req)).await;
        Third { state, addr }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set_check(&self, check: Check) {
        self.state.lock().expect("lock").check = check;
    }

    pub fn set_read_delay(&self, d: Duration) {
        self.state.lock().expect("lock").read_delay = d;
    }

    pub fn conflicts(&self) -> u64 {
        self.state.lock().expect("lock").conflicts
    }

    pub fn log(&self) -> Vec<(String, String)> {
        self.state.lock().expect("lock").log.clone()
    }

    pub fn count(&self, method: &str, prefix: &str) -> usize {
        self.log()
            .iter()
            .filter(|(m, p)| m == method && p.starts_with(prefix))
            .count()
    }

    /// A person as the platform holds it (read through its own state, not the sidecar).
    pub fn person(&self, id: &str) -> Option<Value> {
        self.state.lock().expect("lock").people.get(id).cloned()
    }

    pub fn team(&self, id: &str) -> Option<Value> {
        self.state.lock().expect("lock").teams.get(id).cloned()
    }

    /// Sets a field of a person directly on the platform (as another of its clients would).
    pub fn set_person_field(&self, id: &str, field: &str, v: Value) {
        let mut st = self.state.lock().expect("lock");
        let p = st.people.get_mut(id).expect("person");
        p[field] = v;
    }

    /// Adds a person directly on the platform; returns its id.
    pub fn add_person(&self, login: &str) -> String {
        let mut st = self.state.lock().expect("lock");
        st.next += 1;
        let id = format!("p_{}-{}.y", st.next, st.instance);
        st.people.insert(
            id.clone(),
            json!({"id": id, "login": login, "enabled": true, "teams": [], "version": 1}),
        );
        id
    }

    /// The member ids of a team, sorted.
    pub fn team_members(&self, id: &str) -> Vec<String> {
        let mut m: Vec<String> = self
            .team(id)
            .and_then(|t| t["members"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        m.sort();
        m
    }
}

fn reply(status: StatusCode, body: Option<&Value>) -> Response<Full<Bytes>> {
    let bytes = body.map(Value::to_string).unwrap_or_default();
    let mut r = Response::new(Full::new(Bytes::from(bytes)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", "application/json".parse().expect("ct"));
    r
}

fn err(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    reply(status, Some(&json!({ "error": message })))
}

fn version_of(v: &Value) -> u64 {
    v["version"].as_u64().unwrap_or(0)
}

async fn handle(
    state: Arc<Mutex<State>>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let super::Received {
        method,
        raw,
        path,
        query,
        headers,
        json,
    } = super::Received::read(req).await;
    state
        .lock()
        .expect("lock")
        .log
        .push((method.clone(), raw.clone()));
    if headers.get("x-token").and_then(|v| v.to_str().ok()) != Some(SECRET) {
        return Ok(err(StatusCode::UNAUTHORIZED, "unauthorized"));
    }
    let if_match = headers.get("if-match").and_then(|v| v.to_str().ok());
    let path = percent_encoding::percent_decode_str(&path)
        .decode_utf8_lossy()
        .into_owned();
    let segs: Vec<&str> = path.split('/').skip(1).collect();

    // Reads by id answer the state as it was when they came in, after the delay.
    if let ("GET", [coll @ ("people" | "teams"), id]) = (method.as_str(), segs.as_slice()) {
        let (found, delay, check) = {
            let st = state.lock().expect("lock");
            let items = if *coll == "people" {
                &st.people
            } else {
                &st.teams
            };
            (items.get(*id).cloned(), st.read_delay, st.check)
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        return Ok(match found {
            Some(v) => {
                let mut r = reply(StatusCode::OK, Some(&v));
                if check == Check::Etag {
                    r.headers_mut().insert(
                        "etag",
                        format!("\"{}\"", version_of(&v)).parse().expect("etag"),
                    );
                }
                r
            }
            None => err(StatusCode::NOT_FOUND, "not_found"),
        });
    }

    let mut st = state.lock().expect("lock");
    let r = match (method.as_str(), segs.as_slice()) {
        ("GET", [coll @ ("people" | "teams")]) => {
            let items = if *coll == "people" {
                &st.people
            } else {
                &st.teams
            };
            let all: Vec<Value> = items
                .values()
                .filter(|v| {
                    query.get("login").is_none_or(|w| v["login"] == *w)
                        && query.get("name").is_none_or(|w| v["name"] == *w)
                        && query.get("team").is_none_or(|w| {
                            v["teams"]
                                .as_array()
                                .is_some_and(|a| a.iter().any(|t| t == w))
                        })
                })
                .cloned()
                .collect();
            reply(StatusCode::OK, Some(&Value::Array(all)))
        }
        ("POST", ["people"]) => {
            let Some(login) = json["login"].as_str() else {
                return Ok(err(StatusCode::BAD_REQUEST, "login required"));
            };
            if st.people.values().any(|p| p["login"] == login) {
                return Ok(err(StatusCode::CONFLICT, "login_taken"));
            }
            st.next += 1;
            let id = format!("p_{}-{}.y", st.next, st.instance);
            let mut p = json.clone();
            p["id"] = json!(id);
            p["version"] = json!(1);
            if p.get("teams").is_none() {
                p["teams"] = json!([]);
            }
            st.people.insert(id, p.clone());
            reply(StatusCode::CREATED, Some(&p))
        }
        ("POST", ["teams"]) => {
            st.next += 1;
            let id = format!("t_{}-{}.y", st.next, st.instance);
            let mut t = json.clone();
            t["id"] = json!(id);
            t["version"] = json!(1);
            if t.get("members").is_none() {
                t["members"] = json!([]);
            }
            st.teams.insert(id, t.clone());
            reply(StatusCode::CREATED, Some(&t))
        }
        ("PUT", [coll @ ("people" | "teams"), id]) => {
            let check = st.check;
            let people = *coll == "people";
            let current = if people {
                st.people.get(*id).cloned()
            } else {
                st.teams.get(*id).cloned()
            };
            match current {
                None => err(StatusCode::NOT_FOUND, "not_found"),
                Some(old) => {
                    let version = version_of(&old);
                    let stale = match check {
                        Check::None => None,
                        Check::Etag => if_match
                            .filter(|m| *m != format!("\"{version}\""))
                            .map(|_| StatusCode::PRECONDITION_FAILED),
                        Check::Version => {
                            (version_of(&json) != version).then_some(StatusCode::CONFLICT)
                        }
                    };
                    if let Some(status) = stale {
                        st.conflicts += 1;
                        return Ok(err(status, "version_conflict"));
                    }
                    // A full replace: the body is the new object.
                    let mut v = json.clone();
                    v["id"] = json!(id);
                    v["version"] = json!(version + 1);
                    if people {
                        st.people.insert((*id).to_owned(), v.clone());
                    } else {
                        st.teams.insert((*id).to_owned(), v.clone());
                    }
                    reply(StatusCode::OK, Some(&v))
                }
            }
        }
        ("DELETE", [coll @ ("people" | "teams"), id]) => {
            let removed = if *coll == "people" {
                st.people.remove(*id)
            } else {
                st.teams.remove(*id)
            };
            match removed {
                Some(_) => reply(StatusCode::NO_CONTENT, None),
                None => err(StatusCode::NOT_FOUND, "not_found"),
            }
        }
        _ => err(StatusCode::NOT_FOUND, "no_route"),
    };
    Ok(r)
}
