//! Unit tests of `operation.rs`: which filter errors are a typed unknown-attribute miss.

use super::*;
use crate::scim::schema::Registry;

fn parsed(text: &str) -> Result<Filter, FilterError> {
    let reg = Registry::standard();
    parse_filter(text, &reg.user, &FilterOptions::default())
}

#[test]
fn an_attribute_the_type_does_not_have_is_a_typed_miss() {
    for text in [
        "members pr",
        "displayName eq \"a\" and members.value eq \"1\"",
        "not (members pr)",
        "userName eq \"a\" or members[value eq \"1\"]",
    ] {
        assert!(
            matches!(parsed(text), Err(FilterError::UnknownAttribute(_))),
            "{text}"
        );
    }
}

#[test]
fn other_filter_errors_are_not_a_miss() {
    for text in [
        // syntax
        "userName eq",
        // an ordering comparison on a boolean
        "active gt true",
        // a sub-attribute the attribute does not have
        "name.nope eq \"x\"",
        // the first error, left to right, decides: here a type error before the unknown name
        "active gt true and members pr",
    ] {
        assert!(
            matches!(parsed(text), Err(FilterError::Invalid(_))),
            "{text}"
        );
    }
    assert!(parsed("userName eq \"a\" and active eq true").is_ok());
}
