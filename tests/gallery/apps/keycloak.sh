# Keycloak for tests/gallery/run.sh (sourced, not run): install, start, configure through its own
# admin API. Sets APP_URL (the app's address, put in place of APP_CONFIG_URL, the one the gallery
# config names), APP_PLATFORM_BASE (the sidecar's platform_base_url), exports what story.py
# reads (and KEYCLOAK_CLIENT_SECRET, which the mapping names), and adds to APP_PIDS.

KC_VERSION="${KC_VERSION:-26.4.7}"
KC_CACHE="$ROOT/target/gallery/keycloak"
KC_HOME="$KC_CACHE/keycloak-$KC_VERSION"
KC_REALM="acme"
# The access token lifespan of the realm, in seconds: short, so that the sidecar's tokens expire
# (and are refreshed) several times during the story.
KC_TOKEN_LIFESPAN="${KC_TOKEN_LIFESPAN:-15}"

app_install() {
  need java "Java 17 or later (Debian: openjdk-17-jre-headless)"
  if [ ! -x "$KC_HOME/bin/kc.sh" ]; then
    need mvn "Maven (Debian: maven), to fetch Keycloak from Maven Central"
    need unzip "unzip (Debian: unzip)"
    local zip="$KC_CACHE/keycloak-quarkus-dist-$KC_VERSION.zip"
    if [ ! -f "$zip" ]; then
      echo "fetching org.keycloak:keycloak-quarkus-dist:$KC_VERSION:zip from Maven Central"
      timeout 600 mvn -q -B dependency:copy \
        "-Dartifact=org.keycloak:keycloak-quarkus-dist:$KC_VERSION:zip" "-DoutputDirectory=$KC_CACHE"
    fi
    rm -rf "$KC_HOME"
    unzip -q "$zip" -d "$KC_CACHE"
  fi
}

app_start() {
  KC_PORT="$(free_port)"
  KC_URL="http://127.0.0.1:$KC_PORT"
  KC_ADMIN_PASSWORD="$(openssl rand -hex 16)"
  # A fresh dev-file (H2) database every run.
  rm -rf "$KC_HOME/data"
  KC_BOOTSTRAP_ADMIN_USERNAME=admin KC_BOOTSTRAP_ADMIN_PASSWORD="$KC_ADMIN_PASSWORD" \
    JAVA_OPTS_KC_HEAP="-Xms64m -Xmx512m" \
    "$KC_HOME/bin/kc.sh" start-dev --http-host=127.0.0.1 --http-port="$KC_PORT" \
    > "$WORK/keycloak.log" 2>&1 &
  APP_PIDS+=($!)
  wait_for "Keycloak" 180 "$KC_URL/realms/master" || { tail -40 "$WORK/keycloak.log" >&2; return 1; }
}

# The master realm's admin token (admin-cli, password grant), for configuring and for checking.
kc_admin_token() {
  curl -sf --max-time 10 --data-urlencode grant_type=password --data-urlencode client_id=admin-cli \
    --data-urlencode username=admin --data-urlencode "password=$KC_ADMIN_PASSWORD" \
    "$KC_URL/realms/master/protocol/openid-connect/token" | json_get access_token
}

# kc METHOD PATH [curl args...]: an admin API call under /admin/realms, failing on HTTP errors.
kc() {
  local method="$1" path="$2"
  shift 2
  curl -sf --max-time 10 -X "$method" -H "Authorization: Bearer $KC_TOKEN" \
    -H 'Content-Type: application/json' "$KC_URL/admin/realms$path" "$@"
}

app_configure() {
  KC_TOKEN="$(kc_admin_token)"
  # The realm: a short access token lifespan; usernames may be edited (Entra renames users).
  kc POST "" -d "{\"realm\":\"$KC_REALM\",\"enabled\":true,\"accessTokenLifespan\":$KC_TOKEN_LIFESPAN,\"editUsernameAllowed\":true}"
  # Custom attributes (display_login, externalId, department, and any an admin adds) need the
  # user profile's unmanaged attributes on.
  kc GET "/$KC_REALM/users/profile" \
    | python3 -c 'import json,sys; d=json.load(sys.stdin); d["unmanagedAttributePolicy"]="ENABLED"; print(json.dumps(d))' \
    | kc PUT "/$KC_REALM/users/profile" --data @- -o /dev/null
  # The sidecar's confidential client, with a service account and no browser flow.
  kc POST "/$KC_REALM/clients" -d '{"clientId":"scim-sidecar","enabled":true,"publicClient":false,"serviceAccountsEnabled":true,"standardFlowEnabled":false,"directAccessGrantsEnabled":false,"clientAuthenticatorType":"client-secret"}'
  local cid sa rm
  cid="$(kc GET "/$KC_REALM/clients?clientId=scim-sidecar" | json_get 0.id)"
  sa="$(kc GET "/$KC_REALM/clients/$cid/service-account-user" | json_get id)"
  rm="$(kc GET "/$KC_REALM/clients?clientId=realm-management" | json_get 0.id)"
  # realm-management's manage-users, view-users and query-groups, nothing else.
  kc GET "/$KC_REALM/clients/$rm/roles" \
    | python3 -c 'import json,sys; print(json.dumps([r for r in json.load(sys.stdin) if r["name"] in ("manage-users","view-users","query-groups")]))' \
    | kc POST "/$KC_REALM/users/$sa/role-mappings/clients/$rm" --data @-
  KEYCLOAK_CLIENT_SECRET="$(kc GET "/$KC_REALM/clients/$cid/client-secret" | json_get value)"
  export KEYCLOAK_CLIENT_SECRET

  APP_URL="$KC_URL"
  APP_PLATFORM_BASE="$KC_URL/admin/realms/$KC_REALM"
  APP_CONFIG_URL="http://127.0.0.1:8080"   # the address the gallery config names
  export KC_URL KC_REALM KC_ADMIN_PASSWORD KC_TOKEN_LIFESPAN
}
