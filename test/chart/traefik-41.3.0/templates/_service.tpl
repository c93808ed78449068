{{/* Service helpers; the Services of the official traefik/templates/service.yaml (41.3.0). */}}

{{/*
"default" is the main Service: "<fullname>", or service.nameOverride. Any other key of
service.additionalServices gives "<fullname>-<key>".
*/}}
{{- define "traefik.service-name" -}}
{{- $name := printf "%s-%s" (include "traefik.fullname" .root) .name -}}
{{- if eq .name "default" -}}
  {{- $name = .root.Values.service.nameOverride | default (include "traefik.fullname" .root) -}}
{{- end -}}
{{- /* 60, not 63: room for the "-udp" suffix */ -}}
{{- if ge (len $name) 60 -}}
  {{- fail "ERROR: Cannot create a service whose full name contains more than 60 characters" -}}
{{- end -}}
{{- $name -}}
{{- end -}}

{{/* One Service's metadata and spec. Call with (dict "root" $ "service" <its values> "name" <Service name> "ports" <ports text> "annotations" <map>). */}}
{{- define "traefik.service" }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ .name }}
  namespace: {{ include "traefik.namespace" .root }}
  labels:
    {{- include "traefik.labels" .root | nindent 4 }}
    {{- with .service.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    {{- with .annotations }}
    {{- tpl (toYaml .) $.root | nindent 4 }}
    {{- end }}
spec:
  {{- /* Since chart 40 the Service's type and every other spec field come from <service>.spec alone. */}}
  {{- with .service.spec }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
  selector:
    {{- include "traefik.labelselector" .root | nindent 4 }}
  ports:
    {{- .ports | trim | nindent 4 }}
{{- end }}

{{/* One Service port per entry of .ports whose expose.<serviceName> is true. */}}
{{- define "traefik.service-ports" -}}
{{- range $portName, $cfg := .ports }}
{{- $name := $portName | lower }}
{{- if index ($cfg.expose | default dict) $.serviceName }}
{{- $port := $cfg.exposedPort | default $cfg.port }}
{{- if empty $port }}
  {{- fail (printf "ERROR: Cannot create %s port on Service without .port or .exposedPort" $name) }}
{{- end }}
- port: {{ $port }}
  name: {{ include "traefik.portname" $name }}
  targetPort: {{ $cfg.targetPort | default $name | include "traefik.portreference" }}
  protocol: {{ $cfg.protocol | default "TCP" }}
  {{- with $cfg.nodePort }}
  nodePort: {{ . }}
  {{- end }}
  {{- with $cfg.appProtocol }}
  appProtocol: {{ . }}
  {{- end }}
{{- end }}
{{- end }}
{{- end -}}
