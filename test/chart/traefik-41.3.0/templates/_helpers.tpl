{{/*
Stand-in helpers. The names and the text they produce match the official chart 41.3.0
(traefik/templates/_helpers.tpl) for the values this project sets; see test/chart/README.md.
*/}}

{{- define "traefik.name" -}}
{{- .Values.nameOverride | default .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* "<chart>-<version>", the helm.sh/chart label. */}}
{{- define "traefik.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release name alone when it already contains the chart name, else "<release>-<name>". */}}
{{- define "traefik.fullname" -}}
{{- $name := .Values.nameOverride | default .Chart.Name -}}
{{- $full := .Values.fullnameOverride -}}
{{- if not $full -}}
  {{- $full = ternary .Release.Name (printf "%s-%s" .Release.Name $name) (contains $name .Release.Name) -}}
{{- end -}}
{{- $full | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "traefik.namespace" -}}
{{- .Values.namespaceOverride | default .Release.Namespace | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* app.kubernetes.io/instance is "<release>-<namespace>" unless instanceLabelOverride is set. */}}
{{- define "traefik.instance-name" -}}
{{- .Values.instanceLabelOverride | default (printf "%s-%s" .Release.Name (include "traefik.namespace" .)) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "traefik.labelselector" -}}
app.kubernetes.io/name: {{ include "traefik.name" . }}
app.kubernetes.io/instance: {{ include "traefik.instance-name" . }}
{{- end -}}

{{- define "traefik.labels" -}}
{{ include "traefik.labelselector" . }}
helm.sh/chart: {{ include "traefik.chart" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "traefik.serviceAccountName" -}}
{{- .Values.serviceAccount.name | default (include "traefik.fullname" .) -}}
{{- end -}}

{{- define "traefik.clusterRoleName" -}}
{{- printf "%s-%s" (include "traefik.fullname" .) (include "traefik.namespace" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Image: <registry>/<repository>:<tag>, or @<digest>. The official chart's defaults without Traefik
Hub: docker.io, traefik, the appVersion.
*/}}
{{- define "traefik.image-name" -}}
{{- $registry := .Values.image.registry | default "docker.io" -}}
{{- $repository := .Values.image.repository | default "traefik" -}}
{{- if .Values.image.digest -}}
{{- printf "%s/%s@%s" $registry $repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s/%s:%s" $registry $repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{/*
The Traefik version the options are checked against: versionOverride, else the image tag (without
a digest or a "latest-"/"experimental-" prefix), else the appVersion.
*/}}
{{- define "traefik.proxyVersion" -}}
{{- $version := .Values.versionOverride | default (.Values.image.tag | default .Chart.AppVersion) -}}
{{- $version = (split "@" $version)._0 | replace "latest-" "" | replace "experimental-" "" -}}
{{- if not (regexMatch `^v?\d+(\.\d+)?(\.\d+)?(-.*)?` $version) -}}
  {{- fail (printf "ERROR: version %q is not supported" $version) -}}
{{- end -}}
{{- $version -}}
{{- end -}}

{{/* Kubernetes port names: lower case, at most 15 characters. */}}
{{- define "traefik.portname" -}}
{{- . | lower | trimPrefix "-" | trunc 15 | trimSuffix "-" -}}
{{- end -}}

{{- define "traefik.portreference" -}}
{{- if kindIs "string" . -}}{{ include "traefik.portname" . }}{{- else -}}{{ . }}{{- end -}}
{{- end -}}

{{- define "providers.kubernetesIngress.publishedServicePath" -}}
{{- .Values.providers.kubernetesIngress.publishedService.pathOverride | default (printf "%s/%s" (include "traefik.namespace" .) (include "traefik.fullname" .)) | trimSuffix "-" -}}
{{- end -}}

{{/*
Flags from a nested map, one "--<path>.<key>[.<sub>]=<value>" per line, keys sorted and in the
case written in the values (Traefik reads flags case-insensitively). As the official chart does:
booleans are written even when false, integers even when 0; lists are joined with ","; whole
floats (every number in a values file) without decimals; other empty values are left out.
Call with (dict "path" "certificatesresolvers" "content" <map>).
*/}}
{{- define "traefik.flagText" -}}
{{- $path := .path -}}
{{- range $key, $value := .content -}}
  {{- $flag := printf "%s.%s" $path $key -}}
  {{- if kindIs "map" $value -}}
    {{- include "traefik.flagText" (dict "path" $flag "content" $value) -}}
  {{- else if or (kindIs "bool" $value) (kindIs "int" $value) (kindIs "int64" $value) -}}
    {{- printf "--%s=%v\n" $flag $value -}}
  {{- else if empty $value -}}
  {{- else if kindIs "slice" $value -}}
    {{- printf "--%s=%s\n" $flag (join "," $value) -}}
  {{- else if kindIs "float64" $value -}}
    {{- printf "--%s=%.0f\n" $flag $value -}}
  {{- else -}}
    {{- printf "--%s=%v\n" $flag $value -}}
  {{- end -}}
{{- end -}}
{{- end -}}

{{/* The same flags as `- "<flag>"` list items, one per line (for an args list). */}}
{{- define "traefik.flagLines" -}}
{{- range splitList "\n" (include "traefik.flagText" .) -}}
{{- if . }}
- {{ . | quote }}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
GOMEMLIMIT from a memory limit (a Kubernetes quantity) and a fraction: "<n>MiB", rounded down.
Call with (dict "memory" "512Mi" "percentage" 0.9).
*/}}
{{- define "traefik.gomemlimit" -}}
{{- $quantity := toString .memory -}}
{{- $number := regexFind `^[0-9.]+` $quantity -}}
{{- $suffix := trimPrefix $number $quantity -}}
{{- $factors := dict "" 1.0 "m" 0.001 "k" 1e3 "M" 1e6 "G" 1e9 "T" 1e12 "P" 1e15 "E" 1e18 "Ki" 0x1p10 "Mi" 0x1p20 "Gi" 0x1p30 "Ti" 0x1p40 "Pi" 0x1p50 "Ei" 0x1p60 -}}
{{- if not (hasKey $factors $suffix) -}}
  {{- fail (printf "ERROR: resources.limits.memory %q is not a memory quantity" $quantity) -}}
{{- end -}}
{{- $bytes := mulf (float64 $number) (get $factors $suffix) .percentage -}}
{{- printf "%dMiB" (divf $bytes 0x1p20 | floor | int64) -}}
{{- end -}}

{{/*
Fails when an option is set (.when) that the Traefik version in use (.version) is older than
(.since, a semver constraint bound such as "v3.7.0-0"); .what names the option.
*/}}
{{- define "traefik.requires" -}}
{{- if and .when (semverCompare (printf "<%s" .since) .version) -}}
  {{- fail (printf "ERROR: %s is only available for traefik >= %s." .what (trimSuffix "-0" .since)) -}}
{{- end -}}
{{- end -}}
