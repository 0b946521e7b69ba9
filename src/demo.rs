//! The demo legacy platform: a deliberately un-SCIM REST API that `scim-sidecar demo`, the
//! end-to-end tests and the benchmarks put behind the sidecar.
//!
//! Its rough edges are the point: integer ids, `snake_case` fields, a `status` string instead of a
//! boolean, page-number paging, group members behind separate calls, no `PUT` on groups, and its
//! own error bodies. A mapping has to absorb all of that.
//!
//! Every request needs `X-Api-Key: <key>` (else `401 {"error":"unauthorized"}`). Bodies are JSON
//! objects of at most 1 MiB (`413 {"error":"too_large"}`); responses are `application/json`.
//!
//! | Call | Success | Notable failures |
//! | --- | --- | --- |
//! | `GET /api/v1/users?email=&external_ref=&page=&per_page=` | 200 `{"data":[...],"meta":{"page","per_page","total"}}` | 400 `bad_request` |
//! | `POST /api/v1/users` | 201 `{"data":{...}}` | 409 `email_taken`, 422 `validation` |
//! | `GET`, `PUT`, `PATCH`, `DELETE /api/v1/users/{id}` | 200 / 204 | 404 `not_found` |
//! | `GET /api/v1/groups?name=&external_ref=&page=&per_page=` | 200, as users | 400 |
//! | `POST /api/v1/groups` | 201 | 409 `name_taken`, 422 |
//! | `GET`, `PATCH`, `DELETE /api/v1/groups/{id}` (no `PUT`: 405) | 200 / 204 | 404 |
//! | `GET /api/v1/groups/{id}/members?page=&per_page=` | 200 `{"data":[{"user_id":17}],"meta":...}` | 404 |
//! | `POST /api/v1/groups/{id}/members` `{"user_id":17}` | 201 | 404, 409 `already_member`, 422 `unknown user` |
//! | `DELETE /api/v1/groups/{id}/members/{user_id}` | 204 | 404 when not a member |
//!
//! A user is `{"id","email","first_name","last_name","status":"active"|"disabled","external_ref",
//! "created_at","updated_at"}`; a group is `{"id","name","external_ref","created_at","updated_at"}`.
//! Emails and group names are unique case-insensitively and stored as given; lists are in
//! ascending id order; `per_page` defaults to 25 and is clamped to 100.
//!
//! Details the API leaves to the implementation, decided here:
//! - Bodies are validated before the record is looked up (an invalid `PATCH` on an unknown id is a
//!   422), and every problem is reported at once. `id`, `created_at` and `updated_at` in a body are
//!   422 `read-only`; other unknown fields are 422 `unknown field`. A body that is not a JSON
//!   object is 400 `bad_request`.
//! - `updated_at` moves forward by at least 1 ms on every successful write, even an empty `PATCH`.
//!   Membership changes are not writes to the group or the user and leave both untouched.
//! - Ids in paths are canonical decimals after percent-decoding (`%31` is user 1, `017` is 404).
//!   Literal path segments are matched raw; a trailing slash matches no route.
//! - `page=0`, `per_page=0`, empty or non-numeric values are 400; a `page` past the end is an empty
//!   page; filters match exactly what is given (`?email=` matches nothing, `+` decodes to a space);
//!   unknown query parameters are ignored and the last of repeated ones wins.
//! - `HEAD` and `OPTIONS` are 405 like any other unsupported method, with an `Allow` header.
//! - Authentication comes before routing, so an unauthenticated request gets 401 on any path.

pub mod platform;

pub use platform::{CallCounts, Fault, Platform, RunningPlatform};
