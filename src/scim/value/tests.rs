use super::*;
use serde_json::json;

fn obj(v: Value) -> Object {
    match v {
        Value::Object(o) => o,
        _ => Object::new(),
    }
}

#[test]
fn keys_are_found_case_insensitively_exact_first() {
    let m = obj(json!({"UserName": 1, "userName": 2}));
    assert_eq!(get_ci(&m, "userName"), Some(&json!(2)));
    assert_eq!(get_ci(&m, "USERNAME"), Some(&json!(1)));
    assert_eq!(key_ci(&m, "username"), Some("UserName"));
    assert_eq!(get_ci(&m, "nope"), None);
}

#[test]
fn set_ci_renames_in_place_and_remove_ci_removes_all_variants() {
    let mut m = obj(json!({"a": 1, "NICKNAME": "x", "z": 2}));
    set_ci(&mut m, "nickName", json!("y"));
    assert_eq!(m.keys().collect::<Vec<_>>(), ["a", "nickName", "z"]);
    assert_eq!(m["nickName"], "y");
    let mut m = obj(json!({"a": 1, "nickname": "x", "NickName": "w", "z": 2}));
    set_ci(&mut m, "nickName", json!("y"));
    assert_eq!(m, obj(json!({"a": 1, "nickName": "y", "z": 2})));
    assert_eq!(m.keys().collect::<Vec<_>>(), ["a", "nickName", "z"]);
    let mut m = obj(json!({"a": 1, "nickname": "x", "NickName": "w", "z": 2}));
    assert_eq!(remove_ci(&mut m, "NICKNAME"), Some(json!("x")));
    assert_eq!(m.keys().collect::<Vec<_>>(), ["a", "z"]);
    let mut m = obj(json!({"a": 1, "URN:X": {"k": 1}, "z": 2}));
    canonicalize_key(&mut m, "urn:x");
    assert_eq!(m.keys().collect::<Vec<_>>(), ["a", "urn:x", "z"]);
}

#[test]
fn presence_follows_rfc7643_unassigned_rules() {
    for (v, present) in [
        (json!(null), false),
        (json!(""), false),
        (json!([]), false),
        (json!({}), false),
        (json!([null, ""]), false),
        (json!({"a": null, "b": []}), false),
        (json!(false), true),
        (json!(0), true),
        (json!(" "), true),
        (json!([{}, {"v": 1}]), true),
    ] {
        assert_eq!(is_present(&v), present, "{v}");
    }
}

#[test]
fn base64_accepts_padded_and_unpadded() {
    for (s, ok) in [
        ("", true),
        ("TWFu", true),
        ("TWE=", true),
        ("TQ==", true),
        ("TWE", true),
        ("TQ", true),
        ("T", false),
        ("TQ=", false),
        ("TQ===", false),
        ("T Q=", false),
        ("a+/9", true),
        ("a-_9", false),
    ] {
        assert_eq!(is_base64(s), ok, "{s:?}");
    }
}

#[test]
fn string_comparisons_follow_case_rules() {
    assert!(str_eq("Straße", "STRAßE", false));
    assert!(!str_eq("Straße", "STRASSE", false));
    assert!(str_eq("ΣΑΣ", "σας", false));
    assert!(!str_eq("Abc", "abc", true));
    assert_eq!(str_cmp("apple", "Banana", false), Ordering::Less);
    assert_eq!(str_cmp("apple", "Banana", true), Ordering::Greater);
    assert_eq!(str_cmp("Élan", "élan", false), Ordering::Equal);
    assert!(str_starts("Émile", "éM", false));
    assert!(str_ends("café", "FÉ", false));
    assert!(!str_ends("é", "xé", false));
    assert!(str_contains("HELLO world", "lo W", false));
    assert!(str_contains("ÀBC", "bc", false));
    assert!(str_contains("abc", "", false));
    assert!(!str_contains("ab", "abc", false));
    assert!(!str_starts("ab", "abc", false));
}

#[test]
fn numbers_compare_exactly_when_integers() {
    let n = |v: Value| match v {
        Value::Number(n) => n,
        _ => unreachable!(),
    };
    assert_eq!(
        num_cmp(
            &n(json!(9007199254740993_u64)),
            &n(json!(9007199254740992_u64))
        ),
        Some(Ordering::Greater)
    );
    assert_eq!(
        num_cmp(&n(json!(-1)), &n(json!(u64::MAX))),
        Some(Ordering::Less)
    );
    assert_eq!(num_cmp(&n(json!(2)), &n(json!(2.0))), Some(Ordering::Equal));
    assert_eq!(num_cmp(&n(json!(2)), &n(json!(2.5))), Some(Ordering::Less));
}

#[test]
fn checker_canonicalises_and_type_checks() {
    let reg = crate::scim::schema::Registry::standard();
    let emails = reg.user.core.attribute("emails").expect("emails");
    let mut c = Checker::new(Unknown::Reject, false);
    let v = c
        .attr(
            emails,
            "emails",
            &json!([{"VALUE": "a@b.c", "Type": "work", "primary": null}, null]),
        )
        .expect("valid");
    assert_eq!(v, Some(json!([{"value": "a@b.c", "type": "work"}])));
    let e = c
        .attr(emails, "emails", &json!({"value": "a@b.c"}))
        .expect_err("not an array");
    assert_eq!(
        e.detail,
        "attribute 'emails' is multi-valued and must be an array of an object of sub-attributes, found an object"
    );
    let e = c
        .attr(emails, "emails", &json!([{"value": "x", "VALUE": "y"}]))
        .expect_err("duplicate");
    assert_eq!(
        e.scim_type,
        Some(crate::scim::error::ScimType::InvalidSyntax)
    );
    let mut wrap = Checker::new(Unknown::Reject, true);
    assert_eq!(
        wrap.attr(emails, "emails", &json!({"value": "a"}))
            .expect("wrapped"),
        Some(json!([{"value": "a"}]))
    );
    assert_eq!(
        wrap.attr(emails, "emails", &json!([])).expect("empty"),
        None
    );

    let mut ignored = Vec::new();
    let mut lenient = Checker::new(Unknown::Ignore(&mut ignored), false);
    let v = lenient
        .attr(
            emails,
            "emails",
            &json!([{"value": "a", "x": 1}, {"value": "b", "X": 2}]),
        )
        .expect("ignored");
    assert_eq!(v, Some(json!([{"value": "a"}, {"value": "b"}])));
    drop(lenient);
    assert_eq!(ignored, ["emails.x"]);

    let members = reg.group.core.attribute("members").expect("members");
    let m = Checker::new(Unknown::Reject, false)
        .attr(
            members,
            "members",
            &json!([{"value": "1", "display": "readOnly, ignored"}]),
        )
        .expect("members");
    assert_eq!(m, Some(json!([{"value": "1"}])));
    let meta = crate::scim::schema::common_attribute("meta").expect("meta");
    let kept = Checker::new(Unknown::Reject, false)
        .single(meta, "meta", &json!({"version": "W/\"1\""}))
        .expect("meta");
    assert_eq!(
        kept,
        Some(json!({"version": "W/\"1\""})),
        "readOnly subs of a readOnly attribute are kept for comparison"
    );
}

#[test]
fn schema_aware_equality() {
    let reg = crate::scim::schema::Registry::standard();
    let emails = reg.user.core.attribute("emails").expect("emails");
    assert!(values_equal(
        emails,
        Some(&json!([{"value": "A@x", "type": "work"}])),
        Some(&json!([{"type": "work", "value": "a@X"}]))
    ));
    assert!(!values_equal(
        emails,
        Some(&json!([{"value": "a"}])),
        Some(&json!([{"value": "a"}, {"value": "b"}]))
    ));
    assert!(values_equal(emails, None, Some(&json!([]))));
    let id = crate::scim::schema::common_attribute("id").expect("id");
    assert!(!values_equal(id, Some(&json!("A")), Some(&json!("a"))));
    let created = crate::scim::schema::common_attribute("meta")
        .and_then(|m| m.sub("created"))
        .expect("created");
    assert!(element_equal(
        created,
        Some(&json!("2008-01-23T04:56:22Z")),
        Some(&json!("2008-01-23T05:56:22+01:00"))
    ));
}

#[test]
fn excerpts_cut_on_character_boundaries() {
    assert_eq!(excerpt("héllo", 2), "hé…");
    assert_eq!(excerpt("hé", 2), "hé");
}
