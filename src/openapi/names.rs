//! Names shared by the guesses: the two resource kinds, name normalisation, the synonyms of
//! user names and timestamps, and TOML string quoting.

/// SCIM Users or Groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// SCIM Users.
    Users,
    /// SCIM Groups.
    Groups,
}

impl Kind {
    /// Collection names, best first.
    pub(super) fn names(self) -> &'static [&'static str] {
        match self {
            Kind::Users => &["users", "accounts", "people", "identities", "employees"],
            Kind::Groups => &["groups", "teams", "roles", "usergroups", "user_groups"],
        }
    }
}

/// `name` lowercased without `_`, `-` and `.`, for comparisons.
pub(super) fn norm(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, '_' | '-' | '.'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Field names (normalized) of an external id, the same for users and groups.
pub(super) const EXTERNAL_ID: &[&str] = &[
    "externalid",
    "externalref",
    "externalreference",
    "foreignid",
];

/// Field names (normalized) of a creation time.
pub(super) const CREATED: &[&str] = &[
    "createdat",
    "created",
    "createdtimestamp",
    "creationdate",
    "datecreated",
    "createtime",
    "createdon",
];
/// Field names (normalized) of a last change time.
pub(super) const MODIFIED: &[&str] = &[
    "updatedat",
    "updated",
    "modifiedat",
    "lastmodified",
    "modified",
    "lastupdated",
    "updatetime",
    "modifiedon",
    "updatedon",
];

/// Field names (normalized) of a user name.
pub(super) const USERNAME: &[&str] = &[
    "username",
    "login",
    "loginname",
    "userprincipalname",
    "upn",
    "uid",
    "handle",
    "nickname",
];

/// A TOML basic string.
pub(super) fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}
