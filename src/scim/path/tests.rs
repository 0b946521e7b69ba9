use super::*;
use crate::scim::filter::{FilterOptions, PatchPath};
use crate::scim::schema::{ENTERPRISE_USER_URN, Registry};

fn ap(urn: Option<&str>, name: &str, sub: Option<&str>) -> AttrPath {
    AttrPath {
        urn: urn.map(str::to_owned),
        name: name.to_owned(),
        sub: sub.map(str::to_owned),
    }
}

#[test]
fn attr_paths_split_urn_name_and_sub_attribute() {
    let cases = [
        ("userName", ap(None, "userName", None)),
        ("name.givenName", ap(None, "name", Some("givenName"))),
        ("members.$ref", ap(None, "members", Some("$ref"))),
        (
            "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName",
            ap(
                Some("urn:ietf:params:scim:schemas:core:2.0:User"),
                "name",
                Some("givenName"),
            ),
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
            ap(Some(ENTERPRISE_USER_URN), "manager", Some("value")),
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            ap(
                Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0"),
                "User",
                None,
            ),
        ),
    ];
    for (text, expected) in cases {
        let p = AttrPath::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(p, expected, "{text}");
        assert_eq!(p.to_string(), text, "canonical text");
    }
}

#[test]
fn bad_attr_paths_are_invalid_path_errors_with_positions() {
    for (text, pos) in [
        ("", 0),
        ("9lives", 0),
        ("name.", 5),
        ("name.given.name", 10),
        ("urn:x:", 6),
        ("foo:userName", 0),
        ("user name", 0),
        ("urn:a b:c", 0),
        ("na*me", 0),
    ] {
        let e = AttrPath::parse(text).expect_err(text);
        assert_eq!(e.scim_type, Some(ScimType::InvalidPath), "{text}");
        let prefix = format!("invalid attribute path at position {pos}: ");
        assert!(e.detail.starts_with(&prefix), "{text:?}: {}", e.detail);
    }
}

#[test]
fn patch_paths_parse_and_print_canonically() {
    for (text, canonical) in [
        ("members", "members"),
        ("name.familyName", "name.familyName"),
        (
            "members[value eq \"2819c223\"]",
            "members[value eq \"2819c223\"]",
        ),
        (
            "emails[type eq \"work\"].value",
            "emails[type eq \"work\"].value",
        ),
        (
            "emails[TYPE EQ \"work\" AND primary EQ true].display",
            "emails[TYPE eq \"work\" and primary eq true].display",
        ),
        (
            " addresses[type eq \"work\"] ",
            "addresses[type eq \"work\"]",
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
        ),
    ] {
        let p = PatchPath::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(p.to_string(), canonical, "{text}");
        assert_eq!(
            PatchPath::parse(canonical)
                .map(|q| q.to_string())
                .ok()
                .as_deref(),
            Some(canonical)
        );
    }
    let p = PatchPath::parse("emails[type eq \"work\"].value").expect("parse");
    assert_eq!(p.attr, AttrPath::new("emails"));
    assert_eq!(p.target_sub(), Some("value"));
    assert_eq!(
        PatchPath::parse("name.givenName")
            .expect("sub")
            .target_sub(),
        Some("givenName")
    );
}

#[test]
fn bad_patch_paths_name_the_position() {
    for (text, pos, fragment) in [
        ("", 0, "expected an attribute path"),
        ("members[", 8, "expected an attribute path"),
        ("members[value eq \"x\"", 20, "\"]\""),
        (
            "members[value eq \"x\"] junk",
            22,
            "expected \".subAttribute\" or the end of the path",
        ),
        (
            "members[value eq \"x\"].",
            22,
            "expected a sub-attribute name",
        ),
        ("members junk", 8, "expected \"[\" or the end of the path"),
        ("members.value[value eq \"x\"]", 0, "not a sub-attribute"),
        ("members[value equals \"x\"]", 14, "expected an operator"),
        ("members[value[type eq \"x\"]]", 13, "cannot be nested"),
    ] {
        let e = PatchPath::parse(text).expect_err(text);
        assert_eq!(e.scim_type, Some(ScimType::InvalidPath), "{text}");
        let prefix = format!("invalid path at position {pos}: ");
        assert!(e.detail.starts_with(&prefix), "{text:?}: {}", e.detail);
        assert!(e.detail.contains(fragment), "{text:?}: {}", e.detail);
    }
    let unquoted = PatchPath::parse_with(
        "members[value eq 2819c223x]",
        &FilterOptions {
            unquoted_strings: true,
        },
    )
    .expect("unquoted");
    assert_eq!(unquoted.to_string(), "members[value eq \"2819c223x\"]");
}

#[test]
fn resolver_reports_attribute_sub_attribute_and_location() {
    let reg = Registry::standard();
    let t = resolve(&reg.user, &AttrPath::parse("EMAILS.Value").expect("p")).expect("emails");
    assert_eq!(t.attribute.name, "emails");
    assert_eq!(t.sub.map(|s| s.name.as_str()), Some("value"));
    assert_eq!(t.location, Location::Core);
    assert_eq!(t.label(), "emails.value");

    let qualified = AttrPath::parse(&format!("{ENTERPRISE_USER_URN}:manager.value")).expect("p");
    let t = resolve(&reg.user, &qualified).expect("manager");
    assert_eq!(t.location, Location::Extension(ENTERPRISE_USER_URN));
    assert_eq!(t.label(), format!("{ENTERPRISE_USER_URN}:manager.value"));

    let unqualified = resolve(&reg.user, &AttrPath::new("employeeNumber")).expect("fallback");
    assert_eq!(
        unqualified.location,
        Location::Extension(ENTERPRISE_USER_URN)
    );
    let core = resolve(
        &reg.user,
        &AttrPath::parse("urn:ietf:params:scim:schemas:core:2.0:User:id").expect("p"),
    )
    .expect("id");
    assert_eq!(core.attribute.name, "id");

    assert!(resolve(&reg.user, &AttrPath::new("nope")).is_none());
    assert!(resolve(&reg.user, &AttrPath::parse("name.nope").expect("p")).is_none());
    assert!(resolve(&reg.group, &AttrPath::new("employeeNumber")).is_none());
    assert_eq!(
        lookup(&reg.user, &AttrPath::parse("name.nope").expect("p")).err(),
        Some(Miss::SubAttribute)
    );
    assert_eq!(
        lookup(&reg.user, &AttrPath::new("nope")).err(),
        Some(Miss::Attribute)
    );
}

#[test]
fn targets_find_values_in_the_json() {
    let reg = Registry::standard();
    let doc = serde_json::json!({
        "USERNAME": "b",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": {"Manager": {"value": "m"}}
    });
    let user_name = resolve(&reg.user, &AttrPath::new("userName")).expect("t");
    assert_eq!(user_name.value_in(&doc), Some(&serde_json::json!("b")));
    let manager = resolve(&reg.user, &AttrPath::new("manager")).expect("t");
    assert_eq!(
        manager.value_in(&doc),
        Some(&serde_json::json!({"value": "m"}))
    );
    assert!(manager.value_in(&serde_json::json!([])).is_none());
}

#[test]
fn ref_is_accepted_in_any_case() {
    let p = AttrPath::parse("members.$REF").expect("$REF");
    assert_eq!(p.sub.as_deref(), Some("$REF"));
    let reg = Registry::standard();
    let t = resolve(&reg.group, &p).expect("resolves");
    assert_eq!(t.label(), "members.$ref");
}
