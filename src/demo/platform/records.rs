//! The records the demo platform stores (users, groups, members), their write clock and the
//! case folding of their unique keys.

use std::borrow::Cow;

use serde::Serialize;
use serde::ser::Serializer;

use crate::scim::datetime;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum Status {
    Active,
    Disabled,
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct User {
    pub(super) id: u64,
    pub(super) username: String,
    pub(super) email: String,
    pub(super) first_name: String,
    pub(super) last_name: String,
    pub(super) display_name: String,
    pub(super) status: Status,
    pub(super) external_ref: Option<String>,
    pub(super) created_at: Stamp,
    pub(super) updated_at: Stamp,
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct Group {
    pub(super) id: u64,
    pub(super) name: String,
    pub(super) external_ref: Option<String>,
    pub(super) created_at: Stamp,
    pub(super) updated_at: Stamp,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub(super) struct Member {
    pub(super) user_id: u64,
}

/// What [`Table`](super::store::Table) needs from a record.
pub(super) trait Record: Clone + Serialize {
    /// The 409 error code when the unique key (email, name) is taken.
    const TAKEN: &'static str;
    fn external_ref(&self) -> Option<&str>;
    fn updated_at(&mut self) -> &mut Stamp;
}

impl Record for User {
    const TAKEN: &'static str = "email_taken";
    fn external_ref(&self) -> Option<&str> {
        self.external_ref.as_deref()
    }
    fn updated_at(&mut self) -> &mut Stamp {
        &mut self.updated_at
    }
}

impl Record for Group {
    const TAKEN: &'static str = "name_taken";
    fn external_ref(&self) -> Option<&str> {
        self.external_ref.as_deref()
    }
    fn updated_at(&mut self) -> &mut Stamp {
        &mut self.updated_at
    }
}

/// A write timestamp: wall-clock milliseconds since the epoch, and their RFC 3339 form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Stamp {
    pub(super) millis: i64,
    pub(super) text: String,
}

impl Stamp {
    pub(super) fn now() -> Stamp {
        let now = datetime::Instant::now();
        Stamp::at(
            now.secs
                .saturating_mul(1000)
                .saturating_add(i64::from(now.nanos / 1_000_000)),
        )
    }

    /// Now, or 1 ms after `previous` if the clock has not passed it yet: every write moves a
    /// record's `updated_at` forward, even several writes within one millisecond.
    pub(super) fn after(previous: &Stamp) -> Stamp {
        let now = Stamp::now();
        if now.millis > previous.millis {
            now
        } else {
            Stamp::at(previous.millis.saturating_add(1))
        }
    }

    pub(super) fn at(millis: i64) -> Stamp {
        let sub_millis = u32::try_from(millis.rem_euclid(1000)).unwrap_or(0);
        let text = datetime::format(datetime::Instant {
            secs: millis.div_euclid(1000),
            nanos: sub_millis * 1_000_000,
        });
        Stamp { millis, text }
    }
}

impl Serialize for Stamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

/// The case-insensitive form of an email or group name (Unicode lower case; no allocation for the
/// common all-lower-case ASCII input).
pub(super) fn fold(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase() || !b.is_ascii()) {
        Cow::Owned(s.to_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}
