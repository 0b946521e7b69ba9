//! Responses of the demo platform: the legacy error body, JSON envelopes and a response body
//! that fault injection can cut off.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use http::{Response, StatusCode};
use hyper::body::{Body, Frame, SizeHint};
use serde::Serialize;
use serde::ser::Serializer;
use tracing::warn;

static APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");

/// Why a connection was cut on purpose; hyper logs it and closes the connection (or stream).
#[derive(Debug)]
pub(super) enum InjectedFault {
    Reset,
    Truncated,
}

impl fmt::Display for InjectedFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InjectedFault::Reset => "injected fault: connection reset",
            InjectedFault::Truncated => "injected fault: body truncated",
        })
    }
}

impl std::error::Error for InjectedFault {}

/// A request the platform refuses, with the legacy error body it answers with.
#[derive(Debug)]
pub(super) enum ApiError {
    BadRequest(&'static str),
    Unauthorized,
    NotFound,
    MethodNotAllowed(&'static HeaderValue),
    Conflict(&'static str),
    TooLarge,
    Validation(Vec<(String, &'static str)>),
}

impl ApiError {
    pub(super) fn invalid(field: &str, message: &'static str) -> ApiError {
        ApiError::Validation(vec![(field.to_owned(), message)])
    }

    pub(super) fn into_response(self) -> Response<ResponseBody> {
        let (status, error) = match &self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::Conflict(code) => (StatusCode::CONFLICT, *code),
            ApiError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            ApiError::Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation"),
        };
        let body = ErrorBody {
            error,
            message: match &self {
                ApiError::BadRequest(message) => Some(*message),
                _ => None,
            },
            fields: match &self {
                ApiError::Validation(fields) => Some(Fields(fields)),
                _ => None,
            },
        };
        let mut response = json(status, &body, 64);
        if let ApiError::MethodNotAllowed(allow) = self {
            response.headers_mut().insert(ALLOW, allow.clone());
        }
        response
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<Fields<'a>>,
}

/// Validation failures as a JSON object, field name to message.
struct Fields<'a>(&'a [(String, &'static str)]);

impl Serialize for Fields<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(field, message)| (field, message)))
    }
}

#[derive(Serialize)]
pub(super) struct Data<T> {
    pub(super) data: T,
}

#[derive(Serialize)]
pub(super) struct Listing<T> {
    pub(super) data: T,
    pub(super) meta: Meta,
}

#[derive(Debug, Serialize)]
pub(super) struct Meta {
    pub(super) page: u64,
    pub(super) per_page: u64,
    pub(super) total: usize,
}

/// Shared records, serialised as a JSON array after the lock that produced them is released.
pub(super) struct Records<'a, T>(pub(super) &'a [Arc<T>]);

impl<T: Serialize> Serialize for Records<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|record| &**record))
    }
}

pub(super) fn respond(status: StatusCode, body: Bytes) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::whole(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, APPLICATION_JSON.clone());
    response
}

pub(super) fn json(
    status: StatusCode,
    value: &impl Serialize,
    capacity: usize,
) -> Response<ResponseBody> {
    let mut buffer = Vec::with_capacity(capacity);
    match serde_json::to_writer(&mut buffer, value) {
        Ok(()) => respond(status, Bytes::from(buffer)),
        Err(error) => {
            warn!(%error, "demo platform could not serialise a response");
            respond(
                StatusCode::INTERNAL_SERVER_ERROR,
                Bytes::from_static(br#"{"error":"internal"}"#),
            )
        }
    }
}

pub(super) fn no_content() -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::whole(Bytes::new()));
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

/// A response body: whole, or (fault injection) cut off after half of its declared length.
pub(super) struct ResponseBody(BodyState);

enum BodyState {
    Whole(Option<Bytes>),
    Truncated {
        head: Option<Bytes>,
        declared: u64,
        flushed: bool,
    },
}

impl ResponseBody {
    fn whole(bytes: Bytes) -> ResponseBody {
        ResponseBody(BodyState::Whole(Some(bytes).filter(|b| !b.is_empty())))
    }

    pub(super) fn truncated(full: Bytes) -> ResponseBody {
        ResponseBody(BodyState::Truncated {
            declared: full.len() as u64,
            head: Some(full.slice(..full.len() / 2)),
            flushed: false,
        })
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = InjectedFault;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, InjectedFault>>> {
        match &mut self.get_mut().0 {
            BodyState::Whole(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            BodyState::Truncated { head, flushed, .. } => {
                if let Some(head) = head.take() {
                    return Poll::Ready(Some(Ok(Frame::data(head))));
                }
                if !*flushed {
                    // Yield once so hyper flushes the head and the first half to the socket before
                    // the error below makes it drop the connection.
                    *flushed = true;
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                Poll::Ready(Some(Err(InjectedFault::Truncated)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.0, BodyState::Whole(None))
    }

    fn size_hint(&self) -> SizeHint {
        match &self.0 {
            BodyState::Whole(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            BodyState::Truncated { declared, .. } => SizeHint::with_exact(*declared),
        }
    }
}
