use super::*;

#[test]
fn resolves_names_case_insensitively_to_canonical_definitions() {
    let reg = Registry::standard();
    let r = reg.user.resolve(None, "USERNAME").expect("userName");
    assert_eq!(r.attribute.name, "userName");
    assert_eq!(r.extension, None);
    assert_eq!(r.attribute.uniqueness, Uniqueness::Server);
    let id = reg.user.resolve(None, "Id").expect("id");
    assert_eq!(id.attribute.mutability, Mutability::ReadOnly);
    assert!(id.schema.is_none());
}

#[test]
fn resolves_urn_qualified_names() {
    let reg = Registry::standard();
    let core = reg.user.resolve(Some(USER_URN), "userName").expect("core");
    assert_eq!(core.attribute.name, "userName");
    let ext = reg
        .user
        .resolve(
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:user"),
            "EMPLOYEENUMBER",
        )
        .expect("enterprise");
    assert_eq!(ext.attribute.name, "employeeNumber");
    assert_eq!(ext.extension, Some(ENTERPRISE_USER_URN));
    assert!(reg.user.resolve(Some("urn:x:y"), "userName").is_none());
    assert!(
        reg.group
            .resolve(Some(ENTERPRISE_USER_URN), "manager")
            .is_none()
    );
}

#[test]
fn sub_attributes_resolve_case_insensitively() {
    let reg = Registry::standard();
    let emails = reg.user.resolve(None, "emails").expect("emails").attribute;
    assert!(emails.multi_valued);
    assert_eq!(emails.sub("VALUE").map(|a| a.name.as_str()), Some("value"));
    assert_eq!(
        emails.sub("type").map(|a| a.canonical_values.len()),
        Some(3)
    );
    assert!(emails.sub("nope").is_none());
}

#[test]
fn schema_json_follows_rfc7643_section7() {
    let s = group_schema().to_json("/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group");
    assert_eq!(s["id"], GROUP_URN);
    assert_eq!(s["attributes"][0]["name"], "displayName");
    assert_eq!(s["attributes"][0]["required"], true);
    assert_eq!(s["attributes"][1]["multiValued"], true);
    assert_eq!(
        s["attributes"][1]["subAttributes"][0]["mutability"],
        "immutable"
    );
    assert_eq!(s["meta"]["resourceType"], "Schema");
    // booleans carry no caseExact/uniqueness
    let u = user_schema().to_json("x");
    let active = u["attributes"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["name"] == "active"))
        .expect("active");
    assert!(active.get("caseExact").is_none());
    assert_eq!(active["type"], "boolean");
}

#[test]
fn narrowing_keeps_only_selected_attributes() {
    let s = user_schema().narrowed(&|attr, sub| match (attr, sub) {
        ("userName", None) | ("name", None) | ("active", None) => true,
        ("name", Some(s)) => s == "givenName",
        _ => false,
    });
    let names: Vec<&str> = s.attributes.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["userName", "name", "active"]);
    assert_eq!(s.attributes[1].sub_attributes.len(), 1);
}

#[test]
fn custom_attribute_definitions_compile_with_key_paths_in_errors() {
    let def: AttributeDef = toml_like(
        r#"{"name":"badge","type":"complex","sub_attributes":[{"name":"9bad"},{"name":"ok","type":"integer"}]}"#,
    );
    let errs = def.compile().expect_err("bad sub name");
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].0, "sub_attributes[0].name");

    let ok: AttributeDef = toml_like(r#"{"name":"badgeNumber","case_exact":true}"#);
    let a = ok.compile().expect("valid");
    assert_eq!(a.ty, AttrType::String);
    assert!(a.case_exact);
}

#[test]
fn attr_names_follow_the_rfc_grammar() {
    assert!(is_attr_name("userName"));
    assert!(is_attr_name("x509Certificates"));
    assert!(is_attr_name("$ref"));
    assert!(is_attr_name("a-b_c"));
    assert!(!is_attr_name("1abc"));
    assert!(!is_attr_name("a.b"));
    assert!(!is_attr_name(""));
}

fn toml_like(json: &str) -> AttributeDef {
    serde_json::from_str(json).expect("test definition parses")
}
