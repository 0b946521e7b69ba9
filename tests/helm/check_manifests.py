#!/usr/bin/env python3
"""Renders the scim-sidecar chart (both modes, several value sets, and the worked sidecar example)
with `helm template`, parses the manifests and asserts what a platform team relies on: the
container's security context, probes on the admin port, mounts (whole directories, read-only),
args, the grace period derived from the drain settings, and that the sidecar.toml the chart
renders passes `scim-sidecar check` with the mapping beside it.

Usage: check_manifests.py HELM BIN   (run by tests/helm/run.sh)
"""
import os
import re
import subprocess
import sys
import tempfile
import tomllib

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CHART = os.path.join(ROOT, "helm", "scim-sidecar")
EXAMPLE = os.path.join(CHART, "examples", "app-with-sidecar")
VALUES = os.path.join(ROOT, "tests", "helm", "values")
MAPPING = os.path.join(ROOT, "config", "demo", "mapping.toml")
SECRETS = "/var/run/secrets/scim-sidecar"

HELM, BIN = sys.argv[1], sys.argv[2]
failures = []
checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)
        print(f"  FAIL {what}")


def render(chart, *args):
    out = subprocess.run(
        [HELM, "template", "rel", chart, *args], capture_output=True, text=True
    )
    return out


def docs(text):
    return [d for d in yaml.safe_load_all(text) if d]


def by_kind(manifests):
    kinds = {}
    for m in manifests:
        kinds.setdefault(m["kind"], []).append(m)
    return kinds


def sidecar_container(pod):
    found = [c for c in pod["containers"] if c["name"] == "scim-sidecar"]
    check(len(found) == 1, "exactly one scim-sidecar container in the pod")
    return found[0]


def check_pod(case, pod, values):
    """The container and volume contract, whichever chart rendered the pod."""
    c = sidecar_container(pod)
    tls = values.get("tls_mode", "secret")
    scim_port, admin_port = values.get("scim_port", 8443), values.get("admin_port", 9090)

    check(
        c["args"] == ["serve", "--config", "/etc/scim-sidecar/sidecar.toml"],
        f"{case}: args serve --config /etc/scim-sidecar/sidecar.toml (got {c['args']})",
    )
    sc = c["securityContext"]
    check(sc.get("runAsNonRoot") is True, f"{case}: runAsNonRoot")
    check(sc.get("readOnlyRootFilesystem") is True, f"{case}: readOnlyRootFilesystem")
    check(sc.get("allowPrivilegeEscalation") is False, f"{case}: no privilege escalation")
    check(sc.get("capabilities", {}).get("drop") == ["ALL"], f"{case}: capabilities drop ALL")
    check(sc.get("runAsUser", 0) != 0, f"{case}: a non-zero runAsUser")
    check(sc.get("privileged") in (None, False), f"{case}: not privileged")

    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    check(ports.get("scim") == scim_port, f"{case}: scim port {scim_port} (got {ports})")
    check(ports.get("scim-admin") == admin_port, f"{case}: admin port {admin_port} (got {ports})")
    for probe, path in (
        ("livenessProbe", "/livez"),
        ("readinessProbe", "/readyz"),
        ("startupProbe", "/livez"),
    ):
        get = c.get(probe, {}).get("httpGet", {})
        check(
            get.get("path") == path and get.get("port") == "scim-admin",
            f"{case}: {probe} GET {path} on the admin port (got {get})",
        )

    mounts = {m["name"]: m for m in c["volumeMounts"]}
    expected = {
        "scim-sidecar-config": "/etc/scim-sidecar",
        "scim-sidecar-tokens": f"{SECRETS}/tokens",
    }
    if tls != "none":
        expected["scim-sidecar-tls"] = f"{SECRETS}/tls"
    if values.get("oauth_secret"):
        expected["scim-sidecar-oauth"] = f"{SECRETS}/oauth"
    writable = {"scim-sidecar-shadow": "/var/lib/scim-sidecar/shadow"} if values.get("shadow") else {}
    check(
        set(mounts) == set(expected) | set(writable),
        f"{case}: mounts {sorted(set(expected) | set(writable))} (got {sorted(mounts)})",
    )
    for name, path in writable.items():
        m = mounts.get(name, {})
        check(m.get("mountPath") == path and not m.get("readOnly"),
              f"{case}: {name} mounted writable at {path}")
        check("emptyDir" in {v["name"]: v for v in pod["volumes"]}.get(name, {}),
              f"{case}: {name} is an emptyDir")
    for name, path in expected.items():
        m = mounts.get(name, {})
        check(m.get("mountPath") == path, f"{case}: {name} mounted at {path}")
        check(m.get("readOnly") is True, f"{case}: {name} read-only")
        # A subPath mount never sees Kubernetes' ..data swap: hot reload would silently stop.
        check("subPath" not in m, f"{case}: {name} is a whole-directory mount")

    volumes = {v["name"]: v for v in pod["volumes"]}
    check(
        volumes.get("scim-sidecar-config", {}).get("configMap", {}).get("name")
        == values["configmap"],
        f"{case}: config volume is ConfigMap {values['configmap']}",
    )
    check(
        volumes.get("scim-sidecar-tokens", {}).get("secret", {}).get("secretName")
        == values.get("tokens_secret", "scim-sidecar-tokens"),
        f"{case}: tokens volume is the tokens Secret",
    )
    if tls != "none":
        check(
            volumes.get("scim-sidecar-tls", {}).get("secret", {}).get("secretName")
            == values["tls_secret"],
            f"{case}: tls volume is Secret {values['tls_secret']}",
        )
    env = {e["name"]: e for e in c.get("env") or []}
    if "base_url" in values:
        check(
            env.get("SCIM_SIDECAR_SCIM__PLATFORM_BASE_URL", {}).get("value") == values["base_url"],
            f"{case}: platform base URL passed as SCIM_SIDECAR_SCIM__PLATFORM_BASE_URL",
        )
    grace = values.get("delay", 5) + values.get("drain", 30) + 5
    check(
        pod.get("terminationGracePeriodSeconds") == grace,
        f"{case}: terminationGracePeriodSeconds = delay + drain + 5 = {grace} "
        f"(got {pod.get('terminationGracePeriodSeconds')})",
    )
    return c


def check_config(case, configmap, container, values):
    """The rendered sidecar.toml is valid: `scim-sidecar check` on it, with the chart's paths
    pointed at a temporary directory holding a token and a certificate."""
    data = configmap["data"]
    toml = tomllib.loads(data["sidecar.toml"])
    check(toml["server"]["listen"].endswith(f":{values.get('scim_port', 8443)}"), f"{case}: server.listen port")
    check(toml["admin"]["listen"].endswith(f":{values.get('admin_port', 9090)}"), f"{case}: admin.listen port")
    check(toml["server"]["drain_timeout"] == f"{values.get('drain', 30)}s", f"{case}: drain_timeout")
    check(toml["server"]["shutdown_delay"] == f"{values.get('delay', 5)}s", f"{case}: shutdown_delay")
    check(toml["auth"]["tokens_dir"] == f"{SECRETS}/tokens", f"{case}: tokens_dir is the mounted Secret")
    check(toml["scim"]["mapping"] == "mapping.toml", f"{case}: mapping beside sidecar.toml")
    if values.get("tls_mode", "secret") == "none":
        check(toml["server"].get("plain_http") is True and "tls" not in toml, f"{case}: plain HTTP")
    else:
        check(toml["tls"]["cert_file"] == f"{SECRETS}/tls/tls.crt", f"{case}: cert from the tls mount")
        check(toml["tls"]["min_version"] == values.get("min_tls", "1.2"), f"{case}: TLS min version")

    with tempfile.TemporaryDirectory() as tmp:
        secrets = os.path.join(tmp, "secrets")
        os.makedirs(os.path.join(secrets, "tokens"))
        os.makedirs(os.path.join(secrets, "tls"))
        # What Kubernetes mounts: the files, plus the ..data symlink machinery (skipped).
        with open(os.path.join(secrets, "tokens", "entra"), "w") as f:
            f.write("0123456789abcdef" * 4)
        os.makedirs(os.path.join(secrets, "tokens", "..2026_11_29_00_00_00.000000001"))
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-days", "1", "-subj", "/CN=scim.test",
             "-keyout", os.path.join(secrets, "tls", "tls.key"),
             "-out", os.path.join(secrets, "tls", "tls.crt")],
            check=True, capture_output=True,
        )
        oauth = toml["auth"].get("oauth")
        if oauth:
            # The oauth Secret's files: the signing key, previous public keys, client secrets.
            os.makedirs(os.path.join(secrets, "oauth"))
            subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519",
                            "-out", oauth["signing_key_file"].replace(SECRETS, secrets)],
                           check=True, capture_output=True)
            for pub in oauth.get("verify_key_files", []):
                subprocess.run(["openssl", "pkey", "-in", oauth["signing_key_file"].replace(SECRETS, secrets),
                                "-pubout", "-out", pub.replace(SECRETS, secrets)],
                               check=True, capture_output=True)
            for client in oauth["clients"]:
                with open(client["secret_file"].replace(SECRETS, secrets), "w") as f:
                    f.write("fedcba9876543210" * 4)
        etc = os.path.join(tmp, "etc")
        os.makedirs(etc)
        with open(os.path.join(etc, "sidecar.toml"), "w") as f:
            f.write(data["sidecar.toml"].replace(SECRETS, secrets))
        with open(os.path.join(etc, "mapping.toml"), "w") as f:
            f.write(data["mapping.toml"])
        env = {k: v for k, v in os.environ.items() if not k.startswith("SCIM_SIDECAR")}
        env["DEMO_PLATFORM_API_KEY"] = "placeholder"
        for e in container.get("env") or []:
            if "value" in e:
                env[e["name"]] = e["value"]
        out = subprocess.run(
            [BIN, "check", "--config", os.path.join(etc, "sidecar.toml")],
            capture_output=True, text=True, env=env,
        )
        check(
            out.returncode == 0 and "configuration is valid" in out.stdout,
            f"{case}: scim-sidecar check accepts the rendered config "
            f"(exit {out.returncode}: {out.stderr.strip()[:400]})",
        )


def case(name, chart, value_files, expect_kinds, values, extra_args=()):
    print(f"case {name}")
    args = []
    for v in value_files:
        args += ["-f", os.path.join(VALUES, v)] if chart == CHART else ["-f", v]
    args += list(extra_args)
    out = render(chart, *args)
    check(out.returncode == 0, f"{name}: helm template succeeds ({out.stderr.strip()[:400]})")
    if out.returncode != 0:
        return None
    kinds = by_kind(docs(out.stdout))
    check(
        sorted(kinds) == sorted(expect_kinds),
        f"{name}: renders {sorted(expect_kinds)} (got {sorted(kinds)})",
    )
    return kinds


def deployment_pod(kinds):
    return kinds["Deployment"][0]["spec"]["template"]["spec"]


mapping = ["--set-file", f"config.mapping={MAPPING}"]

# 1. Standalone, defaults.
k = case("standalone", CHART, ["standalone.yaml"],
         ["ConfigMap", "Deployment", "Service", "PodDisruptionBudget"],
         {}, mapping)
if k:
    v = {"configmap": "rel-scim-sidecar-config", "tls_secret": "scim-sidecar-tls",
         "base_url": "http://legacy-app.default.svc:8080"}
    c = check_pod("standalone", deployment_pod(k), v)
    check_config("standalone", k["ConfigMap"][0], c, v)
    check("oauth" not in tomllib.loads(k["ConfigMap"][0]["data"]["sidecar.toml"])["auth"]
          and "scim-sidecar-oauth" not in {vol["name"] for vol in deployment_pod(k)["volumes"]},
          "standalone: no token endpoint and no oauth Secret unless oauth.existingSecret is set")
    dep = k["Deployment"][0]
    check(dep["spec"]["replicas"] == 2, "standalone: two replicas")
    check(dep["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0, "standalone: rolling update keeps capacity")
    check(deployment_pod(k)["automountServiceAccountToken"] is False, "standalone: no service account token")
    check(deployment_pod(k)["securityContext"]["runAsNonRoot"] is True, "standalone: pod runAsNonRoot")
    svc = k["Service"][0]["spec"]
    check({p["name"]: p["targetPort"] for p in svc["ports"]} == {"scim": "scim", "metrics": "scim-admin"},
          "standalone: Service ports scim and metrics")
    check(svc["selector"] == dep["spec"]["selector"]["matchLabels"], "standalone: Service selects the pods")
    check(k["PodDisruptionBudget"][0]["spec"]["selector"]["matchLabels"] == dep["spec"]["selector"]["matchLabels"],
          "standalone: PDB selects the pods")
    check(dep["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/example/scim-sidecar:0.1.0",
          "standalone: image defaults to the appVersion tag")

# 2. Standalone, everything on.
k = case("standalone-full", CHART, ["standalone-full.yaml"],
         ["ConfigMap", "Deployment", "Service", "PodDisruptionBudget", "Ingress",
          "Certificate", "ServiceMonitor"], {}, mapping)
if k:
    v = {"configmap": "scim-config", "tls_secret": "scim-tls", "tls_mode": "certManager",
         "tokens_secret": "entra-tokens", "oauth_secret": "entra-oauth", "scim_port": 9443, "admin_port": 9091,
         "delay": 10, "drain": 60, "min_tls": "1.3", "shadow": True,
         "base_url": "https://legacy-app.default.svc:8443/root"}
    c = check_pod("standalone-full", deployment_pod(k), v)
    check_config("standalone-full", k["ConfigMap"][0], c, v)
    check(c["image"].endswith("@sha256:" + "0" * 64), "standalone-full: image pinned by digest")
    env = {e["name"]: e for e in c["env"]}
    check(env["DEMO_PLATFORM_API_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "legacy-app-api", "key": "api-key"},
          "standalone-full: platform secret from a secretKeyRef, never inline")
    cert = k["Certificate"][0]["spec"]
    check(cert["secretName"] == "scim-tls" and cert["dnsNames"] == ["scim.default.svc", "scim.example.com"],
          "standalone-full: Certificate writes the Secret the pod mounts")
    ing = k["Ingress"][0]["spec"]
    path = ing["rules"][0]["http"]["paths"][0]
    check(path["path"] == "/scim/v2" and path["backend"]["service"]["name"] == "scim"
          and path["backend"]["service"]["port"]["name"] == "scim",
          "standalone-full: Ingress routes the SCIM base path to the Service")
    check(ing["tls"][0]["secretName"] == "scim-ingress-tls", "standalone-full: Ingress TLS")
    ann = k["Ingress"][0]["metadata"]["annotations"]
    check(ann.get("nginx.ingress.kubernetes.io/upstream-hash-by") == "$uri"
          and ann.get("nginx.ingress.kubernetes.io/backend-protocol") == "HTTPS",
          "standalone-full: Ingress routes each resource to one replica, and keeps its own annotations")
    sm = k["ServiceMonitor"][0]
    check(sm["spec"]["endpoints"][0] == {"port": "metrics", "path": "/metrics", "interval": "30s"},
          "standalone-full: ServiceMonitor scrapes /metrics")
    check(sm["metadata"]["labels"].get("release") == "prometheus", "standalone-full: ServiceMonitor labels")
    toml = tomllib.loads(k["ConfigMap"][0]["data"]["sidecar.toml"])
    check(toml["scim"]["profile"] == "okta" and toml["scim"]["unmapped_attributes"] == "reject",
          "standalone-full: profile and unmapped policy rendered")
    check(toml["audit"]["show_values"] == ["active", "displayName"], "standalone-full: audit policy rendered")
    check(toml["scim"].get("mode") == "shadow"
          and toml["scim"].get("shadow_record") == "/var/lib/scim-sidecar/shadow/record.jsonl",
          "standalone-full: shadow mode rendered, its record on the writable emptyDir")
    check(toml["server"]["public_url"] == "https://scim.example.com/scim/v2", "standalone-full: public_url")
    oauth = toml["auth"]["oauth"]
    check(oauth["signing_key_file"] == f"{SECRETS}/oauth/signing.pem"
          and oauth["verify_key_files"] == [f"{SECRETS}/oauth/previous.pub.pem"]
          and oauth["token_lifetime"] == "30m"
          and [c["secret_file"] for c in oauth["clients"]]
          == [f"{SECRETS}/oauth/entra-secret", f"{SECRETS}/oauth/entra-secret-next"],
          "standalone-full: [auth.oauth] rendered with files from the oauth Secret")
    pod = deployment_pod(k)
    mounts = {m["name"]: m for m in pod["containers"][0]["volumeMounts"]}
    vols = {vol["name"]: vol for vol in pod["volumes"]}
    check(mounts["scim-sidecar-oauth"]["mountPath"] == f"{SECRETS}/oauth"
          and "subPath" not in mounts["scim-sidecar-oauth"]
          and vols["scim-sidecar-oauth"]["secret"]["secretName"] == "entra-oauth",
          "standalone-full: the oauth Secret is mounted as a whole directory")
    check(deployment_pod(k)["containers"][0].get("resources", {}).get("limits", {}).get("memory") == "128Mi",
          "standalone-full: resources")
    check(k["Deployment"][0]["spec"]["template"]["metadata"]["annotations"] == {"example.com/team": "identity"},
          "standalone-full: pod annotations")

# 3. Standalone, plain HTTP, an existing ConfigMap (no mapping needed), no PDB.
k = case("standalone-plain", CHART, ["standalone-plain.yaml"], ["Deployment", "Service"], {})
if k:
    c = check_pod("standalone-plain", deployment_pod(k),
                  {"configmap": "my-scim-config", "tls_mode": "none"})
    check(not any(e["name"] == "SCIM_SIDECAR_SCIM__PLATFORM_BASE_URL" for e in c.get("env") or []),
          "standalone-plain: no base URL override when platform.baseUrl is empty")
    check(all("appProtocol" not in p for p in k["Service"][0]["spec"]["ports"]),
          "standalone-plain: no https appProtocol on a plain port")

# 4. The chart in sidecar mode renders only the ConfigMap.
k = case("sidecar", CHART, ["sidecar.yaml"], ["ConfigMap"], {}, mapping)

# 5. The worked example: an application chart adding the container with the named templates.
k = case("example app-with-sidecar", EXAMPLE, [], ["ConfigMap", "Deployment", "Service"], {},
         ["--set-file", f"scim-sidecar.config.mapping={MAPPING}"])
if k:
    pod = deployment_pod(k)
    names = [c["name"] for c in pod["containers"]]
    check(names == ["app", "scim-sidecar"], f"example: app and sidecar in one pod (got {names})")
    v = {"configmap": k["ConfigMap"][0]["metadata"]["name"], "tls_secret": "legacy-app-scim-tls",
         "tokens_secret": "legacy-app-scim-tokens", "base_url": "http://127.0.0.1:8080"}
    check(v["configmap"] == "rel-scim-sidecar-config", "example: the subchart's ConfigMap name")
    c = check_pod("example", pod, v)
    check_config("example", k["ConfigMap"][0], c, v)
    svc = {p["name"]: p["targetPort"] for p in k["Service"][0]["spec"]["ports"]}
    check(svc.get("scim") == "scim", "example: the app's Service exposes the sidecar's SCIM port")

# 6. Values that cannot work fail the render, naming the value.
for values_file, needle in (
    ("bad-tls-mode.yaml", "tls.mode"),
    ("bad-ports.yaml", "ports.admin"),
):
    print(f"case {values_file}")
    out = render(CHART, "-f", os.path.join(VALUES, values_file), *mapping)
    check(out.returncode != 0 and needle in out.stderr,
          f"{values_file}: render fails naming {needle} ({out.stderr.strip()[:200]})")
print("case missing mapping")
out = render(CHART, "-f", os.path.join(VALUES, "standalone.yaml"))
check(out.returncode != 0 and "config.mapping" in out.stderr,
      f"missing mapping: render fails naming config.mapping ({out.stderr.strip()[:200]})")

print(f"\nhelm manifests: {checks - len(failures)} of {checks} checks passed")
sys.exit(1 if failures else 0)
