{{/* Service helpers; mirror the official traefik/templates/_service.tpl (33.2.1). */}}

{{/* "default" is the chart's main Service "<fullname>"; any other key gives "<fullname>-<key>". */}}
{{- define "traefik.service-name" -}}
{{- $name := include "traefik.fullname" .root -}}
{{- if ne .name "default" -}}{{- $name = printf "%s-%s" $name .name -}}{{- end -}}
{{- if ge (len $name) 60 -}}
  {{- fail "ERROR: Cannot create a service whose full name contains more than 60 characters" -}}
{{- end -}}
{{- $name -}}
{{- end -}}

{{- define "traefik.service-metadata" }}
  labels:
    {{- include "traefik.labels" .root | nindent 4 }}
    {{- with .service.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end }}

{{- define "traefik.service-spec" }}
  {{- $type := .service.type | default "LoadBalancer" }}
  type: {{ $type }}
  {{- with .service.loadBalancerClass }}
  loadBalancerClass: {{ . }}
  {{- end }}
  {{- with .service.spec }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
  selector:
    {{- include "traefik.labelselector" .root | nindent 4 }}
  {{- if eq $type "LoadBalancer" }}
  {{- with .service.loadBalancerSourceRanges }}
  loadBalancerSourceRanges:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- end }}
  {{- with .service.externalIPs }}
  externalIPs:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .service.ipFamilyPolicy }}
  ipFamilyPolicy: {{ . }}
  {{- end }}
  {{- with .service.ipFamilies }}
  ipFamilies:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/* One Service port per entry of .ports whose expose.<serviceName> is true. */}}
{{- define "traefik.service-ports" }}
  {{- range $portName, $cfg := .ports }}
  {{- if index ($cfg.expose | default dict) $.serviceName }}
  {{- $name := $portName | lower }}
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
  {{- if and ($cfg.http3).enabled $.single }}
    - port: {{ $cfg.http3.advertisedPort | default $cfg.exposedPort }}
      name: {{ printf "%s-http3" $name | include "traefik.portname" }}
      targetPort: {{ printf "%s-http3" $name | include "traefik.portname" }}
      protocol: UDP
  {{- end }}
  {{- end }}
  {{- end }}
{{- end }}
