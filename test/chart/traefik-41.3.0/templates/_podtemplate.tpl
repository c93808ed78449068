{{/*
Pod template of the stand-in: renders, for the keys it supports, the pod the official chart 41.3.0
renders (traefik/templates/_podtemplate.tpl). Keys it does not support fail in unsupported.yaml
instead of rendering something else.
*/}}
{{- define "traefik.podTemplate" -}}
{{- $ports := .Values.ports -}}
metadata:
  annotations:
    {{- with .Values.deployment.podAnnotations }}
    {{- tpl (toYaml .) $ | nindent 4 }}
    {{- end }}
    {{- with .Values.metrics.prometheus }}
    {{- if not (.serviceMonitor).enabled }}
    prometheus.io/scrape: "true"
    prometheus.io/path: "/metrics"
    prometheus.io/port: {{ (index $ports .entryPoint).port | quote }}
    {{- end }}
    {{- end }}
  labels:
    {{- include "traefik.labels" . | nindent 4 }}
    {{- with .Values.deployment.podLabels }}
    {{- tpl (toYaml .) $ | nindent 4 }}
    {{- end }}
spec:
  {{- with .Values.deployment.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  serviceAccountName: {{ include "traefik.serviceAccountName" . }}
  automountServiceAccountToken: true
  terminationGracePeriodSeconds: {{ .Values.deployment.terminationGracePeriodSeconds | default 60 }}
  hostNetwork: {{ .Values.hostNetwork }}
  {{- if ne .Values.deployment.hostUsers nil }}
  hostUsers: {{ .Values.deployment.hostUsers }}
  {{- end }}
  {{- with .Values.deployment.dnsPolicy }}
  dnsPolicy: {{ . }}
  {{- end }}
  {{- with .Values.deployment.dnsConfig }}
  dnsConfig:
    {{- with .searches }}
    searches:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    {{- with .nameservers }}
    nameservers:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    {{- with .options }}
    options:
      {{- toYaml . | nindent 6 }}
    {{- end }}
  {{- end }}
  {{- with .Values.deployment.hostAliases }}
  hostAliases:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.deployment.initContainers }}
  initContainers:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if .Values.deployment.shareProcessNamespace }}
  shareProcessNamespace: true
  {{- end }}
  {{- with .Values.deployment.runtimeClassName }}
  runtimeClassName: {{ . }}
  {{- end }}
  containers:
    - name: {{ include "traefik.fullname" . }}
      image: {{ include "traefik.image-name" . }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      resources:
        {{- with .Values.resources }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- if and (empty $ports.traefik) (empty .Values.deployment.healthchecksPort) }}
        {{- fail "ERROR: When disabling traefik port, you need to specify `deployment.healthchecksPort`" }}
      {{- end }}
      {{- $probe := dict
          "port" (.Values.deployment.healthchecksPort | default ($ports.traefik).port)
          "host" (.Values.deployment.healthchecksHost | default ($ports.traefik).hostIP)
          "scheme" (.Values.deployment.healthchecksScheme | default "HTTP") }}
      readinessProbe:
        httpGet:
          {{- with $probe.host }}
          host: {{ . | quote }}
          {{- end }}
          path: {{ .Values.deployment.readinessPath | default "/ping" }}
          port: {{ $probe.port }}
          scheme: {{ $probe.scheme }}
        {{- toYaml .Values.readinessProbe | nindent 8 }}
      livenessProbe:
        httpGet:
          {{- with $probe.host }}
          host: {{ . | quote }}
          {{- end }}
          path: {{ .Values.deployment.livenessPath | default "/ping" }}
          port: {{ $probe.port }}
          scheme: {{ $probe.scheme }}
        {{- toYaml .Values.livenessProbe | nindent 8 }}
      {{- with .Values.startupProbe }}
      startupProbe:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      lifecycle:
        {{- with .Values.deployment.lifecycle }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      ports:
        {{- range $name, $cfg := $ports }}
        {{- if $cfg }}
        {{- if and $.Values.hostNetwork $cfg.hostPort $cfg.port (ne ($cfg.hostPort | int) ($cfg.port | int)) }}
          {{- fail "ERROR: All hostPort must match their respective containerPort when `hostNetwork` is enabled" }}
        {{- end }}
        - name: {{ include "traefik.portname" $name }}
          containerPort: {{ $cfg.containerPort | default $cfg.port }}
          {{- with $cfg.hostPort }}
          hostPort: {{ . }}
          {{- end }}
          {{- with $cfg.hostIP }}
          hostIP: {{ . | quote }}
          {{- end }}
          protocol: {{ $cfg.protocol | default "TCP" }}
          {{- if ($cfg.http3).enabled }}
        - name: {{ printf "%s-http3" $name | include "traefik.portname" }}
          containerPort: {{ $cfg.port }}
          {{- with $cfg.hostPort }}
          hostPort: {{ $cfg.http3.advertisedPort | default . }}
          {{- end }}
          protocol: UDP
          {{- end }}
        {{- end }}
        {{- end }}
      {{- with .Values.securityContext }}
      securityContext:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      volumeMounts:
        - name: {{ .Values.persistence.name }}
          mountPath: {{ .Values.persistence.path }}
          {{- with .Values.persistence.subPath }}
          subPath: {{ . }}
          {{- end }}
        - name: tmp
          mountPath: /tmp
        {{- range .Values.volumes }}
        - name: {{ tpl .name $ | replace "." "-" }}
          mountPath: {{ .mountPath }}
          readOnly: true
        {{- end }}
        {{- with .Values.additionalVolumeMounts }}
        {{- tpl (toYaml .) $ | nindent 8 }}
        {{- end }}
      args:
        {{- include "traefik.args" . | trim | nindent 8 }}
      env:
        - name: POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        - name: POD_NAMESPACE
          valueFrom:
            fieldRef:
              fieldPath: metadata.namespace
        - name: USER
          value: traefik
        {{- with .Values.resources.limits }}
        {{- if .cpu }}
        - name: GOMAXPROCS
          valueFrom:
            resourceFieldRef:
              resource: limits.cpu
              divisor: "1"
        {{- end }}
        {{- if and .memory $.Values.deployment.goMemLimitPercentage }}
        - name: GOMEMLIMIT
          value: {{ include "traefik.gomemlimit" (dict "memory" .memory "percentage" $.Values.deployment.goMemLimitPercentage) | quote }}
        {{- end }}
        {{- end }}
        {{- with .Values.accessLog.timezone }}
        - name: TZ
          value: {{ . }}
        {{- end }}
        {{- with .Values.env }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with .Values.envFrom }}
      envFrom:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    {{- with .Values.deployment.additionalContainers }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  volumes:
    - name: {{ .Values.persistence.name }}
      {{- if .Values.persistence.enabled }}
      persistentVolumeClaim:
        claimName: {{ .Values.persistence.existingClaim | default (include "traefik.fullname" .) }}
      {{- else }}
      emptyDir:
        {{- .Values.persistence.emptyDir | default dict | toYaml | nindent 8 }}
      {{- end }}
    - name: tmp
      emptyDir:
        {{- (.Values.deployment.tmpVolume).emptyDir | default dict | toYaml | nindent 8 }}
    {{- range .Values.volumes }}
    - name: {{ tpl .name $ | replace "." "-" }}
      {{- if eq .type "secret" }}
      secret:
        secretName: {{ tpl .name $ }}
      {{- else if eq .type "configMap" }}
      configMap:
        name: {{ tpl .name $ }}
      {{- end }}
    {{- end }}
    {{- with .Values.deployment.additionalVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- tpl (toYaml .) $ | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  {{- with .Values.podSecurityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- tpl (toYaml .) $ | nindent 4 }}
  {{- end }}
{{- end -}}
