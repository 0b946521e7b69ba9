# JupyterHub for tests/gallery/run.sh (sourced, not run): install it from PyPI into a venv, start
# the hub on 127.0.0.1 with tests/gallery/apps/jupyterhub_config.py (no proxy, no login, the
# sidecar's service and a checking admin service), and check that its API answers. Sets APP_URL
# (the hub's address, put in place of APP_CONFIG_URL, the one the gallery config names),
# APP_PLATFORM_BASE (the sidecar's platform_base_url), exports what story.py reads (and
# JUPYTERHUB_SCIM_TOKEN, which the mapping names), and adds to APP_PIDS.

JH_VERSION="${JH_VERSION:-6.1.1}"
JH_VENV="$ROOT/target/gallery/jupyterhub/venv"

app_install() {
  if [ ! -x "$JH_VENV/bin/jupyterhub" ] || [ "$("$JH_VENV/bin/jupyterhub" --version)" != "$JH_VERSION" ]; then
    python3 -m venv "$JH_VENV"
    timeout 600 "$JH_VENV/bin/pip" install -q --disable-pip-version-check "jupyterhub==$JH_VERSION"
  fi
}

app_start() {
  JH_PORT="$(free_port)"
  JH_URL="http://127.0.0.1:$JH_PORT"
  JH_WORK="$WORK/jupyterhub"
  mkdir -p "$JH_WORK"
  JUPYTERHUB_SCIM_TOKEN="$(openssl rand -hex 32)"
  JH_ADMIN_TOKEN="$(openssl rand -hex 32)"
  export JH_PORT JH_WORK JUPYTERHUB_SCIM_TOKEN JH_ADMIN_TOKEN
  # The config reads the two service tokens from the environment.
  (cd "$JH_WORK" && exec "$JH_VENV/bin/jupyterhub" -f "$ROOT/tests/gallery/apps/jupyterhub_config.py" > "$WORK/jupyterhub.log" 2>&1) &
  APP_PIDS+=($!)
  wait_for "JupyterHub" 60 "$JH_URL/hub/api" || { tail -40 "$WORK/jupyterhub.log" >&2; return 1; }
}

app_configure() {
  # Everything is declared in jupyterhub_config.py (services and roles cannot be created through
  # the API); check through the API that the sidecar's token has the scopes it needs.
  local scopes
  scopes="$(curl -sf --max-time 10 -H "Authorization: Bearer $JUPYTERHUB_SCIM_TOKEN" "$JH_URL/hub/api/user")"
  echo "$scopes" | python3 -c '
import json, sys
have = set(json.load(sys.stdin)["scopes"])
need = {"admin:users", "admin:groups"}
assert need <= have, f"the scim-sidecar service lacks {need - have}"
print("the scim-sidecar service has", " ".join(sorted(need)))'
  APP_URL="$JH_URL"
  APP_PLATFORM_BASE="$JH_URL/hub/api"
  APP_CONFIG_URL="http://127.0.0.1:8081"   # the address the gallery config names
  export JH_URL
}
