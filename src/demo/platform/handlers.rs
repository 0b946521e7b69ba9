//! Request handling of the demo platform: the shared state, fault injection per request,
//! authentication, dispatch by route, and the handlers of the users, groups and members calls.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use super::bodies::{
    GroupPatch, Keyed, ListQuery, Shape, UserPatch, parse_member, read_body, required,
};
use super::counters::CallCounters;
use super::faults::{
    CHAOS_FAULTS, CHAOS_MS, FAULT_KIND_SHIFT, Fault, FaultCell, TRUNCATED_BODY, injected_status,
};
use super::oauth::{TokenEndpoint, constant_time_eq};
use super::records::{Group, Member, Record, Stamp, Status, User, fold};
use super::response::{
    ApiError, Data, InjectedFault, Listing, Records, ResponseBody, json, no_content, respond,
};
use super::routes::Route;
use super::store::{Store, Table};

static API_KEY: HeaderName = HeaderName::from_static("x-api-key");

/// `GET /openapi.json`: the OpenAPI 3 description of the routes below, as implemented.
const OPENAPI: &str = include_str!("openapi.json");

// `Allow` values for 405 answers; statics, so a typo fails to compile rather than at run time.
static ALLOW_COLLECTION: HeaderValue = HeaderValue::from_static("GET, POST");
static ALLOW_USER: HeaderValue = HeaderValue::from_static("GET, PUT, PATCH, DELETE");
static ALLOW_GROUP: HeaderValue = HeaderValue::from_static("GET, PATCH, DELETE");
static ALLOW_MEMBER: HeaderValue = HeaderValue::from_static("DELETE");

pub(super) struct Shared {
    pub(super) api_key: Box<[u8]>,
    /// The OAuth2 token endpoint, when enabled ([`Platform::with_oauth`](super::Platform::with_oauth)).
    pub(super) oauth: Option<TokenEndpoint>,
    pub(super) store: RwLock<Store>,
    pub(super) calls: CallCounters,
    pub(super) fault: FaultCell,
    /// Requests the set fault still applies to (`u64::MAX`: all).
    pub(super) fault_budget: AtomicU64,
    /// Random faults: percent in the top byte, then the slow and the stall durations in
    /// milliseconds (28 bits each); 0 is off.
    pub(super) chaos: AtomicU64,
    /// The random generator of `chaos` (xorshift64*).
    pub(super) chaos_rng: AtomicU64,
    /// Faults injected so far.
    pub(super) injected: AtomicU64,
}

pub(super) fn found(id: Option<u64>) -> Result<u64, ApiError> {
    id.ok_or(ApiError::NotFound)
}

fn not_allowed(allow: &'static HeaderValue) -> Result<Response<ResponseBody>, ApiError> {
    Err(ApiError::MethodNotAllowed(allow))
}

type Reply = Result<Response<ResponseBody>, ApiError>;

impl Shared {
    fn read(&self) -> RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn write(&self) -> RwLockWriteGuard<'_, Store> {
        self.store.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The fault for this request: the fixed one while its budget lasts, else a random one.
    fn draw_fault(&self) -> Option<Fault> {
        if let Some(fault) = self.fault.get() {
            let spent = self
                .fault_budget
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| match b {
                    0 => None,
                    u64::MAX => Some(b),
                    _ => Some(b - 1),
                });
            return spent.is_ok().then_some(fault);
        }
        let chaos = self.chaos.load(Ordering::Acquire);
        if chaos == 0 {
            return None;
        }
        let percent = chaos >> FAULT_KIND_SHIFT;
        let slow = Duration::from_millis((chaos >> 28) & CHAOS_MS);
        let stall = Duration::from_millis(chaos & CHAOS_MS);
        let next = |x: u64| {
            let mut x = x;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            x
        };
        let state = self
            .chaos_rng
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |x| Some(next(x)))
            .map_or(1, next);
        let draw = state.wrapping_mul(0x2545_F491_4F6C_DD1D);
        if (draw >> 32) % 100 >= percent {
            return None;
        }
        let pick = CHAOS_FAULTS[usize::try_from((draw >> 8) % 11).unwrap_or(0)];
        Some(match pick {
            Fault::Delay(_) => Fault::Delay(slow),
            Fault::Stall(_) => Fault::Stall(stall),
            other => other,
        })
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        headers
            .get(&API_KEY)
            .is_some_and(|key| constant_time_eq(key.as_bytes(), &self.api_key))
            || self.oauth.as_ref().is_some_and(|o| o.accepts(headers))
    }

    /// Count, inject the fault if one is set, authenticate, dispatch.
    pub(super) async fn handle(
        &self,
        request: Request<Incoming>,
    ) -> Result<Response<ResponseBody>, InjectedFault> {
        let route = Route::parse(request.uri().path());
        self.calls.record(route, request.method());
        // The token endpoint stands for a separate identity provider: the platform's faults do
        // not apply to it.
        if route == Route::Token
            && let Some(oauth) = &self.oauth
        {
            return Ok(oauth.token(request).await);
        }
        // The API description, public like the token endpoint and outside fault injection.
        if route == Route::Unmatched
            && request.method() == Method::GET
            && request.uri().path() == "/openapi.json"
        {
            return Ok(respond(
                StatusCode::OK,
                Bytes::from_static(OPENAPI.as_bytes()),
            ));
        }
        let fault = self.draw_fault();
        if fault.is_some() {
            self.injected.fetch_add(1, Ordering::Relaxed);
        }
        match fault {
            None => {}
            Some(Fault::Stall(stall)) => {
                tokio::time::sleep(stall).await;
                return Err(InjectedFault::Reset);
            }
            Some(Fault::ResetAfterApply) => {
                if self.authorized(request.headers()) {
                    drop(self.dispatch(route, request).await);
                }
                return Err(InjectedFault::Reset);
            }
            Some(Fault::Delay(delay)) => tokio::time::sleep(delay).await,
            Some(Fault::Status(code)) => return Ok(injected_status(code)),
            Some(Fault::Garbage) => {
                return Ok(respond(StatusCode::OK, Bytes::from_static(b"not json")));
            }
            Some(Fault::Truncated) => {
                let mut response = respond(StatusCode::OK, Bytes::new());
                *response.body_mut() = ResponseBody::truncated(Bytes::from_static(TRUNCATED_BODY));
                return Ok(response);
            }
            Some(Fault::Reset) => return Err(InjectedFault::Reset),
        }
        if !self.authorized(request.headers()) {
            return Ok(ApiError::Unauthorized.into_response());
        }
        Ok(self
            .dispatch(route, request)
            .await
            .unwrap_or_else(ApiError::into_response))
    }

    async fn dispatch(&self, route: Route, request: Request<Incoming>) -> Reply {
        let method = request.method().clone();
        let query = request.uri().query();
        match route {
            Route::Users => match method {
                Method::GET => self.list_users(query),
                Method::POST => self.create_user(&read_body(request).await?),
                _ => not_allowed(&ALLOW_COLLECTION),
            },
            Route::User(id) => match method {
                Method::GET => self.get(found(id)?, |store| &store.users),
                Method::PUT => self.update_user(found(id)?, Shape::Full, request).await,
                Method::PATCH => self.update_user(found(id)?, Shape::Partial, request).await,
                Method::DELETE => {
                    self.write().delete_user(found(id)?)?;
                    Ok(no_content())
                }
                _ => not_allowed(&ALLOW_USER),
            },
            Route::Groups => match method {
                Method::GET => self.list(query, "name", |store| &store.groups),
                Method::POST => self.create_group(&read_body(request).await?),
                _ => not_allowed(&ALLOW_COLLECTION),
            },
            Route::Group(id) => match method {
                Method::GET => self.get(found(id)?, |store| &store.groups),
                Method::PATCH => {
                    let id = found(id)?;
                    self.patch_group(id, &read_body(request).await?)
                }
                Method::DELETE => {
                    self.write().delete_group(found(id)?)?;
                    Ok(no_content())
                }
                _ => not_allowed(&ALLOW_GROUP),
            },
            Route::Members(id) => match method {
                Method::GET => self.list_members(found(id)?, query),
                Method::POST => {
                    let id = found(id)?;
                    self.add_member(id, &read_body(request).await?)
                }
                _ => not_allowed(&ALLOW_COLLECTION),
            },
            Route::Member(group_id, user_id) => match method {
                Method::DELETE => {
                    self.write()
                        .remove_member(found(group_id)?, found(user_id)?)?;
                    Ok(no_content())
                }
                _ => not_allowed(&ALLOW_MEMBER),
            },
            Route::Answer(status) => {
                let status = found(status)?;
                let status = u16::try_from(status)
                    .ok()
                    .filter(|s| (200..=599).contains(s))
                    .and_then(|s| StatusCode::from_u16(s).ok())
                    .ok_or(ApiError::NotFound)?;
                Ok(respond(status, read_body(request).await?))
            }
            Route::Token | Route::Unmatched => Err(ApiError::NotFound),
        }
    }

    pub(super) fn list<T: Record>(
        &self,
        query: Option<&str>,
        key_param: &str,
        table: fn(&Store) -> &Table<T>,
    ) -> Reply {
        let query = ListQuery::parse(query, key_param)?;
        let key = query.key.as_deref().map(fold);
        let (records, total) =
            table(&self.read()).list(key.as_deref(), query.external_ref.as_deref(), query.paging);
        Ok(json(
            StatusCode::OK,
            &Listing {
                data: Records(&records),
                meta: query.paging.meta(total),
            },
            64 + 256 * records.len(),
        ))
    }

    /// `GET /api/v1/users`: like any list, plus `?username=` (one lookup in its index).
    fn list_users(&self, query: Option<&str>) -> Reply {
        let username = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .filter(|(k, _)| k == "username")
            .last()
            .map(|(_, v)| fold(&v).into_owned());
        let Some(username) = username else {
            return self.list(query, "email", |store| &store.users);
        };
        let parsed = ListQuery::parse(query, "email")?;
        let store = self.read();
        let hit = store
            .usernames
            .get(&username)
            .and_then(|id| store.users.get(*id))
            .filter(|u| {
                parsed
                    .key
                    .as_deref()
                    .is_none_or(|e| fold(&u.email) == fold(e))
                    && parsed
                        .external_ref
                        .as_deref()
                        .is_none_or(|r| u.external_ref.as_deref() == Some(r))
            });
        let total = usize::from(hit.is_some());
        let records: Vec<Arc<User>> = hit
            .into_iter()
            .skip(parsed.paging.offset())
            .take(parsed.paging.limit())
            .collect();
        Ok(json(
            StatusCode::OK,
            &Listing {
                data: Records(&records),
                meta: parsed.paging.meta(total),
            },
            320,
        ))
    }

    pub(super) fn get<T: Record>(&self, id: u64, table: fn(&Store) -> &Table<T>) -> Reply {
        let record = table(&self.read()).get(id).ok_or(ApiError::NotFound)?;
        Ok(json(StatusCode::OK, &Data { data: &*record }, 320))
    }

    fn create_user(&self, body: &[u8]) -> Reply {
        let mut patch = UserPatch::parse(body, Shape::Full)?;
        let email = patch.email.take().ok_or_else(|| required("email"))?;
        let username = patch
            .username
            .take()
            .unwrap_or_else(|| Keyed::new(email.value.clone()));
        let now = Stamp::now();
        let mut user = User {
            id: 0,
            username: username.value,
            email: email.value,
            first_name: String::new(),
            last_name: String::new(),
            display_name: String::new(),
            status: Status::Active,
            external_ref: None,
            created_at: now.clone(),
            updated_at: now,
        };
        patch.apply(&mut user);
        let mut store = self.write();
        if store.users.by_key.contains_key(&email.key) {
            return Err(ApiError::Conflict(User::TAKEN));
        }
        if store.usernames.contains_key(&username.key) {
            return Err(ApiError::Conflict("username_taken"));
        }
        let user = store
            .users
            .insert(email.key, |id| User { id, ..user })
            .map_err(|_| ApiError::Conflict(User::TAKEN))?;
        store.usernames.insert(username.key, user.id);
        Ok(json(StatusCode::CREATED, &Data { data: &*user }, 320))
    }

    /// PUT (`Shape::Full`: missing fields reset to defaults) or PATCH (`Shape::Partial`). The body
    /// is validated before the user is looked up, so an invalid body on an unknown id is a 422.
    async fn update_user(&self, id: u64, shape: Shape, request: Request<Incoming>) -> Reply {
        let mut patch = UserPatch::parse(&read_body(request).await?, shape)?;
        let key = patch.email.as_ref().map(|email| email.key.clone());
        let mut store = self.write();
        let old_username = store
            .users
            .get(id)
            .map(|u| fold(&u.username).into_owned())
            .ok_or(ApiError::NotFound)?;
        if shape == Shape::Full && patch.username.is_none() {
            // PUT resets what it leaves out: the user name falls back to the e-mail.
            patch.username = patch.email.as_ref().map(|e| Keyed::new(e.value.clone()));
        }
        let email_taken = key.as_ref().is_some_and(|k| {
            store
                .users
                .by_key
                .get(k)
                .is_some_and(|holder| *holder != id)
        });
        if email_taken {
            return Err(ApiError::Conflict(User::TAKEN));
        }
        let new_username = patch.username.as_ref().map(|u| u.key.clone());
        if let Some(k) = new_username.as_ref().filter(|k| **k != old_username)
            && store.usernames.contains_key(k)
        {
            return Err(ApiError::Conflict("username_taken"));
        }
        let user = store.users.update(id, key, |user| patch.apply(user))?;
        if let Some(k) = new_username.filter(|k| *k != old_username) {
            store.usernames.remove(&old_username);
            store.usernames.insert(k, id);
        }
        Ok(json(StatusCode::OK, &Data { data: &*user }, 320))
    }

    fn create_group(&self, body: &[u8]) -> Reply {
        let mut patch = GroupPatch::parse(body, Shape::Full)?;
        let name = patch.name.take().ok_or_else(|| required("name"))?;
        let now = Stamp::now();
        let mut group = Group {
            id: 0,
            name: name.value,
            external_ref: None,
            created_at: now.clone(),
            updated_at: now,
        };
        patch.apply(&mut group);
        let group = self
            .write()
            .groups
            .insert(name.key, |id| Group { id, ..group })
            .map_err(|_| ApiError::Conflict(Group::TAKEN))?;
        Ok(json(StatusCode::CREATED, &Data { data: &*group }, 192))
    }

    fn patch_group(&self, id: u64, body: &[u8]) -> Reply {
        let patch = GroupPatch::parse(body, Shape::Partial)?;
        let key = patch.name.as_ref().map(|name| name.key.clone());
        let group = self
            .write()
            .groups
            .update(id, key, |group| patch.apply(group))?;
        Ok(json(StatusCode::OK, &Data { data: &*group }, 192))
    }

    fn list_members(&self, group_id: u64, query: Option<&str>) -> Reply {
        let paging = ListQuery::parse(query, "")?.paging;
        let (members, total) = {
            let store = self.read();
            let group = store.groups.row(group_id).ok_or(ApiError::NotFound)?;
            let members: Vec<Member> = group
                .links
                .iter()
                .skip(paging.offset())
                .take(paging.limit())
                .map(|&user_id| Member { user_id })
                .collect();
            (members, group.links.len())
        };
        Ok(json(
            StatusCode::OK,
            &Listing {
                data: &members,
                meta: paging.meta(total),
            },
            64 + 20 * members.len(),
        ))
    }

    pub(super) fn add_member(&self, group_id: u64, body: &[u8]) -> Reply {
        let user_id = parse_member(body)?;
        self.write().add_member(group_id, user_id)?;
        Ok(json(
            StatusCode::CREATED,
            &Data {
                data: &Member { user_id },
            },
            40,
        ))
    }
}
