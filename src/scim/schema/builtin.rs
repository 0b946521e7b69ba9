//! The schemas the RFC defines (core User, Group, the enterprise User extension) and the
//! standard registry built from them.

use super::model::*;
use std::sync::Arc;

fn typed_multi(name: &str, value_ty: AttrType, types: &[&str], desc: &str) -> Attribute {
    complex(
        name,
        vec![
            Attribute::new("value", value_ty),
            string("display"),
            string("type").canonical(types),
            boolean("primary"),
        ],
    )
    .multi()
    .desc(desc)
}

/// The core User schema (RFC 7643 §4.1, §8.7.1).
pub fn user_schema() -> Schema {
    let emails = typed_multi(
        "emails",
        AttrType::String,
        &["work", "home", "other"],
        "Email addresses for the user.",
    );
    let phone_numbers = typed_multi(
        "phoneNumbers",
        AttrType::String,
        &["work", "home", "mobile", "fax", "pager", "other"],
        "Phone numbers for the user.",
    );
    let ims = typed_multi(
        "ims",
        AttrType::String,
        &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"],
        "Instant messaging addresses for the user.",
    );
    let mut photos = typed_multi(
        "photos",
        AttrType::Reference,
        &["photo", "thumbnail"],
        "URLs of photos of the user.",
    );
    photos.sub_attributes[0].reference_types = vec!["external".into()];
    let addresses = complex(
        "addresses",
        vec![
            string("formatted"),
            string("streetAddress"),
            string("locality"),
            string("region"),
            string("postalCode"),
            string("country"),
            string("type").canonical(&["work", "home", "other"]),
            boolean("primary"),
        ],
    )
    .multi()
    .desc("A physical mailing address for this user.");
    let groups = complex(
        "groups",
        vec![
            string("value").mutability(Mutability::ReadOnly),
            reference("$ref", &["User", "Group"]).mutability(Mutability::ReadOnly),
            string("display").mutability(Mutability::ReadOnly),
            string("type")
                .canonical(&["direct", "indirect"])
                .mutability(Mutability::ReadOnly),
        ],
    )
    .multi()
    .mutability(Mutability::ReadOnly)
    .desc("Groups the user belongs to, derived from group membership.");
    let simple_multi = |name: &str, desc: &str| {
        complex(
            name,
            vec![
                string("value"),
                string("display"),
                string("type"),
                boolean("primary"),
            ],
        )
        .multi()
        .desc(desc)
    };
    let x509 = typed_multi(
        "x509Certificates",
        AttrType::Binary,
        &[],
        "DER-encoded X.509 certificates issued to the user.",
    );
    Schema {
        id: USER_URN.to_owned(),
        name: "User".to_owned(),
        description: "User Account".to_owned(),
        attributes: vec![
            string("userName")
                .required()
                .uniqueness(Uniqueness::Server)
                .desc("Unique identifier for the User, used to authenticate."),
            complex(
                "name",
                vec![
                    string("formatted"),
                    string("familyName"),
                    string("givenName"),
                    string("middleName"),
                    string("honorificPrefix"),
                    string("honorificSuffix"),
                ],
            )
            .desc("The components of the user's real name."),
            string("displayName").desc("The name of the User, suitable for display."),
            string("nickName").desc("The casual way to address the user."),
            reference("profileUrl", &["external"]).desc("A URI to the user's online profile."),
            string("title").desc("The user's title, such as \"Vice President\"."),
            string("userType").desc("The relationship between the organization and the user."),
            string("preferredLanguage").desc("The user's preferred written or spoken language."),
            string("locale").desc("The user's default location for localization."),
            string("timezone").desc("The user's time zone, in IANA format."),
            boolean("active").desc("The user's administrative status."),
            string("password")
                .mutability(Mutability::WriteOnly)
                .returned(Returned::Never)
                .desc("The user's cleartext password; never returned."),
            emails,
            phone_numbers,
            ims,
            photos,
            addresses,
            groups,
            simple_multi("entitlements", "A list of entitlements for the user."),
            simple_multi("roles", "A list of roles for the user."),
            x509,
        ],
    }
}

/// The core Group schema (RFC 7643 §4.2, §8.7.1).
pub fn group_schema() -> Schema {
    Schema {
        id: GROUP_URN.to_owned(),
        name: "Group".to_owned(),
        description: "Group".to_owned(),
        attributes: vec![
            string("displayName")
                .required()
                .desc("A human-readable name for the Group."),
            complex(
                "members",
                vec![
                    string("value").mutability(Mutability::Immutable),
                    reference("$ref", &["User", "Group"]).mutability(Mutability::Immutable),
                    string("display").mutability(Mutability::ReadOnly),
                    string("type")
                        .canonical(&["User", "Group"])
                        .mutability(Mutability::Immutable),
                ],
            )
            .multi()
            .desc("A list of members of the Group."),
        ],
    }
}

/// The enterprise User extension (RFC 7643 §4.3).
pub fn enterprise_user_schema() -> Schema {
    Schema {
        id: ENTERPRISE_USER_URN.to_owned(),
        name: "EnterpriseUser".to_owned(),
        description: "Enterprise User".to_owned(),
        attributes: vec![
            string("employeeNumber")
                .desc("Numeric or alphanumeric identifier assigned to a person."),
            string("costCenter").desc("Identifies the name of a cost center."),
            string("organization").desc("Identifies the name of an organization."),
            string("division").desc("Identifies the name of a division."),
            string("department").desc("Identifies the name of a department."),
            complex(
                "manager",
                vec![
                    string("value").desc("The id of the SCIM resource representing the manager."),
                    reference("$ref", &["User"]).desc("The URI of the manager's resource."),
                    string("displayName")
                        .mutability(Mutability::ReadOnly)
                        .desc("The displayName of the manager."),
                ],
            )
            .desc("The user's manager."),
        ],
    }
}

/// The schema set every deployment starts from: User with the enterprise extension, and Group.
#[derive(Debug, Clone)]
pub struct Registry {
    /// User resource type schemas.
    pub user: Arc<ResourceSchema>,
    /// Group resource type schemas.
    pub group: Arc<ResourceSchema>,
}

impl Registry {
    /// The full RFC 7643 schemas: User + enterprise extension (optional), Group.
    pub fn standard() -> Registry {
        Registry {
            user: Arc::new(ResourceSchema {
                resource_type: "User".to_owned(),
                core: Arc::new(user_schema()),
                extensions: vec![Extension {
                    schema: Arc::new(enterprise_user_schema()),
                    required: false,
                }],
            }),
            group: Arc::new(ResourceSchema {
                resource_type: "Group".to_owned(),
                core: Arc::new(group_schema()),
                extensions: Vec::new(),
            }),
        }
    }
}
