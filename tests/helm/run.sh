#!/usr/bin/env bash
# Lints and renders the helm chart in both modes with several value sets, then asserts the
# rendered manifests (tests/helm/check_manifests.py). Installs helm with `go install` when it is
# not on PATH. Exits non-zero on any failure.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
HELM_VERSION=v3.22.0
VENV="${HELM_TEST_VENV:-$ROOT/target/helm-test-venv}"
BIN="${SCIM_SIDECAR_BIN:-$ROOT/target/debug/scim-sidecar}"
CHART=helm/scim-sidecar
EXAMPLE=$CHART/examples/app-with-sidecar
MAPPING=config/demo/mapping.toml

if command -v helm >/dev/null 2>&1; then
  HELM="$(command -v helm)"
else
  GOBIN_DIR="$(go env GOPATH)/bin"
  if [ ! -x "$GOBIN_DIR/helm" ]; then
    echo "installing helm $HELM_VERSION with go install"
    go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  fi
  HELM="$GOBIN_DIR/helm"
fi
"$HELM" version --short

[ -x "$BIN" ] || cargo build --locked
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check -r tests/helm/requirements.txt

echo "--- helm lint"
for values in standalone standalone-full standalone-plain sidecar; do
  "$HELM" lint --strict "$CHART" -f "tests/helm/values/$values.yaml" --set-file "config.mapping=$MAPPING"
done
"$HELM" dependency build "$EXAMPLE" >/dev/null
"$HELM" lint --strict "$EXAMPLE" --set-file "scim-sidecar.config.mapping=$MAPPING"

echo "--- rendered manifests"
"$VENV/bin/python" tests/helm/check_manifests.py "$HELM" "$BIN"
