{{/*
Stand-in helpers. The names and the text they produce match the official chart 33.2.1
(traefik/templates/_helpers.tpl), for the values this project sets.
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

{{- define "traefik.image-name" -}}
{{- printf "%s/%s:%s" .Values.image.registry .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
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
Turns a nested map into command-line flags, one `- "--a.b.c=value"` line per leaf, keys in
sorted order and in the case they were written (Traefik reads flags case-insensitively).
Every leaf is written, as the official 33.2.1 chart does: false as "=false", null as "=" (so
`httpChallenge: null` does not remove the flag), lists joined with ",". Used for certificatesResolvers.
Call with (dict "path" "certificatesresolvers" "content" <map>).
*/}}
{{- define "traefik.flagLines" -}}
{{- $path := .path -}}
{{- range $key, $value := .content -}}
  {{- if kindIs "map" $value -}}
    {{- include "traefik.flagLines" (dict "path" (printf "%s.%s" $path $key) "content" $value) -}}
  {{- else -}}
    {{- printf "- %s\n" (printf "--%s.%s=%s" $path $key (join "," $value) | quote) -}}
  {{- end -}}
{{- end -}}
{{- end -}}
