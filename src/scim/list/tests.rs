use super::*;
use crate::scim::error::ScimType;

#[test]
fn paging_defaults_and_clamps() {
    assert_eq!(
        parse_paging(None, None, 100).expect("none"),
        Paging::default()
    );
    /// (startIndex, count) query values → (start_index, count) with a maximum of 100.
    type Case<'a> = (Option<&'a str>, Option<&'a str>, usize, Option<usize>);
    let cases: &[Case<'_>] = &[
        (Some("1"), Some("10"), 1, Some(10)),
        (Some("0"), Some("0"), 1, Some(0)),
        (Some("-5"), Some("-3"), 1, Some(0)),
        (Some(" 7 "), Some("+20"), 7, Some(20)),
        (Some("3"), Some("5000"), 3, Some(100)),
        (
            Some("99999999999999999999999999999999999999999999"),
            Some("99999999999999999999999"),
            usize::MAX,
            Some(100),
        ),
        (
            Some("-99999999999999999999999999999999999999999999"),
            None,
            1,
            None,
        ),
    ];
    for (start, count, s, c) in cases {
        let p = parse_paging(*start, *count, 100)
            .unwrap_or_else(|e| panic!("{start:?} {count:?}: {e}"));
        assert_eq!((p.start_index, p.count), (*s, *c), "{start:?} {count:?}");
    }
}

#[test]
fn paging_rejects_non_integers() {
    for (start, count, name) in [
        (Some("1.5"), None, "startIndex"),
        (Some("one"), None, "startIndex"),
        (Some(""), None, "startIndex"),
        (None, Some("10abc"), "count"),
        (None, Some("-"), "count"),
        (None, Some("1e3"), "count"),
        (None, Some("٣"), "count"),
    ] {
        let e = parse_paging(start, count, 100).expect_err("invalid");
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        assert!(
            e.detail
                .starts_with(&format!("{name} must be an integer, found ")),
            "{}",
            e.detail
        );
    }
}

#[test]
fn paging_ranges_stay_in_bounds() {
    let p = |s: usize, c: Option<usize>| Paging {
        start_index: s,
        count: c,
    };
    assert_eq!(p(1, None).range(5), 0..5);
    assert_eq!(p(2, Some(2)).range(5), 1..3);
    assert_eq!(p(4, Some(10)).range(5), 3..5);
    assert_eq!(
        p(6, Some(10)).range(5),
        5..5,
        "startIndex beyond the total gives an empty page"
    );
    assert_eq!(p(1, Some(0)).range(5), 0..0, "count=0 returns no resources");
    assert_eq!(p(usize::MAX, Some(usize::MAX)).range(5), 5..5);
}

#[test]
fn list_response_has_integer_counts_and_always_resources() {
    let r = list_response(0, 1, vec![]);
    assert_eq!(
        r,
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
            "totalResults": 0,
            "startIndex": 1,
            "itemsPerPage": 0,
            "Resources": []
        })
    );
    let r = list_response(12, 11, vec![json!({"id": "a"}), json!({"id": "b"})]);
    assert_eq!(r["itemsPerPage"], 2);
    assert_eq!(r["totalResults"], 12);
    assert_eq!(r["startIndex"], 11);
    assert!(r["totalResults"].is_u64());
}

#[test]
fn search_request_follows_rfc7644_section_3_4_3() {
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "attributes": ["displayName", "userName"],
        "filter": "displayName sw \"smith\"",
        "startIndex": 1,
        "count": 10
    });
    let r = parse_search_request(&body).expect("RFC example");
    assert_eq!(r.filter.as_deref(), Some("displayName sw \"smith\""));
    assert_eq!(
        r.attributes,
        vec![AttrPath::new("displayName"), AttrPath::new("userName")]
    );
    assert_eq!((r.start_index, r.count), (Some(1), Some(10)));
    assert_eq!(
        r.paging(5),
        Paging {
            start_index: 1,
            count: Some(5)
        }
    );

    let r = parse_search_request(&json!({
        "SCHEMAS": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "excludedAttributes": ["emails"],
        "startIndex": -4,
        "count": -2,
        "sortBy": "name.familyName",
        "sortOrder": "DESCENDING",
        "filter": null
    }))
    .expect("lenient forms");
    assert_eq!(r.excluded_attributes, vec![AttrPath::new("emails")]);
    assert_eq!((r.start_index, r.count), (Some(1), Some(0)));
    assert_eq!(
        r.sort_by,
        Some(AttrPath::parse("name.familyName").expect("p"))
    );
    assert_eq!(r.sort_order, Some(SortOrder::Descending));
    assert_eq!(r.filter, None);
    let minimal = parse_search_request(&json!({"schemas": [SEARCH_REQUEST_URN]})).expect("minimal");
    assert_eq!(minimal, SearchRequest::default());
    assert_eq!(
        minimal.paging(50),
        Paging {
            start_index: 1,
            count: None
        }
    );
}

#[test]
fn search_request_errors() {
    let urn = json!([SEARCH_REQUEST_URN]);
    let cases: Vec<(Value, ScimType, &str)> = vec![
        (json!([]), ScimType::InvalidSyntax, "must be a JSON object"),
        (
            json!({}),
            ScimType::InvalidSyntax,
            "\"schemas\" must be an array containing",
        ),
        (
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]}),
            ScimType::InvalidSyntax,
            "found [\"urn:ietf:params:scim:api:messages:2.0:ListResponse\"]",
        ),
        (
            json!({"schemas": urn, "filtre": "x"}),
            ScimType::InvalidSyntax,
            "unknown member \"filtre\"",
        ),
        (
            json!({"schemas": urn, "filter": 1}),
            ScimType::InvalidSyntax,
            "\"filter\" must be a string",
        ),
        (
            json!({"schemas": urn, "attributes": "userName"}),
            ScimType::InvalidSyntax,
            "must be an array of attribute names",
        ),
        (
            json!({"schemas": urn, "attributes": [1]}),
            ScimType::InvalidSyntax,
            "must be an array of strings",
        ),
        (
            json!({"schemas": urn, "attributes": ["9x"]}),
            ScimType::InvalidValue,
            "\"attributes\": invalid attribute path at position 0",
        ),
        (
            json!({"schemas": urn, "attributes": ["a"], "excludedAttributes": ["b"]}),
            ScimType::InvalidSyntax,
            "mutually exclusive",
        ),
        (
            json!({"schemas": urn, "count": 1.5}),
            ScimType::InvalidValue,
            "\"count\" must be an integer, found 1.5",
        ),
        (
            json!({"schemas": urn, "count": "ten"}),
            ScimType::InvalidValue,
            "\"count\" must be a JSON integer",
        ),
        (
            json!({"schemas": urn, "startIndex": "2"}),
            ScimType::InvalidValue,
            "\"startIndex\" must be a JSON integer (RFC 7644 §3.4.3), found the string \"2\"",
        ),
        (
            json!({"schemas": urn, "startIndex": true}),
            ScimType::InvalidValue,
            "\"startIndex\" must be an integer, found a boolean",
        ),
        (
            json!({"schemas": urn, "sortOrder": "up"}),
            ScimType::InvalidValue,
            "\"sortOrder\" must be \"ascending\" or \"descending\"",
        ),
        (
            json!({"schemas": urn, "sortBy": "a..b"}),
            ScimType::InvalidValue,
            "\"sortBy\": invalid attribute path",
        ),
        (
            json!({"schemas": urn, "count": 1, "COUNT": 2}),
            ScimType::InvalidSyntax,
            "appears more than once",
        ),
    ];
    for (body, scim_type, fragment) in cases {
        let e = parse_search_request(&body).expect_err(&body.to_string());
        assert_eq!(e.scim_type, Some(scim_type), "{body}: {}", e.detail);
        assert!(e.detail.contains(fragment), "{body}: {}", e.detail);
    }
}
