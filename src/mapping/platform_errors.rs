//! What a platform's error answer means for the SCIM client: the operator's `[[platform.errors]]`
//! rules first, then built-in rules. The platform's body is never forwarded; only the rule's
//! detail (or a generic one) is.

use serde_json::Value;

use crate::error::{Error, PlatformError};
use crate::mapping::model::ErrorRule;
use crate::platform::Reply;
use crate::scim::error::{ScimError, ScimType};

/// A success reply (2xx) that carries an error: the first `[[platform.errors]]` rule for its
/// status whose body condition holds (`status = 200, when = "$.ok", equals = false`), as the
/// error it maps to; `None` for a plain success. Only rules with a 2xx status and a `when` are
/// consulted (the compiler requires `when` on those).
pub fn success_error(rules: &[ErrorRule], reply: &Reply, operation: &str) -> Option<Error> {
    let status = reply.status.as_u16();
    if !rules.iter().any(|r| r.status == status && r.when.is_some()) {
        return None;
    }
    let body: Value = serde_json::from_slice(&reply.body).ok()?;
    let rule = rules.iter().find(|r| {
        r.status == status
            && r.when
                .as_ref()
                .is_some_and(|(path, want)| path.first(&body).is_some_and(|v| v == want))
    })?;
    let detail = rule.detail.clone().unwrap_or_else(|| {
        format!("the platform answered {status} but its answer reports a failure")
    });
    Some(if rule.scim_status >= 500 {
        Error::Platform(PlatformError::BadResponse(format!(
            "{operation}: platform answered {status} with a body reporting a failure, mapped to {}",
            rule.scim_status
        )))
    } else {
        Error::Client(ScimError::new(rule.scim_status, rule.scim_type, detail))
    })
}

/// Maps a non-success platform reply to an error. `what` names the thing acted on
/// (`User 17`, `Group 3`) for 404 details; `operation` the call (`users.create`) for logs.
pub fn classify(rules: &[ErrorRule], reply: &Reply, what: &str, operation: &str) -> Error {
    let status = reply.status.as_u16();
    let body: Option<Value> = serde_json::from_slice(&reply.body).ok();
    for r in rules {
        if r.status != status {
            continue;
        }
        if let Some((path, want)) = &r.when {
            let hit = body
                .as_ref()
                .and_then(|b| path.first(b))
                .is_some_and(|v| v == want);
            if !hit {
                continue;
            }
        }
        let detail = r
            .detail
            .clone()
            .unwrap_or_else(|| format!("the platform refused the request (status {status})"));
        let e = ScimError::new(r.scim_status, r.scim_type, detail);
        return if r.scim_status >= 500 {
            Error::Platform(PlatformError::BadResponse(format!(
                "{operation}: platform answered {status}, mapped to {}",
                r.scim_status
            )))
        } else {
            Error::Client(e)
        };
    }
    match status {
        404 => Error::Client(ScimError::not_found(format!("{what} not found"))),
        409 => Error::Client(ScimError::uniqueness(format!(
            "the platform reports that {what} conflicts with an existing resource"
        ))),
        400 | 422 => Error::Client(ScimError::bad_request(
            ScimType::InvalidValue,
            format!("the platform rejected the values sent for {what} as invalid"),
        )),
        429 => Error::Platform(PlatformError::Overloaded {
            retry_after_secs: reply
                .headers
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(1)
                .clamp(1, 300),
        }),
        401 | 403 => Error::Platform(PlatformError::BadResponse(format!(
            "{operation}: the platform refused the sidecar's credentials ({status}); check [platform.auth]"
        ))),
        504 => Error::Platform(PlatformError::Timeout(format!(
            "{operation}: the platform answered 504"
        ))),
        _ => Error::Platform(PlatformError::BadResponse(format!(
            "{operation}: unexpected platform status {status}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::jsonpath::JsonPath;
    use bytes::Bytes;
    use http::{HeaderMap, StatusCode};

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status: StatusCode::from_u16(status).expect("status"),
            headers: HeaderMap::new(),
            body: Bytes::from(body.to_owned()),
        }
    }

    fn rules() -> Vec<ErrorRule> {
        vec![ErrorRule {
            status: 409,
            when: Some((
                JsonPath::compile("$.error").expect("path"),
                Value::String("email_taken".into()),
            )),
            scim_status: 409,
            scim_type: Some(ScimType::Uniqueness),
            detail: Some("e-mail taken".into()),
        }]
    }

    #[test]
    fn operator_rules_match_status_and_body_before_builtins() {
        let e = classify(
            &rules(),
            &reply(409, r#"{"error":"email_taken"}"#),
            "User",
            "users.create",
        );
        assert_eq!(e, Error::Client(ScimError::uniqueness("e-mail taken")));
        let e = classify(
            &rules(),
            &reply(409, r#"{"error":"other"}"#),
            "User",
            "users.create",
        );
        assert_eq!(e.status(), 409);
        assert!(e.to_scim().detail.contains("conflicts"), "built-in 409");
    }

    #[test]
    fn success_answers_are_errors_only_when_a_2xx_rule_matches_their_body() {
        let rules = vec![ErrorRule {
            status: 200,
            when: Some((JsonPath::compile("$.ok").expect("path"), Value::Bool(false))),
            scim_status: 502,
            scim_type: None,
            detail: None,
        }];
        let e = success_error(&rules, &reply(200, r#"{"ok":false}"#), "users.create")
            .expect("an error");
        assert_eq!(e.status(), 502);
        assert!(success_error(&rules, &reply(200, r#"{"ok":true}"#), "x").is_none());
        assert!(success_error(&rules, &reply(201, r#"{"ok":false}"#), "x").is_none());
        assert!(success_error(&rules, &reply(200, "not json"), "x").is_none());
        assert!(success_error(&[], &reply(200, r#"{"ok":false}"#), "x").is_none());
    }

    #[test]
    fn builtins_say_whose_fault_it_was_and_never_echo_the_body() {
        let secret = r#"{"error":"boom","trace":"at db.rs:12 password=x"}"#;
        for (status, want) in [
            (404, 404),
            (422, 400),
            (400, 400),
            (429, 503),
            (401, 502),
            (403, 502),
            (500, 502),
            (503, 502),
            (504, 504),
            (418, 502),
        ] {
            let e = classify(&[], &reply(status, secret), "User 17", "users.read");
            assert_eq!(e.status(), want, "platform {status}");
            assert!(
                !e.to_scim().to_json().to_string().contains("password"),
                "platform {status}"
            );
        }
        assert_eq!(
            classify(&[], &reply(404, ""), "User 17", "users.read")
                .to_scim()
                .detail,
            "User 17 not found"
        );
    }
}
