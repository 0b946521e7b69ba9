//! Unit tests of the guesses on small hand-written documents: the paging schemes and field
//! shapes the vendored real documents do not show (Keycloak-like first/max, cursors, inverted
//! booleans, YAML Swagger), and the refusals.

use super::scaffold;

/// A Swagger 2.0 document in YAML, Keycloak's shape: `/admin/realms/{realm}/users`, first/max,
/// a bare array, `enabled`, `firstName`/`lastName`.
const KEYCLOAK_LIKE: &str = r##"
swagger: "2.0"
info: { title: Realm admin, version: "1" }
basePath: /
paths:
  /admin/realms/{realm}/users:
    get:
      parameters:
        - { name: realm, in: path, required: true, type: string }
        - { name: first, in: query, type: integer }
        - { name: max, in: query, type: integer }
        - { name: username, in: query, type: string }
      responses:
        "200": { description: ok, schema: { type: array, items: { $ref: "#/definitions/User" } } }
    post:
      parameters:
        - { name: realm, in: path, required: true, type: string }
        - { name: body, in: body, schema: { $ref: "#/definitions/User" } }
      responses: { "201": { description: created } }
  /admin/realms/{realm}/users/{user-id}:
    get:
      parameters:
        - { name: realm, in: path, required: true, type: string }
        - { name: user-id, in: path, required: true, type: string }
      responses: { "200": { description: ok, schema: { $ref: "#/definitions/User" } } }
    put:
      responses: { "204": { description: done } }
    delete:
      responses: { "204": { description: done } }
definitions:
  User:
    type: object
    required: [username, credentials]
    properties:
      id: { type: string }
      username: { type: string }
      email: { type: string }
      firstName: { type: string }
      lastName: { type: string }
      enabled: { type: boolean }
      credentials: { type: array, items: { type: object } }
"##;

#[test]
fn keycloak_like_yaml_gets_offset_paging_and_its_fields() {
    let out = scaffold(KEYCLOAK_LIKE, "kc.yaml").unwrap();
    let t = &out.toml;
    assert!(
        t.contains("[users.list]\npath = \"/admin/realms/CHANGE_ME_realm/users\"\nitems = \"$\"\n"),
        "{t}"
    );
    assert!(
        t.contains("paging = \"offset\"\noffset_param = \"first\"\nlimit_param = \"max\"\n"),
        "{t}"
    );
    assert!(
        t.contains("path = \"/admin/realms/CHANGE_ME_realm/users/{id}\""),
        "{t}"
    );
    assert!(t.contains("id = \"$.id\"\nid_type = \"string\""), "{t}");
    assert!(
        t.contains("scim = \"name.givenName\"\nfield = \"firstName\""),
        "{t}"
    );
    assert!(
        t.contains("scim = \"name.familyName\"\nfield = \"lastName\""),
        "{t}"
    );
    assert!(
        t.contains("scim = \"active\"\nfield = \"enabled\"\n\n"),
        "{t}"
    );
    assert!(
        t.contains("[[users.filters]]\nattribute = \"userName\"\nparam = \"username\""),
        "{t}"
    );
    assert!(t.contains("{realm} → CHANGE_ME_realm"), "{t}");
    assert!(!t.contains("[groups]\n"), "{t}");
    // A required field no attribute covers is named, not filled in.
    assert!(
        t.contains("# The create body also requires credentials"),
        "{t}"
    );
    assert!(
        t.contains("scim = \"userName\"\nfield = \"username\"\nrequired = true"),
        "{t}"
    );
    // No create response: nothing about it is made up.
    assert!(
        t.contains(
            "[users.create]\nmethod = \"POST\"\npath = \"/admin/realms/CHANGE_ME_realm/users\"\n\n"
        ),
        "{t}"
    );
}

/// OpenAPI 3 with a cursor, an inverted boolean and a status without known values.
const CURSOR: &str = r##"{
  "openapi": "3.1.0",
  "info": {"title": "Cursor app", "version": "2"},
  "servers": [{"url": "https://api.example.com/v2"}],
  "paths": {
    "/accounts": {
      "get": {
        "parameters": [
          {"name": "starting_after", "in": "query", "schema": {"type": "string"}},
          {"name": "limit", "in": "query", "schema": {"type": "integer"}}
        ],
        "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {
          "type": "object",
          "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Account"}},
            "next_cursor": {"type": "string"}
          }}}}}}
      }
    },
    "/accounts/{accountId}": {
      "get": {"responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Account"}}}}}},
      "patch": {"responses": {"200": {"description": "ok"}}}
    }
  },
  "components": {"schemas": {"Account": {"allOf": [
    {"type": "object", "properties": {"id": {"type": "integer"}, "login": {"type": "string"}}},
    {"type": "object", "properties": {"mail": {"type": "string"}, "suspended": {"type": "boolean"}}}
  ]}}}
}"##;

#[test]
fn cursor_paging_inverted_booleans_and_all_of_are_understood() {
    let out = scaffold(CURSOR, "c.json").unwrap();
    let t = &out.toml;
    assert!(
        t.contains("base_url = \"https://api.example.com/v2\""),
        "{t}"
    );
    assert!(t.contains("items = \"$.items\""), "{t}");
    assert!(t.contains("paging = \"cursor\"\ncursor_param = \"starting_after\"\nsize_param = \"limit\"\nnext = \"$.next_cursor\""), "{t}");
    assert!(t.contains("id = \"$.id\"\nid_type = \"integer\""), "{t}");
    assert!(t.contains("scim = \"userName\"\nfield = \"login\""), "{t}");
    assert!(t.contains("field = \"mail\""), "{t}");
    assert!(
        t.contains(
            "scim = \"active\"\nfield = \"suspended\"\nvalues = { true = false, false = true }"
        ),
        "{t}"
    );
    assert!(t.contains("# [users.create] left out"), "{t}");
}

#[test]
fn documents_without_collections_or_version_are_refused() {
    let err = scaffold("{\"info\": {}}", "x.json").unwrap_err();
    assert!(err.contains("neither an OpenAPI 3.x document"), "{err}");
    let err = scaffold("not: [valid", "x.yaml").unwrap_err();
    assert!(err.contains("not valid YAML"), "{err}");
    let err = scaffold(
        r#"{"openapi": "3.0.0", "info": {"title": "pets"}, "paths": {"/pets": {"get": {}}}}"#,
        "pets.json",
    )
    .unwrap_err();
    assert!(err.contains("no user or group collection"), "{err}");
}
