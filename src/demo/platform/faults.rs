//! Fault injection of the demo platform: the [`Fault`] and [`Chaos`] settings and the atomic
//! word the current fault is packed in.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Response, StatusCode};

use super::response::{ResponseBody, respond};

/// Random faults (see [`Platform::set_chaos`](super::Platform::set_chaos)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chaos {
    /// Share of requests that get a fault, 0–100.
    pub percent: u8,
    /// Seed of the generator: the same seed draws the same sequence of faults.
    pub seed: u64,
    /// The delay of [`Fault::Delay`] when it is drawn: a slow answer, still in time (keep it
    /// below the client's timeout).
    pub slow: Duration,
    /// The duration of [`Fault::Stall`] when it is drawn (make it longer than the client's
    /// timeout).
    pub stall: Duration,
}

/// A failure to inject into every request while it is set (see [`Platform::set_fault`](super::Platform::set_fault)).
///
/// No fault except `Delay` and `ResetAfterApply` lets the request reach the data: a `POST` answered with an injected
/// status, garbage, a truncated body or a reset has created nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status and `{"error":"injected"}`. A code that is not a valid final status
    /// (below 200 or above 999) is served as 500.
    Status(u16),
    /// Wait this long, then serve the request normally. Capped at about 834 days.
    Delay(Duration),
    /// Answer `200` with the body `not json` (still labelled `application/json`).
    Garbage,
    /// Answer `200` with a `Content-Length` for a whole JSON body, send half of it, then close the
    /// connection (HTTP/2: reset the stream). A client sees an error while reading the body.
    Truncated,
    /// Close the connection without answering (HTTP/2: reset the stream).
    Reset,
    /// Serve the request (its change is made), then close the connection instead of answering:
    /// the client cannot tell whether it happened. The hardest case for retries.
    ResetAfterApply,
    /// Answer nothing for this long, then close the connection; the request is not applied. A
    /// platform that hangs: the client times out first. (Unlike `Delay`, which serves the request
    /// after waiting, so a client that gave up may see it applied later.) Capped like `Delay`.
    Stall(Duration),
}

/// The faults [`Chaos`] draws from, equally likely.
pub(super) const CHAOS_FAULTS: [Fault; 11] = [
    Fault::Status(500),
    Fault::Status(502),
    Fault::Status(503),
    Fault::Status(504),
    Fault::Status(429),
    Fault::Reset,
    Fault::ResetAfterApply,
    Fault::Truncated,
    Fault::Garbage,
    Fault::Delay(Duration::ZERO), // Chaos::slow
    Fault::Stall(Duration::ZERO), // Chaos::stall
];

/// The current [`Fault`], packed in one atomic word (kind in the top byte, payload below) so that
/// the per-request check is a single load and a reader can never see half of an update.
#[derive(Default)]
pub(super) struct FaultCell(AtomicU64);

pub(super) const FAULT_KIND_SHIFT: u32 = 56;
pub(super) const FAULT_PAYLOAD: u64 = (1 << FAULT_KIND_SHIFT) - 1;
/// Largest millisecond count a chaos duration holds (28 bits: about 74 hours).
pub(super) const CHAOS_MS: u64 = (1 << 28) - 1;

impl FaultCell {
    pub(super) fn set(&self, fault: Option<Fault>) {
        self.0.store(encode_fault(fault), Ordering::Release);
    }

    pub(super) fn get(&self) -> Option<Fault> {
        decode_fault(self.0.load(Ordering::Acquire))
    }
}

pub(super) fn encode_fault(fault: Option<Fault>) -> u64 {
    let (kind, payload) = match fault {
        None => (0, 0),
        Some(Fault::Status(code)) => (1, u64::from(code)),
        Some(Fault::Delay(delay)) => (
            2,
            u64::try_from(delay.as_nanos())
                .unwrap_or(u64::MAX)
                .min(FAULT_PAYLOAD),
        ),
        Some(Fault::Garbage) => (3, 0),
        Some(Fault::Truncated) => (4, 0),
        Some(Fault::Reset) => (5, 0),
        Some(Fault::ResetAfterApply) => (6, 0),
        Some(Fault::Stall(stall)) => (
            7,
            u64::try_from(stall.as_nanos())
                .unwrap_or(u64::MAX)
                .min(FAULT_PAYLOAD),
        ),
    };
    (kind << FAULT_KIND_SHIFT) | payload
}

pub(super) fn decode_fault(word: u64) -> Option<Fault> {
    let payload = word & FAULT_PAYLOAD;
    match word >> FAULT_KIND_SHIFT {
        1 => Some(Fault::Status(u16::try_from(payload).unwrap_or(500))),
        2 => Some(Fault::Delay(Duration::from_nanos(payload))),
        3 => Some(Fault::Garbage),
        4 => Some(Fault::Truncated),
        5 => Some(Fault::Reset),
        6 => Some(Fault::ResetAfterApply),
        7 => Some(Fault::Stall(Duration::from_nanos(payload))),
        _ => None,
    }
}

/// What a truncated response claims to carry; half of it is sent.
pub(super) const TRUNCATED_BODY: &[u8] =
    br#"{"data":[],"meta":{"page":1,"per_page":25,"total":0}}"#;

/// `Fault::Status`: the code as a final status, 500 when it is not one.
pub(super) fn injected_status(code: u16) -> Response<ResponseBody> {
    let status = StatusCode::from_u16(code)
        .ok()
        .filter(|status| !status.is_informational())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    respond(status, Bytes::from_static(br#"{"error":"injected"}"#))
}
