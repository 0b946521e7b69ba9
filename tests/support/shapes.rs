//! A platform of real-world list shapes for the mapping tests: a Keycloak-like admin API
//! (`/admin/realms/acme/users`: `first`/`max` paging and no total, a separate `/users/count`
//! answering a bare number, `?username=&exact=true` exact case-sensitive lookups on lowercased
//! usernames, `?search=` substring search, `?q=key:value` attribute search, array-valued
//! `attributes`, 201 with `Location` and no body) and a json-server-like collection (`/people`:
//! `_page`/`_per_page` paging, a bare array, no total, and a page past the end answered with the
//! last page again, as json-server 1.x does, and a `Link: rel="next"` header while a next page
//! exists, as json-server 0.x does; `login`, `login_ne` and `login_gt` compare
//! case-sensitively, `login_like` is a case-insensitive substring). It records every request's method and raw path.
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

/// The bearer secret (the test loader hands it out as `SECOND_PLATFORM_TOKEN`).
pub const SECRET: &str = super::second::SECRET;
/// Where the Keycloak-like users live.
pub const USERS: &str = "/admin/realms/acme/users";

#[derive(Default)]
pub struct State {
    /// Keycloak-like users by id (`u1`, `u2`, ...), in creation order.
    pub users: BTreeMap<String, Value>,
    /// json-server-like people, in creation order.
    pub people: Vec<Value>,
    pub next: u64,
    /// (method, raw path and query) of every request.
    pub log: Vec<(String, String)>,
}

#[derive(Clone)]
pub struct Shapes {
    pub state: Arc<Mutex<State>>,
    pub addr: SocketAddr,
}

impl Shapes {
    pub async fn spawn() -> Shapes {
        let state = Arc::new(Mutex::new(State::default()));
        let s = state.clone();
        let addr = super::serve(move |req| handle(s.clone(), req)).await;
        Shapes { state, addr }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn log(&self) -> Vec<(String, String)> {
        self.state.lock().expect("lock").log.clone()
    }

    pub fn clear_log(&self) {
        self.state.lock().expect("lock").log.clear();
    }

    /// The GET requests whose raw path starts with `prefix`.
    pub fn gets(&self, prefix: &str) -> Vec<String> {
        self.log()
            .into_iter()
            .filter(|(m, p)| m == "GET" && p.starts_with(prefix))
            .map(|(_, p)| p)
            .collect()
    }

    pub fn user(&self, id: &str) -> Option<Value> {
        self.state.lock().expect("lock").users.get(id).cloned()
    }

    /// Adds a json-server person directly.
    pub fn add_person(&self, login: &str) {
        let mut st = self.state.lock().expect("lock");
        st.next += 1;
        let id = st.next.to_string();
        st.people.push(json!({"id": id, "login": login}));
    }

    /// Adds a Keycloak user directly (username stored lowercase, as Keycloak does, and a
    /// case-preserving copy in `attributes.display_login`).
    pub fn add_user(&self, username: &str, last_name: &str) -> String {
        let mut st = self.state.lock().expect("lock");
        st.next += 1;
        let id = format!("u{}", st.next);
        st.users.insert(
            id.clone(),
            json!({"id": id, "username": username.to_lowercase(), "lastName": last_name,
                   "enabled": true, "attributes": {"display_login": [username]}}),
        );
        id
    }
}

fn reply(status: StatusCode, body: Option<Value>) -> Response<Full<Bytes>> {
    let bytes = body.map(|b| b.to_string()).unwrap_or_default();
    let mut r = Response::new(Full::new(Bytes::from(bytes)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", "application/json".parse().expect("ct"));
    r
}

fn err(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    reply(status, Some(json!({ "errorMessage": message })))
}

/// Objects merge key by key (Keycloak's `attributes` too); anything else is replaced.
fn merge(into: &mut Value, from: &Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(k) {
                    Some(old) if old.is_object() && v.is_object() => merge(old, v),
                    _ => {
                        a.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (into, from) => *into = from.clone(),
    }
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or("")
}

/// Keycloak's user search: `username`/`email`/`lastName` (exact and case-sensitive with
/// `exact=true`, else case-insensitive substrings), `search` (a case-insensitive substring of
/// username, email, firstName or lastName), `q=key:value` (an attribute holding exactly value).
fn keycloak_matches(u: &Value, query: &BTreeMap<String, String>) -> bool {
    let exact = query.get("exact").is_some_and(|e| e == "true");
    let field_ok = |key: &str| {
        query.get(key).is_none_or(|want| {
            let have = text(u, key);
            if exact {
                have == want
            } else {
                have.to_lowercase().contains(&want.to_lowercase())
            }
        })
    };
    let search_ok = query.get("search").is_none_or(|want| {
        let want = want.to_lowercase();
        ["username", "email", "firstName", "lastName"]
            .iter()
            .any(|k| text(u, k).to_lowercase().contains(&want))
    });
    let q_ok = query.get("q").is_none_or(|q| {
        q.split(' ').all(|pair| match pair.split_once(':') {
            Some((k, v)) => u["attributes"][k]
                .as_array()
                .is_some_and(|vals| vals.iter().any(|x| x.as_str() == Some(v))),
            None => false,
        })
    });
    field_ok("username") && field_ok("email") && field_ok("lastName") && search_ok && q_ok
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
    let authorized = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {SECRET}"));
    if !authorized {
        return Ok(err(StatusCode::UNAUTHORIZED, "unauthorized"));
    }
    let segs: Vec<&str> = path.split('/').skip(1).collect();
    let num =
        |k: &str, d: usize| -> usize { query.get(k).and_then(|v| v.parse().ok()).unwrap_or(d) };
    let mut st = state.lock().expect("lock");
    let r = match (method.as_str(), segs.as_slice()) {
        // --- Keycloak-like ---
        ("GET", ["admin", "realms", "acme", "users"]) => {
            let (first, max) = (num("first", 0), num("max", 100));
            let page: Vec<Value> = st
                .users
                .values()
                .filter(|u| keycloak_matches(u, &query))
                .skip(first)
                .take(max)
                .cloned()
                .collect();
            reply(StatusCode::OK, Some(Value::Array(page)))
        }
        ("GET", ["admin", "realms", "acme", "users", "count"]) => {
            let n = st
                .users
                .values()
                .filter(|u| keycloak_matches(u, &query))
                .count();
            reply(StatusCode::OK, Some(json!(n)))
        }
        ("POST", ["admin", "realms", "acme", "users"]) => {
            let Some(username) = json["username"].as_str().map(str::to_lowercase) else {
                return Ok(err(StatusCode::BAD_REQUEST, "username required"));
            };
            if st.users.values().any(|u| text(u, "username") == username) {
                return Ok(err(StatusCode::CONFLICT, "User exists with same username"));
            }
            st.next += 1;
            let id = format!("u{}", st.next);
            let mut u = json!({"id": id, "enabled": true, "attributes": {}});
            merge(&mut u, &json);
            u["username"] = json!(username);
            st.users.insert(id.clone(), u);
            let mut r = reply(StatusCode::CREATED, None);
            r.headers_mut().insert(
                "location",
                format!("{USERS}/{id}").parse().expect("location"),
            );
            r
        }
        ("GET", ["admin", "realms", "acme", "users", id]) => match st.users.get(*id) {
            Some(u) => reply(StatusCode::OK, Some(u.clone())),
            None => err(StatusCode::NOT_FOUND, "User not found"),
        },
        ("PUT", ["admin", "realms", "acme", "users", id]) => match st.users.get_mut(*id) {
            Some(u) => {
                merge(u, &json);
                if let Some(n) = u["username"].as_str().map(str::to_lowercase) {
                    u["username"] = json!(n);
                }
                reply(StatusCode::NO_CONTENT, None)
            }
            None => err(StatusCode::NOT_FOUND, "User not found"),
        },
        ("DELETE", ["admin", "realms", "acme", "users", id]) => match st.users.remove(*id) {
            Some(_) => reply(StatusCode::NO_CONTENT, None),
            None => err(StatusCode::NOT_FOUND, "User not found"),
        },
        // --- json-server-like ---
        ("GET", ["people"]) => {
            let matching: Vec<&Value> = st
                .people
                .iter()
                .filter(|p| {
                    query.get("login").is_none_or(|w| text(p, "login") == w)
                        && query.get("login_ne").is_none_or(|w| text(p, "login") != w)
                        && query
                            .get("login_gt")
                            .is_none_or(|w| text(p, "login") > w.as_str())
                        && query.get("login_like").is_none_or(|w| {
                            text(p, "login").to_lowercase().contains(&w.to_lowercase())
                        })
                })
                .collect();
            let (page, per) = (num("_page", 1).max(1), num("_per_page", 10).max(1));
            // Past the end, json-server 1.x answers the last page again.
            let pages = matching.len().div_ceil(per).max(1);
            let page = page.min(pages);
            // Each answer stamps its items (as platforms add volatile fields): a repeated page
            // is recognised by its ids, not by identical JSON.
            let served = st.log.len();
            let items: Vec<Value> = matching
                .into_iter()
                .skip((page - 1) * per)
                .take(per)
                .map(|p| {
                    let mut p = p.clone();
                    p["served"] = json!(served);
                    p
                })
                .collect();
            let mut r = reply(StatusCode::OK, Some(Value::Array(items)));
            // json-server 0.x also links the next page (RFC 8288), while there is one.
            if page < pages {
                let link = format!("</people?_page={}&_per_page={per}>; rel=\"next\"", page + 1);
                r.headers_mut().insert("link", link.parse().expect("link"));
            }
            r
        }
        ("POST", ["people"]) => {
            st.next += 1;
            let mut p = json.clone();
            p["id"] = json!(st.next.to_string());
            st.people.push(p.clone());
            reply(StatusCode::CREATED, Some(p))
        }
        ("GET", ["people", id]) => match st.people.iter().find(|p| text(p, "id") == *id) {
            Some(p) => reply(StatusCode::OK, Some(p.clone())),
            None => err(StatusCode::NOT_FOUND, "Not Found"),
        },
        ("PATCH", ["people", id]) => match st.people.iter_mut().find(|p| text(p, "id") == *id) {
            Some(p) => {
                merge(p, &json);
                reply(StatusCode::OK, Some(p.clone()))
            }
            None => err(StatusCode::NOT_FOUND, "Not Found"),
        },
        ("DELETE", ["people", id]) => {
            let before = st.people.len();
            st.people.retain(|p| text(p, "id") != *id);
            if st.people.len() < before {
                reply(StatusCode::OK, Some(json!({})))
            } else {
                err(StatusCode::NOT_FOUND, "Not Found")
            }
        }
        _ => err(StatusCode::NOT_FOUND, "no route"),
    };
    Ok(r)
}
