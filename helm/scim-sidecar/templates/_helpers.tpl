{{/*
scim-sidecar chart helpers. The named templates scim-sidecar.container, scim-sidecar.volumes and
scim-sidecar.terminationGracePeriodSeconds are the public interface of sidecar mode: an
application chart includes them in its own pod spec. Each takes a dict:
  ctx     the including chart's root context ($)
  values  this chart's values as the including chart sees them, e.g. (index .Values "scim-sidecar")
*/}}

{{/* The name of every object: values.fullnameOverride, else "<release>-scim-sidecar". */}}
{{- define "scim-sidecar.fullname" -}}
{{- $v := .values -}}
{{- if $v.fullnameOverride -}}
{{- $v.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains "scim-sidecar" .ctx.Release.Name -}}
{{- .ctx.Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-scim-sidecar" .ctx.Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "scim-sidecar.selectorLabels" -}}
app.kubernetes.io/name: scim-sidecar
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- end -}}

{{- define "scim-sidecar.labels" -}}
{{ include "scim-sidecar.selectorLabels" . }}
app.kubernetes.io/version: {{ .values.image.tag | default "0.1.0" | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: scim-sidecar
{{- end -}}

{{- define "scim-sidecar.image" -}}
{{- $i := .values.image -}}
{{- if $i.digest -}}
{{- printf "%s@%s" $i.repository $i.digest -}}
{{- else -}}
{{- printf "%s:%s" $i.repository ($i.tag | default "0.1.0") -}}
{{- end -}}
{{- end -}}

{{- define "scim-sidecar.configMapName" -}}
{{- .values.config.existingConfigMap | default (printf "%s-config" (include "scim-sidecar.fullname" .)) -}}
{{- end -}}

{{- define "scim-sidecar.tlsSecretName" -}}
{{- if eq .values.tls.mode "certManager" -}}
{{- .values.tls.secretName | default (printf "%s-tls" (include "scim-sidecar.fullname" .)) -}}
{{- else -}}
{{- required "tls.secretName is required when tls.mode is secret" .values.tls.secretName -}}
{{- end -}}
{{- end -}}

{{/* Checks the values once, failing the render with the value's name. */}}
{{- define "scim-sidecar.validate" -}}
{{- $v := .values -}}
{{- if not (has $v.mode (list "standalone" "sidecar")) -}}
{{- fail (printf "mode: %q is not one of standalone, sidecar" $v.mode) -}}
{{- end -}}
{{- if not (has $v.tls.mode (list "secret" "certManager" "none")) -}}
{{- fail (printf "tls.mode: %q is not one of secret, certManager, none" $v.tls.mode) -}}
{{- end -}}
{{- if not (has $v.scim.profile (list "entra" "okta" "strict")) -}}
{{- fail (printf "scim.profile: %q is not one of entra, okta, strict" $v.scim.profile) -}}
{{- end -}}
{{- if and (not $v.config.existingConfigMap) (not $v.config.mapping) -}}
{{- fail "config.mapping: the mapping of your platform's REST API is required (or set config.existingConfigMap)" -}}
{{- end -}}
{{- if not $v.tokens.existingSecret -}}
{{- fail "tokens.existingSecret: the Secret holding the bearer tokens is required" -}}
{{- end -}}
{{- if and $v.oauth.existingSecret (not $v.oauth.clients) -}}
{{- fail "oauth.clients: at least one client is required when oauth.existingSecret is set" -}}
{{- end -}}
{{- if eq (int $v.ports.scim) (int $v.ports.admin) -}}
{{- fail (printf "ports.admin: %v is the same as ports.scim" $v.ports.admin) -}}
{{- end -}}
{{- end -}}

{{/* The pod's grace period: shutdown delay + drain timeout + 5 s for the process to exit. */}}
{{- define "scim-sidecar.terminationGracePeriodSeconds" -}}
{{- add (int .values.shutdownDelaySeconds) (int .values.drainTimeoutSeconds) 5 -}}
{{- end -}}

{{/* sidecar.toml rendered from the values. */}}
{{- define "scim-sidecar.sidecarToml" -}}
{{- $v := .values -}}
# Rendered by the scim-sidecar helm chart; config/sidecar.toml in the repository documents each key.
[server]
listen = "0.0.0.0:{{ $v.ports.scim }}"
plain_http = {{ eq $v.tls.mode "none" }}
{{- with $v.scim.publicUrl }}
public_url = {{ . | quote }}
{{- end }}
drain_timeout = "{{ $v.drainTimeoutSeconds }}s"
shutdown_delay = "{{ $v.shutdownDelaySeconds }}s"
{{- if ne $v.tls.mode "none" }}

[tls]
cert_file = "/var/run/secrets/scim-sidecar/tls/tls.crt"
key_file = "/var/run/secrets/scim-sidecar/tls/tls.key"
min_version = {{ $v.tls.minVersion | quote }}
{{- end }}

[admin]
listen = "0.0.0.0:{{ $v.ports.admin }}"

[auth]
tokens_dir = "/var/run/secrets/scim-sidecar/tokens"
{{- if $v.oauth.existingSecret }}

[auth.oauth]
token_lifetime = {{ $v.oauth.tokenLifetime | quote }}
signing_key_file = "/var/run/secrets/scim-sidecar/oauth/{{ $v.oauth.signingKey }}"
verify_key_files = [{{ range $i, $k := $v.oauth.verifyKeys }}{{ if $i }}, {{ end }}"/var/run/secrets/scim-sidecar/oauth/{{ $k }}"{{ end }}]
{{- range $v.oauth.clients }}

[[auth.oauth.clients]]
id = {{ .id | quote }}
secret_file = "/var/run/secrets/scim-sidecar/oauth/{{ .secretKey }}"
{{- end }}
{{- end }}

[scim]
base_path = {{ $v.scim.basePath | quote }}
mapping = "mapping.toml"
profile = {{ $v.scim.profile | quote }}
max_page_size = {{ int $v.scim.maxPageSize }}
{{- with $v.scim.unmappedAttributes }}
unmapped_attributes = {{ . | quote }}
{{- end }}
{{- if $v.shadow.enabled }}
mode = "shadow"
shadow_record = "/var/lib/scim-sidecar/shadow/record.jsonl"
{{- end }}

[log]
format = {{ $v.logFormat | quote }}
level = {{ $v.logLevel | quote }}

[audit]
enabled = true
show_values = [{{ range $i, $a := $v.audit.showValues }}{{ if $i }}, {{ end }}{{ $a | quote }}{{ end }}]
{{- end -}}

{{/* The container, for a pod's containers list. */}}
{{- define "scim-sidecar.container" -}}
{{- include "scim-sidecar.validate" . -}}
{{- $v := .values -}}
- name: scim-sidecar
  image: {{ include "scim-sidecar.image" . }}
  imagePullPolicy: {{ $v.image.pullPolicy }}
  args: ["serve", "--config", "/etc/scim-sidecar/sidecar.toml"]
  ports:
    - name: scim
      containerPort: {{ $v.ports.scim }}
      protocol: TCP
    - name: scim-admin
      containerPort: {{ $v.ports.admin }}
      protocol: TCP
  env:
    {{- with $v.platform.baseUrl }}
    - name: SCIM_SIDECAR_SCIM__PLATFORM_BASE_URL
      value: {{ . | quote }}
    {{- end }}
    {{- range $v.platform.secretEnv }}
    - name: {{ .name }}
      valueFrom:
        secretKeyRef:
          name: {{ .secretName }}
          key: {{ .key }}
    {{- end }}
  livenessProbe:
    httpGet:
      path: /livez
      port: scim-admin
    periodSeconds: {{ $v.probes.liveness.periodSeconds }}
    failureThreshold: {{ $v.probes.liveness.failureThreshold }}
  readinessProbe:
    httpGet:
      path: /readyz
      port: scim-admin
    periodSeconds: {{ $v.probes.readiness.periodSeconds }}
    failureThreshold: {{ $v.probes.readiness.failureThreshold }}
  startupProbe:
    httpGet:
      path: /livez
      port: scim-admin
    periodSeconds: 1
    failureThreshold: 30
  resources:
    {{- toYaml $v.resources | nindent 4 }}
  securityContext:
    {{- toYaml $v.securityContext | nindent 4 }}
  volumeMounts:
    - name: scim-sidecar-config
      mountPath: /etc/scim-sidecar
      readOnly: true
    - name: scim-sidecar-tokens
      mountPath: /var/run/secrets/scim-sidecar/tokens
      readOnly: true
    {{- if $v.oauth.existingSecret }}
    - name: scim-sidecar-oauth
      mountPath: /var/run/secrets/scim-sidecar/oauth
      readOnly: true
    {{- end }}
    {{- if ne $v.tls.mode "none" }}
    - name: scim-sidecar-tls
      mountPath: /var/run/secrets/scim-sidecar/tls
      readOnly: true
    {{- end }}
    {{- if $v.shadow.enabled }}
    - name: scim-sidecar-shadow
      mountPath: /var/lib/scim-sidecar/shadow
    {{- end }}
{{- end -}}

{{/* The container's volumes, for a pod's volumes list. Whole-directory mounts, never subPath:
Kubernetes updates a mounted ConfigMap or Secret by swapping the ..data symlink, which the
sidecar watches; a subPath mount would never change. */}}
{{- define "scim-sidecar.volumes" -}}
{{- $v := .values -}}
- name: scim-sidecar-config
  configMap:
    name: {{ include "scim-sidecar.configMapName" . }}
- name: scim-sidecar-tokens
  secret:
    secretName: {{ $v.tokens.existingSecret }}
{{- if $v.oauth.existingSecret }}
- name: scim-sidecar-oauth
  secret:
    secretName: {{ $v.oauth.existingSecret }}
{{- end }}
{{- if ne $v.tls.mode "none" }}
- name: scim-sidecar-tls
  secret:
    secretName: {{ include "scim-sidecar.tlsSecretName" . }}
{{- end }}
{{- if $v.shadow.enabled }}
- name: scim-sidecar-shadow
  emptyDir:
    sizeLimit: {{ $v.shadow.sizeLimit }}
{{- end }}
{{- end -}}
