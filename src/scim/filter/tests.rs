use super::*;
use crate::scim::error::{ScimError, ScimType};
use crate::scim::path::AttrPath;
use crate::scim::schema::{AttrType, Attribute, ResourceSchema};
use crate::scim::schema::{Extension, USER_URN};
use crate::scim::testdata::{babs, babs_enterprise, user_schema};
use serde_json::Value;
use serde_json::json;
use std::sync::Arc;

// --- AST builders ---------------------------------------------------------------------------

fn p(s: &str) -> AttrPath {
    AttrPath::parse(s).expect("valid attribute path")
}
fn s(v: &str) -> Literal {
    Literal::String(v.to_owned())
}
fn cmp(path: &str, op: CompareOp, value: Literal) -> Filter {
    Filter::Compare {
        path: p(path),
        op,
        value,
        pos: 0,
    }
}
fn pr(path: &str) -> Filter {
    Filter::Present {
        path: p(path),
        pos: 0,
    }
}
fn and(a: Filter, b: Filter) -> Filter {
    Filter::And(Box::new(a), Box::new(b))
}
fn or(a: Filter, b: Filter) -> Filter {
    Filter::Or(Box::new(a), Box::new(b))
}
fn not(a: Filter) -> Filter {
    Filter::Not(Box::new(a))
}
fn vp(path: &str, f: Filter) -> Filter {
    Filter::ValuePath {
        path: p(path),
        filter: Box::new(f),
        then: None,
        pos: 0,
    }
}
use CompareOp::{Co, Eq, Ew, Ge, Gt, Le, Lt, Ne, Sw};

fn parsed(input: &str) -> Filter {
    parse(input)
        .unwrap_or_else(|e| panic!("{input:?} must parse: {e}"))
        .without_positions()
}

fn eval(input: &str, resource: &Value) -> bool {
    let schema = user_schema();
    let f = parse(input).unwrap_or_else(|e| panic!("{input:?} must parse: {e}"));
    check(&f, &schema).unwrap_or_else(|e| panic!("{input:?} must pass check: {e}"));
    matches(&f, resource, &schema)
}

fn parse_err(input: &str) -> ScimError {
    let e = parse(input).expect_err(input);
    assert_eq!(e.status, 400, "{input:?}");
    assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{input:?}");
    e
}

fn check_err(input: &str) -> ScimError {
    let f = parse(input).unwrap_or_else(|e| panic!("{input:?} must parse: {e}"));
    let e = check(&f, &user_schema()).expect_err(input);
    assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{input:?}");
    e
}

// --- RFC 7644 §3.4.2.2 examples ---------------------------------------------------------------

const EXTENSION_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// Every filter example of RFC 7644 §3.4.2.2: input, exact AST, canonical print, and whether the
/// RFC 7643 §8.2 Babs Jensen resource matches.
#[test]
fn rfc7644_filter_examples_parse_print_and_evaluate_against_babs_jensen() {
    let lm = "2011-05-13T04:42:34Z";
    let emails_either = || {
        or(
            cmp("emails", Co, s("example.com")),
            cmp("emails.value", Co, s("example.org")),
        )
    };
    let cases: Vec<(&str, Filter, &str, bool)> = vec![
        (
            r#"userName eq "bjensen""#,
            cmp("userName", Eq, s("bjensen")),
            r#"userName eq "bjensen""#,
            false, // Babs' userName is "bjensen@example.com"
        ),
        (
            r#"name.familyName co "O'Malley""#,
            cmp("name.familyName", Co, s("O'Malley")),
            r#"name.familyName co "O'Malley""#,
            false,
        ),
        (
            r#"userName sw "J""#,
            cmp("userName", Sw, s("J")),
            r#"userName sw "J""#,
            false,
        ),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
            cmp(&format!("{USER_URN}:userName"), Sw, s("J")),
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
            false,
        ),
        ("title pr", pr("title"), "title pr", true),
        (
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
            cmp("meta.lastModified", Gt, s(lm)),
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
            false, // equal, not greater
        ),
        (
            r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
            cmp("meta.lastModified", Ge, s(lm)),
            r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
            true,
        ),
        (
            r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
            cmp("meta.lastModified", Lt, s(lm)),
            r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
            false,
        ),
        (
            r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
            cmp("meta.lastModified", Le, s(lm)),
            r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
            true,
        ),
        (
            r#"title pr and userType eq "Employee""#,
            and(pr("title"), cmp("userType", Eq, s("Employee"))),
            r#"title pr and userType eq "Employee""#,
            true,
        ),
        (
            r#"title pr or userType eq "Intern""#,
            or(pr("title"), cmp("userType", Eq, s("Intern"))),
            r#"title pr or userType eq "Intern""#,
            true,
        ),
        (
            r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
            cmp("schemas", Eq, s(EXTENSION_URN)),
            r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
            false, // the §8.2 representation lists only the core schema
        ),
        (
            "userType eq \"Employee\" and (emails co \"example.com\" or\n  emails.value co \"example.org\")",
            and(cmp("userType", Eq, s("Employee")), emails_either()),
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            true,
        ),
        (
            "userType ne \"Employee\" and not (emails co \"example.com\" or\n  emails.value co \"example.org\")",
            and(cmp("userType", Ne, s("Employee")), not(emails_either())),
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            false,
        ),
        (
            r#"userType eq "Employee" and (emails.type eq "work")"#,
            and(
                cmp("userType", Eq, s("Employee")),
                cmp("emails.type", Eq, s("work")),
            ),
            r#"userType eq "Employee" and emails.type eq "work""#,
            true,
        ),
        (
            "userType eq \"Employee\" and emails[type eq \"work\" and\n  value co \"@example.com\"]",
            and(
                cmp("userType", Eq, s("Employee")),
                vp(
                    "emails",
                    and(
                        cmp("type", Eq, s("work")),
                        cmp("value", Co, s("@example.com")),
                    ),
                ),
            ),
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
            true,
        ),
        (
            "emails[type eq \"work\" and value co \"@example.com\"] or\n  ims[type eq \"xmpp\" and value co \"@foo.com\"]",
            or(
                vp(
                    "emails",
                    and(
                        cmp("type", Eq, s("work")),
                        cmp("value", Co, s("@example.com")),
                    ),
                ),
                vp(
                    "ims",
                    and(cmp("type", Eq, s("xmpp")), cmp("value", Co, s("@foo.com"))),
                ),
            ),
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
            true,
        ),
    ];
    assert_eq!(
        cases.len(),
        17,
        "RFC 7644 §3.4.2.2 lists 17 example filters"
    );
    let schema = user_schema();
    let resource = babs();
    for (input, ast, canonical, expected) in cases {
        let f = parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(f.without_positions(), ast, "AST of {input:?}");
        assert_eq!(f.to_string(), canonical, "canonical print of {input:?}");
        assert!(
            same_shape(&parse(canonical).expect("reparse"), &f),
            "{input:?}"
        );
        check(&f, &schema).unwrap_or_else(|e| panic!("check {input:?}: {e}"));
        assert_eq!(
            matches(&f, &resource, &schema),
            expected,
            "evaluating {input:?}"
        );
    }
}

#[test]
fn rfc_examples_that_babs_fails_do_match_a_resource_made_to_fit() {
    let mut u = babs_enterprise();
    u["userName"] = json!("bjensen");
    u["name"]["familyName"] = json!("O'Malley");
    assert!(eval(r#"userName eq "bjensen""#, &u));
    assert!(eval(r#"name.familyName co "O'Malley""#, &u));
    assert!(eval(
        r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
        &u
    ));
    u["userName"] = json!("Jensen");
    assert!(eval(r#"userName sw "J""#, &u));
    assert!(eval(
        r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "j""#,
        &u
    ));
}

#[test]
fn positions_point_at_each_node() {
    let f = parse(r#"title pr and  userType eq "Employee""#).expect("parse");
    let Filter::And(a, b) = &f else {
        panic!("and expected")
    };
    assert_eq!(a.pos(), 0);
    assert_eq!(b.pos(), 14);
}

#[test]
fn keywords_are_case_insensitive_and_names_keep_their_spelling() {
    let f = parsed(r#"USERNAME Eq "john" AND Title PR OR NOT (active EQ TRUE)"#);
    assert_eq!(
        f,
        or(
            and(cmp("USERNAME", Eq, s("john")), pr("Title")),
            not(cmp("active", Eq, Literal::Bool(true)))
        )
    );
    assert_eq!(
        f.to_string(),
        r#"USERNAME eq "john" and Title pr or not (active eq true)"#
    );
    assert!(eval(r#"Username eq "BJENSEN@example.com""#, &babs()));
}

#[test]
fn precedence_is_not_then_and_then_or_and_parentheses_group() {
    assert_eq!(
        parsed("a pr or b pr and c pr"),
        or(pr("a"), and(pr("b"), pr("c")))
    );
    assert_eq!(
        parsed("(a pr or b pr) and c pr"),
        and(or(pr("a"), pr("b")), pr("c"))
    );
    assert_eq!(
        parsed("a pr and b pr and c pr"),
        and(and(pr("a"), pr("b")), pr("c"))
    );
    assert_eq!(
        parsed("a pr and (b pr and c pr)"),
        and(pr("a"), and(pr("b"), pr("c")))
    );
    assert_eq!(parsed("not(a pr) and b pr"), and(not(pr("a")), pr("b")));
    // minimal parentheses that keep the tree
    assert_eq!(
        parsed("a pr and (b pr and c pr)").to_string(),
        "a pr and (b pr and c pr)"
    );
    assert_eq!(parsed("((a pr))").to_string(), "a pr");
    assert_eq!(
        parsed("(a pr or b pr) or c pr").to_string(),
        "a pr or b pr or c pr"
    );
    assert_eq!(
        parsed("a pr or (b pr or c pr)").to_string(),
        "a pr or (b pr or c pr)"
    );
}

#[test]
fn literals_follow_json() {
    assert_eq!(
        parsed(r#"x eq "a\"b\\c\u00e9\n\/""#),
        cmp("x", Eq, s("a\"b\\cé\n/"))
    );
    assert_eq!(parsed(r#"x eq "\ud83d\ude00""#), cmp("x", Eq, s("😀")));
    for (text, n) in [
        ("42", json!(42)),
        ("-7", json!(-7)),
        ("1.5", json!(1.5)),
        ("2e3", json!(2000.0)),
        ("-0.25E-2", json!(-0.0025)),
    ] {
        let Value::Number(n) = n else { unreachable!() };
        assert_eq!(
            parsed(&format!("x gt {text}")),
            cmp("x", Gt, Literal::Number(n)),
            "{text}"
        );
    }
    assert_eq!(parsed("x eq True"), cmp("x", Eq, Literal::Bool(true)));
    assert_eq!(parsed("x eq FALSE"), cmp("x", Eq, Literal::Bool(false)));
    assert_eq!(parsed("x ne Null"), cmp("x", Ne, Literal::Null));
    // strings print JSON-escaped and parse back
    let tricky = cmp("x", Eq, s("q\"\\\u{1}\t ünï 😀"));
    assert_eq!(tricky.to_string(), r#"x eq "q\"\\\u0001\t ünï 😀""#);
    assert_eq!(parsed(&tricky.to_string()), tricky);
}

#[test]
fn numbers_print_and_parse_back_exactly() {
    // found by fuzzing: a float that serde_json's default parser does not round-trip
    let f = parsed("ux eq 5555559999999999999999999999999999955555115");
    assert_eq!(f.to_string(), "ux eq 5.55556e+42", "correctly rounded");
    assert_eq!(parsed(&f.to_string()), f);
    for text in [
        "0",
        "-0",
        "-0.0",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775808",
        "-9223372036854775809",
        "1.7976931348623157e308",
        "5e-324",
        "0.1",
        "123.456e-7",
    ] {
        let once = parsed(&format!("x eq {text}"));
        assert_eq!(parsed(&once.to_string()), once, "{text}");
    }
    assert_eq!(
        parsed("x eq 18446744073709551615"),
        cmp("x", Eq, Literal::Number(u64::MAX.into()))
    );
    assert_eq!(
        parsed("x eq -9223372036854775808"),
        cmp("x", Eq, Literal::Number(i64::MIN.into()))
    );
    for bad in [
        "x eq -",
        "x eq 1.",
        "x eq .5",
        "x eq 1e",
        "x eq 1e+",
        "x eq 00",
        "x eq +1",
        "x eq 1.5.2",
        "x eq 2e400",
        "x eq 0x1F",
    ] {
        parse_err(bad);
    }
}

#[test]
fn whitespace_is_tolerant() {
    let expected = and(cmp("userName", Eq, s("x")), pr("title"));
    for input in [
        "userName eq \"x\" and title pr",
        "  userName   eq\t\"x\"\r\nand  title pr  ",
        "userName eq\"x\"and title pr",
        "(userName eq \"x\")and(title pr)",
    ] {
        assert_eq!(parsed(input), expected, "{input:?}");
    }
}

#[test]
fn unquoted_strings_are_read_only_when_enabled() {
    let opts = FilterOptions {
        unquoted_strings: true,
    };
    let f = parse_with("externalId eq jyoung", &opts).expect("parse");
    assert_eq!(f.without_positions(), cmp("externalId", Eq, s("jyoung")));
    assert_eq!(f.to_string(), r#"externalId eq "jyoung""#);
    let n = parse_with("x eq 12", &opts).expect("number stays a number");
    assert_eq!(
        n.without_positions(),
        cmp("x", Eq, Literal::Number(12.into()))
    );
    let b = parse_with("x eq true", &opts).expect("bool");
    assert_eq!(b.without_positions(), cmp("x", Eq, Literal::Bool(true)));
    let odd = parse_with("x eq 12ab", &opts).expect("not a number, so a string");
    assert_eq!(odd.without_positions(), cmp("x", Eq, s("12ab")));
    let e = parse_with("x eq a\u{1}b", &opts).expect_err("control character");
    assert_eq!(
        e.detail,
        "invalid filter at position 6: control characters are not allowed in an unquoted string"
    );
    let e = parse_err("externalId eq jyoung");
    assert!(e.detail.contains("double quotes"), "{}", e.detail);
    // Quirk 18 is a bare word: UPNs, e-mail addresses, GUIDs and guest UPNs are words...
    for word in [
        "ada@example.com",
        "7d420df3-9995-4831-a406-ecf8166f5f6a",
        "ada_contoso.com#EXT#@tenant.onmicrosoft.com",
        "o'brien@example.com",
    ] {
        let f = parse_with(&format!("userName eq {word}"), &opts).expect(word);
        assert_eq!(f.without_positions(), cmp("userName", Eq, s(word)));
    }
    // ...single-quoted strings and JSON values are not (RFC 7644 §3.4.2.2: invalidFilter)
    for (input, at) in [
        ("userName eq 'a'", 12),
        ("userName eq {}", 12),
        ("userName eq {\"a\":1}", 12),
        ("userName eq a\\b", 13),
        ("userName eq a,b", 13),
    ] {
        let e = parse_with(input, &opts).expect_err(input);
        assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{input}");
        assert!(
            e.detail
                .starts_with(&format!("invalid filter at position {at}:"))
                && e.detail.contains("double quotes"),
            "{input}: {}",
            e.detail
        );
    }
}

#[test]
fn entra_value_path_with_sub_attribute_is_its_own_form() {
    let input = r#"emails[type eq "work"].value eq "bjensen@example.com""#;
    let f = parse(input).expect("parse");
    let Filter::ValuePath {
        path,
        filter,
        then,
        pos,
    } = &f
    else {
        panic!("value path expected: {f:?}")
    };
    assert_eq!((path.name.as_str(), *pos), ("emails", 0));
    assert_eq!(filter.without_positions(), cmp("type", Eq, s("work")));
    let then = then.as_ref().expect("then");
    assert_eq!(then.sub, "value");
    assert_eq!(then.pos, 23);
    assert_eq!(
        then.test,
        Test::Compare {
            op: Eq,
            value: s("bjensen@example.com")
        }
    );
    assert_eq!(f.to_string(), input);
    assert!(eval(input, &babs()));
    // the home address is an email of Babs, but not a work one
    assert!(!eval(
        r#"emails[type eq "work"].value eq "babs@jensen.org""#,
        &babs()
    ));
    assert!(eval(r#"emails.value eq "babs@jensen.org""#, &babs()));
    assert!(eval(r#"emails[type eq "home"].value pr"#, &babs()));
    assert!(!eval(r#"emails[type eq "other"].value ne "x""#, &babs()));
}

// --- errors -----------------------------------------------------------------------------------

#[test]
fn syntax_errors_name_position_expectation_and_finding() {
    let e = parse_err(r#"userName equals "bjensen""#);
    assert_eq!(
        e.detail,
        r#"invalid filter at position 9: expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr), found "equals""#
    );
    let cases: &[(&str, usize, &str)] = &[
        (
            "",
            0,
            "expected an attribute path, \"not\" or \"(\", found the end of the input",
        ),
        ("userName eq", 11, "expected a value"),
        (
            "userName eq bjensen",
            12,
            "strings must be in double quotes",
        ),
        (
            "(userName eq \"x\"",
            16,
            "expected \"and\", \"or\" or \")\", found the end of the input",
        ),
        ("userName eq \"x\" and", 19, "expected an attribute path"),
        (
            "userName eq \"x\" )",
            16,
            "expected \"and\", \"or\" or the end of the filter, found \")\"",
        ),
        ("userName eq \"x\" nor title pr", 16, "found \"nor\""),
        ("not userName eq \"x\"", 4, "expected \"(\" after \"not\""),
        (
            "emails[type eq \"work\"",
            21,
            "expected \"and\", \"or\" or \"]\"",
        ),
        ("emails[type[value eq \"x\"]]", 11, "cannot be nested"),
        ("userName eq \"unterminated", 12, "unterminated string"),
        ("userName eq \"bad \\q\"", 18, "invalid string literal"),
        ("1userName eq \"x\"", 0, "not a valid attribute name"),
        ("name.givenName.x eq \"y\"", 14, "at most one sub-attribute"),
        ("userName eq 01", 12, "not a valid JSON number"),
        ("userName eq 1e999", 12, "not a valid JSON number"),
        ("x eq \"a\" and and", 16, "expected an operator"),
        (
            "emails[type eq \"work\"].",
            23,
            "expected a sub-attribute name",
        ),
        ("emails[type eq \"work\"].value", 28, "expected an operator"),
        (
            "name.givenName[x eq \"y\"]",
            0,
            "must follow an attribute, not a sub-attribute",
        ),
        ("urn:x eq \"y\"", 0, "is not a schema URI"),
        ("userName eq [", 12, "expected a value"),
    ];
    for (input, pos, fragment) in cases {
        let e = parse_err(input);
        let prefix = format!("invalid filter at position {pos}: ");
        assert!(e.detail.starts_with(&prefix), "{input:?}: {}", e.detail);
        assert!(e.detail.contains(fragment), "{input:?}: {}", e.detail);
    }
}

#[test]
fn length_and_depth_limits_are_enforced() {
    let long = format!("userName eq \"{}\"", "a".repeat(MAX_FILTER_LEN));
    let e = parse_err(&long);
    assert!(e.detail.contains("limit is 4096"), "{}", e.detail);

    let nested = |n: usize| format!("{}a pr{}", "(".repeat(n), ")".repeat(n));
    assert_eq!(parsed(&nested(MAX_DEPTH)), pr("a"));
    let e = parse_err(&nested(MAX_DEPTH + 1));
    assert!(e.detail.contains("more than 32 levels"), "{}", e.detail);
    assert!(
        e.detail.starts_with("invalid filter at position 32:"),
        "{}",
        e.detail
    );

    let nots = |n: usize| format!("{}a pr{}", "not (".repeat(n), ")".repeat(n));
    assert!(parse(&nots(MAX_DEPTH)).is_ok());
    parse_err(&nots(MAX_DEPTH + 1));

    // a value filter counts as one level
    let in_brackets = format!(
        "emails[{}type pr{}]",
        "(".repeat(MAX_DEPTH - 1),
        ")".repeat(MAX_DEPTH - 1)
    );
    assert!(parse(&in_brackets).is_ok());
    let too_deep = format!(
        "emails[{}type pr{}]",
        "(".repeat(MAX_DEPTH),
        ")".repeat(MAX_DEPTH)
    );
    parse_err(&too_deep);
}

/// Worst cases of at most 4096 bytes, built to hit each part of the parser as hard as the limits
/// allow. They must be decided correctly (and, measured by hand, quickly: see the report).
#[test]
fn worst_case_inputs_within_the_limit_are_decided_correctly() {
    // 1. nesting right at the cap, padded with whitespace to the length limit
    let mut deep = format!(
        "{}title pr{}",
        "not (".repeat(MAX_DEPTH),
        ")".repeat(MAX_DEPTH)
    );
    deep.push_str(&" ".repeat(MAX_FILTER_LEN - deep.len()));
    assert_eq!(deep.len(), MAX_FILTER_LEN);
    let f = parse(&deep).expect("32 levels are allowed");
    check(&f, &user_schema()).expect("check");
    assert!(
        matches(&f, &babs(), &user_schema()),
        "an even number of nots"
    );

    // 2. an opening flood is rejected at the 33rd level, whatever follows
    let flood = "(".repeat(MAX_FILTER_LEN);
    assert!(parse_err(&flood).detail.contains("more than 32 levels"));

    // 3. the longest and/or chain that fits: ~300 terms, alternating operators
    let mut chain = String::from("title pr");
    for i in 0.. {
        let next = if i % 2 == 0 {
            " and title pr"
        } else {
            " or title pr"
        };
        if chain.len() + next.len() > MAX_FILTER_LEN {
            break;
        }
        chain.push_str(next);
    }
    assert!(chain.len() > MAX_FILTER_LEN - 13);
    let f = parse(&chain).expect("long chain");
    check(&f, &user_schema()).expect("check");
    assert!(matches(&f, &babs(), &user_schema()));
    assert!(same_shape(&parse(&f.to_string()).expect("reprint"), &f));

    // 4. one string literal of escapes filling the limit
    let body = "\\\"".repeat((MAX_FILTER_LEN - 16) / 2);
    let quoted = format!("title eq \"{body}\"");
    assert!(quoted.len() <= MAX_FILTER_LEN);
    let f = parse(&quoted).expect("escaped string");
    assert_eq!(
        f.without_positions(),
        cmp("title", Eq, s(&"\"".repeat(body.len() / 2)))
    );

    // 5. an unterminated run of escaped quotes is rejected
    let open = format!("title eq \"{}", "\\\"".repeat((MAX_FILTER_LEN - 10) / 2));
    assert!(parse_err(&open).detail.contains("unterminated string"));

    // 6. a maximal value filter full of alternatives, evaluated against many elements
    let mut vf = String::from("emails[value eq \"0\"");
    let mut i = 1;
    while vf.len() + 24 < MAX_FILTER_LEN {
        vf.push_str(&format!(" or value eq \"{i}\""));
        i += 1;
    }
    vf.push(']');
    let f = parse(&vf).expect("wide value filter");
    check(&f, &user_schema()).expect("check");
    let mut many = babs();
    many["emails"] = Value::Array(
        (0..1000)
            .map(|n| json!({"value": format!("x{n}")}))
            .collect(),
    );
    assert!(!matches(&f, &many, &user_schema()));
    many["emails"][999]["value"] = json!("7");
    assert!(matches(&f, &many, &user_schema()));

    // 7. a maximal attribute path
    let name = format!("a{}", "b".repeat(MAX_FILTER_LEN - 4));
    let f = parse(&format!("{name} pr")).expect("long name");
    assert!(check_err_on(&f).detail.contains("unknown attribute"));
}

fn check_err_on(f: &Filter) -> ScimError {
    check(f, &user_schema()).expect_err("unknown")
}

// --- schema checks ----------------------------------------------------------------------------

#[test]
fn check_rejects_what_cannot_be_evaluated_faithfully() {
    let cases: &[(&str, &str)] = &[
        (
            "nickname pr and foo eq \"x\"",
            "invalid filter at position 16: unknown attribute 'foo'",
        ),
        ("name.foo pr", "attribute 'name' has no sub-attribute 'foo'"),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:shoeSize eq 4",
            "unknown attribute 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:shoeSize'",
        ),
        (
            "active gt true",
            "'gt' is not supported on boolean attribute 'active' (RFC 7644 §3.4.2.2)",
        ),
        (
            "x509Certificates.value le \"AAAA\"",
            "'le' is not supported on binary attribute 'x509Certificates.value'",
        ),
        (
            "x509Certificates lt \"AAAA\"",
            "'lt' is not supported on binary attribute 'x509Certificates.value'",
        ),
        (
            "active eq \"x\"",
            "attribute 'active' is of type boolean and cannot be compared with the string \"x\"",
        ),
        (
            "active co \"t\"",
            "'co' compares strings, and 'active' is of type boolean",
        ),
        (
            "meta.created gt 5",
            "attribute 'meta.created' is of type dateTime and cannot be compared with the number 5",
        ),
        ("meta.created gt \"yesterday\"", "is not an xsd:dateTime"),
        (
            "userName eq 5",
            "attribute 'userName' is of type string and cannot be compared with the number 5",
        ),
        (
            "emails co 5",
            "attribute 'emails.value' is of type string and cannot be compared with the number 5",
        ),
        (
            "name eq \"Babs\"",
            "attribute 'name' is complex and has no 'value' sub-attribute: compare one of its sub-attributes, e.g. 'name.formatted'",
        ),
        (
            "userName[value eq \"x\"]",
            "a value filter needs a multi-valued or complex attribute, and 'userName' is a single string",
        ),
        (
            "emails[foo eq \"x\"]",
            "attribute 'emails' has no sub-attribute 'foo'",
        ),
        (
            "emails[value.x eq \"x\"]",
            "name sub-attributes of 'emails' directly",
        ),
        (
            "emails[type eq \"work\"].foo eq \"x\"",
            "attribute 'emails' has no sub-attribute 'foo'",
        ),
        (
            "emails[primary eq \"yes\"]",
            "attribute 'emails.primary' is of type boolean",
        ),
        ("userName gt null", "'gt' cannot compare with null"),
        (
            "schemas[value eq 3]",
            "attribute 'schemas' is of type string",
        ),
        ("schemas[type eq \"x\"]", "(its values are named 'value')"),
    ];
    for (input, fragment) in cases {
        let e = check_err(input);
        assert!(e.detail.contains(fragment), "{input:?}: {}", e.detail);
        assert!(
            e.detail.starts_with("invalid filter at position "),
            "{}",
            e.detail
        );
    }
}

#[test]
fn check_accepts_every_well_typed_form() {
    for input in [
        "name pr",
        "name.givenName sw \"B\"",
        "emails pr",
        "emails[type eq \"work\" and not (primary eq false)]",
        "active eq true and active ne null",
        "meta.created co \"2010\"",
        "meta.lastModified ge \"2011-05-13T04:42:34+00:00\"",
        "x509Certificates.value eq \"MIID\"",
        "schemas[value eq \"urn:ietf:params:scim:schemas:core:2.0:User\"]",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq \"x\"",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq \"x\"",
        "employeeNumber eq \"701984\"",
        "name[givenName eq \"Barbara\"]",
    ] {
        let f = parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        check(&f, &user_schema()).unwrap_or_else(|e| panic!("{input}: {e}"));
    }
}

// --- evaluation semantics ---------------------------------------------------------------------

#[test]
fn strings_honour_case_exactness() {
    let u = babs();
    assert!(
        eval(r#"userName eq "BJENSEN@EXAMPLE.COM""#, &u),
        "userName is caseExact=false"
    );
    assert!(eval(r#"displayName eq "babs jensen""#, &u));
    assert!(eval(r#"emails.value eq "BJensen@Example.com""#, &u));
    assert!(
        !eval(r#"id eq "2819C223-7F76-453A-919D-413861904646""#, &u),
        "id is caseExact"
    );
    assert!(eval(r#"id eq "2819c223-7f76-453a-919d-413861904646""#, &u));
    assert!(!eval(r#"externalId eq "701984 ""#, &u));
    assert!(eval(r#"externalId eq "701984""#, &u));
    assert!(
        !eval(r#"profileUrl eq "HTTPS://login.example.com/bjensen""#, &u),
        "references are case exact"
    );
    assert!(eval(r#"userName co "JENSEN@""#, &u));
    assert!(eval(r#"userName sw "BJ""#, &u));
    assert!(eval(r#"userName ew ".COM""#, &u));
    assert!(
        eval(r#"userName co """#, &u),
        "the empty string is a substring of everything"
    );
    assert!(!eval(r#"id sw "2819C""#, &u));
}

#[test]
fn caseless_comparison_handles_unicode() {
    let mut u = babs();
    u["displayName"] = json!("Élodie ΟΔΟΣ Straße");
    assert!(eval(r#"displayName eq "élodie οδος straße""#, &u));
    assert!(eval(r#"displayName eq "ÉLODIE ΟΔΟΣ STRAßE""#, &u));
    assert!(
        eval(r#"displayName eq "élodie οδος straße""#, &u),
        "final sigma"
    );
    assert!(eval(r#"displayName sw "éLO""#, &u));
    assert!(
        !eval(r#"displayName ew "STRASSE""#, &u),
        "no full case folding"
    );
    assert!(eval(r#"displayName co "ΟΔΟς""#, &u));
    assert!(eval(r#"displayName ew "ΟΔΟΣ STRAßE""#, &u));
    u["displayName"] = json!("kelvin");
    assert!(
        eval("displayName eq \"\u{212A}ELVIN\"", &u),
        "Kelvin sign lowercases to k"
    );
    assert!(eval(r#"displayName gt "KELVIM""#, &u));
    assert!(eval(r#"displayName lt "Kelvio""#, &u));
}

#[test]
fn multi_valued_attributes_match_when_any_value_matches() {
    let u = babs();
    assert!(eval(r#"emails.type eq "home""#, &u));
    assert!(eval(r#"emails.type eq "work""#, &u));
    assert!(eval(r#"emails.type ne "work""#, &u), "home is not work");
    assert!(
        eval(r#"emails co "jensen.org""#, &u),
        "complex without sub compares value"
    );
    assert!(eval(r#"groups.display eq "employees""#, &u));
    assert!(eval(
        r#"emails[primary eq true].value ew "example.com""#,
        &u
    ));
    assert!(!eval(
        r#"emails[primary eq true].value ew "jensen.org""#,
        &u
    ));
    assert!(eval(
        r#"addresses[type eq "home" and locality eq "Hollywood"]"#,
        &u
    ));
    assert!(!eval(
        r#"addresses[type eq "home" and primary eq true]"#,
        &u
    ));
    assert!(eval(
        r#"addresses[type eq "home" and not (primary eq true)]"#,
        &u
    ));
}

#[test]
fn presence_and_null() {
    let mut u = babs();
    u["nickName"] = json!("");
    u["title"] = Value::Null;
    u["ims"] = json!([]);
    u["name"] = json!({"givenName": null});
    u["phoneNumbers"] = json!([{}, {"value": ""}]);
    for (f, expected) in [
        ("nickName pr", false),
        ("title pr", false),
        ("ims pr", false),
        ("name pr", false),
        ("phoneNumbers pr", false),
        ("phoneNumbers.value pr", false),
        ("emails pr", true),
        ("active pr", true),
        ("timezone pr", true),
        ("title eq null", true),
        ("title ne null", false),
        ("userName eq null", false),
        ("userName ne null", true),
        ("locale pr", true),
        ("nickName eq \"\"", true),
    ] {
        assert_eq!(eval(f, &u), expected, "{f}");
    }
}

#[test]
fn unassigned_attributes_make_comparisons_false_except_ne() {
    let mut u = babs();
    u.as_object_mut().expect("object").remove("title");
    assert!(!eval(r#"title eq "x""#, &u));
    assert!(eval(r#"title ne "x""#, &u));
    assert!(!eval(r#"title co "x""#, &u));
    assert!(!eval(r#"title gt "a""#, &u));
    assert!(!eval(r#"title lt "z""#, &u));
    assert!(eval(r#"not (title eq "x")"#, &u));
    assert!(
        !eval(r#"entitlements[type eq "x"]"#, &u),
        "a value path on an unassigned attribute selects nothing"
    );
}

#[test]
fn date_times_compare_as_instants() {
    let u = babs();
    assert!(eval(
        r#"meta.lastModified eq "2011-05-13T06:42:34+02:00""#,
        &u
    ));
    assert!(!eval(
        r#"meta.lastModified gt "2011-05-13T04:43:34.999+00:01""#,
        &u
    ));
    assert!(eval(r#"meta.lastModified lt "2011-05-13T04:42:34.5Z""#, &u));
    assert!(eval(r#"meta.created gt "2010-01-23T04:56:21Z""#, &u));
    assert!(!eval(r#"meta.created gt "2010-01-23T04:56:22Z""#, &u));
    assert!(eval(r#"meta.created sw "2010-01""#, &u));
    let mut odd = babs();
    odd["meta"]["created"] = json!("not a date");
    assert!(
        eval(r#"meta.created gt "2000-01-01T00:00:00Z""#, &odd),
        "unparseable values fall back to string order"
    );
}

#[test]
fn numbers_compare_numerically() {
    let mut core = crate::scim::schema::user_schema();
    core.attributes
        .push(Attribute::new("age", AttrType::Integer));
    core.attributes
        .push(Attribute::new("score", AttrType::Decimal));
    let schema = ResourceSchema {
        resource_type: "User".into(),
        core: Arc::new(core),
        extensions: Vec::<Extension>::new(),
    };
    let r = json!({"age": 42, "score": 2.5});
    let t = |input: &str| {
        let f = parse(input).expect("parse");
        check(&f, &schema).expect("check");
        matches(&f, &r, &schema)
    };
    assert!(t("age eq 42"));
    assert!(t("age eq 42.0"));
    assert!(t("age gt 41.5"));
    assert!(t("age lt 1e2"));
    assert!(!t("age gt 42"));
    assert!(t("score ge 2.5"));
    assert!(t("score gt 2"));
    assert!(t("score lt 3"));
    assert!(t("age ne 43"));
    let e = check(&parse("age sw 4").expect("parse"), &schema).expect_err("co on integer");
    assert!(e.detail.contains("compares strings"), "{}", e.detail);
}

#[test]
fn extension_attributes_live_under_their_urn() {
    let u = babs_enterprise();
    assert!(eval(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#,
        &u
    ));
    assert!(eval(
        r#"URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:department co "tour""#,
        &u
    ));
    assert!(eval(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915-6090-4610-87a4-5a46bd3d4428""#,
        &u
    ));
    assert!(eval(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq "26118915-6090-4610-87a4-5a46bd3d4428""#,
        &u
    ));
    assert!(
        eval(r#"costCenter eq "4130""#, &u),
        "unqualified extension names resolve when unambiguous"
    );
    assert!(!eval(r#"costCenter eq "4130""#, &babs()));
    // keys in the resource are matched case-insensitively
    let mut lower = u.clone();
    let ext = lower
        .as_object_mut()
        .and_then(|o| o.remove(EXTENSION_URN))
        .expect("extension");
    lower["urn:ietf:params:scim:schemas:extension:enterprise:2.0:user"] =
        json!({"EMPLOYEENUMBER": ext["employeeNumber"]});
    let user_name = lower
        .as_object_mut()
        .and_then(|o| o.remove("userName"))
        .expect("userName");
    lower["USERNAME"] = user_name;
    assert!(eval(
        r#"employeeNumber eq "701984" and userName sw "bjensen""#,
        &lower
    ));
}

#[test]
fn evaluation_never_panics_on_odd_json() {
    let schema = user_schema();
    let filters = [
        "emails[type eq \"work\"].value eq \"x\"",
        "emails.value co \"x\"",
        "name.givenName pr",
        "meta.created gt \"2011-05-13T04:42:34Z\"",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq \"x\"",
        "userName eq \"x\" or not (active eq true)",
        "schemas[value eq \"x\"]",
    ];
    let odd = [
        json!(null),
        json!([]),
        json!("string"),
        json!({"emails": "not-an-array", "name": [1, 2], "meta": 3, "userName": {"x": 1}}),
        json!({"emails": [null, 1, [], {"type": 5, "value": [1, "x", null]}], EXTENSION_URN: "nope"}),
        json!({"schemas": "x", "active": "true", EXTENSION_URN: {"manager": ["x"]}}),
    ];
    for f in filters {
        let f = parse(f).expect("parse");
        check(&f, &schema).expect("check");
        for r in &odd {
            let _ = matches(&f, r, &schema);
        }
    }
    // unchecked filters on unknown attributes simply do not match
    let unknown = parse("nope eq \"x\"").expect("parse");
    assert!(!matches(&unknown, &babs(), &schema));
    assert!(matches(
        &parse("not (nope eq \"x\")").expect("parse"),
        &babs(),
        &schema
    ));
}

#[test]
fn same_shape_ignores_positions_only() {
    let a = parse("a pr and b eq 1").expect("a");
    let b = parse("  a  pr  and  b  eq  1").expect("b");
    assert!(same_shape(&a, &b));
    assert_ne!(a, b, "positions differ");
    assert_eq!(a.without_positions(), b.without_positions());
    assert!(!same_shape(&a, &parse("a pr and b eq 2").expect("c")));
    assert!(!same_shape(&a, &parse("a pr or b eq 1").expect("d")));
    assert!(
        !same_shape(&a, &parse("A pr and b eq 1").expect("e")),
        "spelling is kept"
    );
}

#[test]
fn attribute_named_like_a_keyword_still_parses() {
    assert_eq!(parsed("not pr"), pr("not"));
    assert_eq!(parsed("and eq \"x\""), cmp("and", Eq, s("x")));
    assert_eq!(parsed("or pr or not pr"), or(pr("or"), pr("not")));
}

#[test]
fn compare_op_keywords_round_trip() {
    for op in CompareOp::ALL {
        assert_eq!(CompareOp::parse(op.as_str()), Some(op));
        assert_eq!(CompareOp::parse(&op.as_str().to_uppercase()), Some(op));
    }
    assert_eq!(CompareOp::parse("pr"), None);
    assert!(Ew.is_substring() && !Ew.is_ordering() && Le.is_ordering());
}

#[test]
fn map_compares_reaches_every_comparison_and_says_where_it_sits() {
    let f = parse(
        "userName eq \"a\" and emails[type eq \"work\" or not (primary eq \"x\")].value eq \"b\" and title pr",
    )
    .expect("parses");
    let mut seen = Vec::new();
    let out = f.clone().map_compares(&mut |site, op, value| {
        let at = match site {
            Site::Resource(p) => format!("{p}"),
            Site::Element { parent, path } => format!("{parent}[{path}]"),
            Site::Then { parent, sub } => format!("{parent}[].{sub}"),
        };
        seen.push(format!("{at} {op} {value}"));
        match value {
            Literal::String(s) => Literal::String(s.to_uppercase()),
            other => other,
        }
    });
    assert_eq!(
        seen,
        [
            "userName eq \"a\"",
            "emails[type] eq \"work\"",
            "emails[primary] eq \"x\"",
            "emails[].value eq \"b\"",
        ]
    );
    assert_eq!(
        out.to_string(),
        "userName eq \"A\" and emails[type eq \"WORK\" or not (primary eq \"X\")].value eq \"B\" and title pr"
    );
    assert_eq!(
        f.clone().map_compares(&mut |_, _, value| value),
        f,
        "with values kept, positions and shape are kept too"
    );
    assert_ne!(f.without_positions(), f, "the input has positions to keep");
}
