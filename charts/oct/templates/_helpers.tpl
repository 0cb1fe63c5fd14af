{{/* Names are cut at 63 characters because Kubernetes names and label values stop there. */}}
{{- define "oct.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "oct.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "oct.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "oct.selectorLabels" -}}
app.kubernetes.io/name: {{ include "oct.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "oct.labels" -}}
helm.sh/chart: {{ include "oct.chart" . }}
{{ include "oct.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: oct
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Component names: usage (include "oct.componentName" (list $ "hq")) */}}
{{- define "oct.componentName" -}}
{{- $root := index . 0 }}
{{- printf "%s-%s" (include "oct.fullname" $root) (index . 1) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* A turret's name as a DNS label: the config allows "_" and capitals, Kubernetes names do not. */}}
{{- define "oct.turretName" -}}
{{- $root := index . 0 }}
{{- $t := index . 1 }}
{{- $safe := $t.name | lower | replace "_" "-" | replace "." "-" }}
{{- printf "%s-turret-%s" (include "oct.fullname" $root) $safe | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The key a file gets in the files ConfigMap (keys allow only [-._a-zA-Z0-9]). */}}
{{- define "oct.fileKey" -}}
{{- regexReplaceAll "[^-._a-zA-Z0-9]" . "_" }}
{{- end }}

{{- define "oct.image" -}}
{{- $root := index . 0 }}
{{- $img := index . 1 }}
{{- $repo := $img.repository }}
{{- with $root.Values.image.registry }}{{ $repo = printf "%s/%s" (trimSuffix "/" .) $repo }}{{ end }}
{{- printf "%s:%s" $repo (include "oct.tag" (default $root.Chart.AppVersion $img.tag)) }}
{{- end }}

{{/* An image tag as text: users write `tag: 16`, which YAML makes a number (a float in values files). */}}
{{- define "oct.tag" -}}
{{- if and (kindIs "float64" .) (eq . (floor .)) }}{{ int64 . }}{{ else }}{{ . }}{{ end }}
{{- end }}

{{- define "oct.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "oct.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "oct.hqHost" -}}
{{- printf "%s.%s.svc" (include "oct.componentName" (list . "hq")) .Release.Namespace }}
{{- end }}

{{/* The Secret and key that hold the database URL, whichever mode. */}}
{{- define "oct.databaseSecretName" -}}
{{- if eq .Values.database.mode "external" }}
{{- .Values.database.external.existingSecret }}
{{- else }}
{{- include "oct.componentName" (list . "db") }}
{{- end }}
{{- end }}

{{- define "oct.databaseSecretKey" -}}
{{- if eq .Values.database.mode "external" }}{{ .Values.database.external.key }}{{ else }}url{{ end }}
{{- end }}

{{/* The HQ's config.json: the project's config with the chart's ports and turrets. */}}
{{- define "oct.hqConfig" -}}
{{- $cfg := deepCopy (default dict .Values.config) }}
{{- $_ := set $cfg "publish_port" (int .Values.hq.ports.publish) }}
{{- $_ = set $cfg "rc_port" (int .Values.hq.ports.rc) }}
{{- $_ = set $cfg "http_port" (int .Values.hq.ports.http) }}
{{- /* The HQ binds every interface in its pod; turrets get the Service name instead. */}}
{{- $_ = set $cfg "hq_address" "0.0.0.0" }}
{{- $turrets := list }}
{{- range .Values.turrets }}
{{- $t := dict "name" .name "canons" (int .canons) "rampup" (default 0 .rampup) "script" (printf "/app/project/files/%s" .script) "extra_files" (default list .extraFiles) "replicas" (int (default 1 .replicas)) }}
{{- $turrets = append $turrets $t }}
{{- end }}
{{- $_ = set $cfg "turrets" $turrets }}
{{- if .Values.curve.enabled }}
{{- $_ = set $cfg "keys_dir" "/etc/oct-keys" }}
{{- $_ = unset $cfg "allow_plaintext" }}
{{- else }}
{{- $_ = unset $cfg "keys_dir" }}
{{- $_ = set $cfg "allow_plaintext" true }}
{{- end }}
{{- $db := deepCopy (default dict $cfg.results_database) }}
{{- $_ = unset $db "db_uri" }}
{{- $_ = set $cfg "results_database" $db }}
{{- toPrettyJson $cfg }}
{{- end }}

{{- define "oct.turretConfig" -}}
{{- $root := index . 0 }}
{{- $t := index . 1 }}
{{- $extra := deepCopy (default dict $root.Values.config.extra_turret_config) }}
{{- $cfg := merge (dict "name" $t.name "canons" (int $t.canons) "rampup" (default 0 $t.rampup) "script" (printf "/app/project/files/%s" $t.script) "hq_address" (include "oct.hqHost" $root) "hq_publisher" (int $root.Values.hq.ports.publish) "hq_rc" (int $root.Values.hq.ports.rc)) $extra }}
{{- if $root.Values.curve.enabled }}{{ $_ := set $cfg "keys_dir" "/etc/oct-keys" }}{{ end }}
{{- toPrettyJson $cfg }}
{{- end }}

{{/* Shared by every oct container: a writable /tmp on a read-only root (tsx caches compiled scripts there). */}}
{{- define "oct.tmpEnv" -}}
- name: HOME
  value: /tmp
- name: TMPDIR
  value: /tmp
{{- end }}

{{/* The Secret holding the CURVE keys: the user's, or the one the chart generates. */}}
{{- define "oct.keysSecretName" -}}
{{- default (include "oct.componentName" (list . "keys")) .Values.curve.existingSecret }}
{{- end }}

{{/* The keys volume of a pod: only the files its side needs (the HQ never gets turret.key, a turret never hq.key). */}}
{{- define "oct.keysVolume" -}}
{{- $root := index . 0 }}
- name: keys
  secret:
    secretName: {{ include "oct.keysSecretName" $root }}
    defaultMode: 0440
    items:
      {{- range $f := index . 1 }}
      - key: {{ $f }}
        path: {{ $f }}
      {{- end }}
{{- end }}
