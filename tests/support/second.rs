//! A second, differently shaped platform for the mapping tests: string ids (`acc_1`), nested
//! profile fields, offset/limit paging with the total in `X-Total-Count`, bare JSON arrays, a
//! dedicated deactivate/activate call, team members embedded in the team object, bearer auth.
//! It records every request's method and raw path.
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

pub const SECRET: &str = "second-platform-secret";

#[derive(Default)]
pub struct State {
    pub accounts: BTreeMap<String, Value>,
    pub teams: BTreeMap<String, Value>,
    pub next: u64,
    /// (method, raw path and query) of every request.
    pub log: Vec<(String, String)>,
}

#[derive(Clone)]
pub struct Second {
    pub state: Arc<Mutex<State>>,
    pub addr: SocketAddr,
}

impl Second {
    pub async fn spawn() -> Second {
        let state = Arc::new(Mutex::new(State::default()));
        let s = state.clone();
        let addr = super::serve(move |req| handle(s.clone(), req)).await;
        Second { state, addr }
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

    pub fn count(&self, method: &str, prefix: &str) -> usize {
        self.log()
            .iter()
            .filter(|(m, p)| m == method && p.starts_with(prefix))
            .count()
    }

    pub fn account(&self, uid: &str) -> Option<Value> {
        self.state.lock().expect("lock").accounts.get(uid).cloned()
    }

    pub fn team(&self, key: &str) -> Option<Value> {
        self.state.lock().expect("lock").teams.get(key).cloned()
    }
}

fn reply(status: StatusCode, body: Option<Value>, total: Option<usize>) -> Response<Full<Bytes>> {
    let bytes = body.map(|b| b.to_string()).unwrap_or_default();
    let mut r = Response::new(Full::new(Bytes::from(bytes)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", "application/json".parse().expect("ct"));
    if let Some(t) = total {
        r.headers_mut()
            .insert("x-total-count", t.to_string().parse().expect("total"));
    }
    r
}

fn err(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    reply(status, Some(json!({ "message": message })), None)
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
    let mut st = state.lock().expect("lock");
    let r = match (method.as_str(), segs.as_slice()) {
        ("GET", ["v2", coll @ ("accounts" | "teams")]) => {
            let (items, key, filter_param) = if *coll == "accounts" {
                (&st.accounts, "login", "login")
            } else {
                (&st.teams, "title", "title")
            };
            let all: Vec<&Value> = items
                .values()
                .filter(|v| {
                    query.get(filter_param).is_none_or(|want| {
                        v[key]
                            .as_str()
                            .is_some_and(|x| x.eq_ignore_ascii_case(want))
                    })
                })
                .collect();
            let offset: usize = query
                .get("offset")
                .and_then(|o| o.parse().ok())
                .unwrap_or(0);
            let limit: usize = query
                .get("limit")
                .and_then(|o| o.parse().ok())
                .unwrap_or(50)
                .min(50);
            let page: Vec<Value> = all
                .iter()
                .skip(offset)
                .take(limit)
                .map(|v| (*v).clone())
                .collect();
            reply(StatusCode::OK, Some(Value::Array(page)), Some(all.len()))
        }
        ("POST", ["v2", "accounts"]) => {
            let Some(login) = json["login"].as_str() else {
                return Ok(err(StatusCode::BAD_REQUEST, "login required"));
            };
            if st.accounts.values().any(|a| {
                a["login"]
                    .as_str()
                    .is_some_and(|l| l.eq_ignore_ascii_case(login))
            }) {
                return Ok(err(StatusCode::CONFLICT, "login exists"));
            }
            st.next += 1;
            let uid = format!("acc_{}", st.next);
            let mut a = json.clone();
            a["uid"] = json!(uid);
            a["enabled"] = json!(true);
            st.accounts.insert(uid, a.clone());
            reply(StatusCode::CREATED, Some(a), None)
        }
        ("POST", ["v2", "teams"]) => {
            st.next += 1;
            let key = format!("team_{}", st.next);
            let mut t = json.clone();
            t["key"] = json!(key);
            if t.get("member_uids").is_none() {
                t["member_uids"] = json!([]);
            }
            st.teams.insert(key, t.clone());
            reply(StatusCode::CREATED, Some(t), None)
        }
        ("GET", ["v2", coll @ ("accounts" | "teams"), id]) => {
            let items = if *coll == "accounts" {
                &st.accounts
            } else {
                &st.teams
            };
            match items.get(*id) {
                Some(v) => reply(StatusCode::OK, Some(v.clone()), None),
                None => err(StatusCode::NOT_FOUND, "no such object"),
            }
        }
        ("PUT", ["v2", "accounts", id]) => match st.accounts.get(*id).cloned() {
            Some(old) => {
                let mut a = json.clone();
                a["uid"] = old["uid"].clone();
                a["enabled"] = old["enabled"].clone();
                st.accounts.insert((*id).to_owned(), a.clone());
                reply(StatusCode::OK, Some(a), None)
            }
            None => err(StatusCode::NOT_FOUND, "no such account"),
        },
        ("PUT", ["v2", "teams", id]) => match st.teams.get(*id).cloned() {
            Some(old) => {
                let mut t = json.clone();
                t["key"] = old["key"].clone();
                if t.get("member_uids").is_none() {
                    t["member_uids"] = json!([]);
                }
                st.teams.insert((*id).to_owned(), t.clone());
                reply(StatusCode::OK, Some(t), None)
            }
            None => err(StatusCode::NOT_FOUND, "no such team"),
        },
        ("POST", ["v2", "accounts", id, action @ ("deactivate" | "activate")]) => {
            match st.accounts.get_mut(*id) {
                Some(a) => {
                    a["enabled"] = json!(*action == "activate");
                    reply(StatusCode::NO_CONTENT, None, None)
                }
                None => err(StatusCode::NOT_FOUND, "no such account"),
            }
        }
        ("DELETE", ["v2", coll @ ("accounts" | "teams"), id]) => {
            let items = if *coll == "accounts" {
                &mut st.accounts
            } else {
                &mut st.teams
            };
            match items.remove(*id) {
                Some(_) => reply(StatusCode::NO_CONTENT, None, None),
                None => err(StatusCode::NOT_FOUND, "no such object"),
            }
        }
        _ => err(StatusCode::NOT_FOUND, "no route"),
    };
    Ok(r)
}
