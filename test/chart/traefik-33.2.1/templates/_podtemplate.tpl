{{/*
Pod template of the stand-in. Mirrors the official traefik/templates/_podtemplate.tpl (33.2.1) for
the keys this project uses; keys the official chart supports but this project never sets
(hub, tracing, plugins, otlp, gateway, file provider, ...) are not rendered here.
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
    {{- $metricsPort := index $ports .entryPoint | default dict }}
    prometheus.io/scrape: "true"
    prometheus.io/path: "/metrics"
    prometheus.io/port: {{ $metricsPort.port | quote }}
    {{- end }}
    {{- end }}
  labels:
    {{- include "traefik.labels" . | nindent 4 }}
    {{- with .Values.deployment.podLabels }}
    {{- toYaml . | nindent 4 }}
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
  {{- with .Values.deployment.dnsPolicy }}
  dnsPolicy: {{ . }}
  {{- end }}
  {{- with .Values.deployment.initContainers }}
  initContainers:
    {{- toYaml . | nindent 4 }}
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
      {{- $hcPort := .Values.deployment.healthchecksPort | default ($ports.traefik).port }}
      {{- $hcHost := .Values.deployment.healthchecksHost | default ($ports.traefik).hostIP }}
      {{- $hcScheme := .Values.deployment.healthchecksScheme | default "HTTP" }}
      readinessProbe:
        httpGet:
          {{- with $hcHost }}
          host: {{ . }}
          {{- end }}
          path: {{ .Values.deployment.readinessPath | default "/ping" }}
          port: {{ $hcPort }}
          scheme: {{ $hcScheme }}
        {{- toYaml .Values.readinessProbe | nindent 8 }}
      livenessProbe:
        httpGet:
          {{- with $hcHost }}
          host: {{ . }}
          {{- end }}
          path: {{ .Values.deployment.livenessPath | default "/ping" }}
          port: {{ $hcPort }}
          scheme: {{ $hcScheme }}
        {{- toYaml .Values.livenessProbe | nindent 8 }}
      {{- with .Values.startupProbe }}
      startupProbe:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.deployment.lifecycle }}
      lifecycle:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      ports:
        {{- range $name, $cfg := $ports }}
        {{- if $cfg }}
        - name: {{ include "traefik.portname" $name }}
          containerPort: {{ $cfg.containerPort | default $cfg.port }}
          {{- with $cfg.hostPort }}
          hostPort: {{ . }}
          {{- end }}
          {{- with $cfg.hostIP }}
          hostIP: {{ . }}
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
        {{- range .Values.globalArguments }}
        - {{ . | quote }}
        {{- end }}
        {{- range $name, $cfg := $ports }}
        {{- if $cfg }}
        - {{ printf "--entryPoints.%s.address=%s:%v/%s" $name ($cfg.hostIP | default "") $cfg.port ($cfg.protocol | default "tcp" | lower) | quote }}
        {{- with $cfg.asDefault }}
        - {{ printf "--entryPoints.%s.asDefault=%v" $name . | quote }}
        {{- end }}
        {{- with ($cfg.transport).lifeCycle }}
        {{- with .requestAcceptGraceTimeout }}
        - {{ printf "--entryPoints.%s.transport.lifeCycle.requestAcceptGraceTimeout=%v" $name . | quote }}
        {{- end }}
        {{- with .graceTimeOut }}
        - {{ printf "--entryPoints.%s.transport.lifeCycle.graceTimeOut=%v" $name . | quote }}
        {{- end }}
        {{- end }}
        {{- end }}
        {{- end }}
        - "--api.dashboard=true"
        - "--ping=true"
        {{- with .Values.core.defaultRuleSyntax }}
        - {{ printf "--core.defaultRuleSyntax=%s" . | quote }}
        {{- end }}
        {{- with .Values.metrics }}
        {{- if .addInternals }}
        - "--metrics.addinternals"
        {{- end }}
        {{- with .prometheus }}
        - "--metrics.prometheus=true"
        - {{ printf "--metrics.prometheus.entrypoint=%s" .entryPoint | quote }}
        {{- if .addRoutersLabels }}
        - "--metrics.prometheus.addRoutersLabels=true"
        {{- end }}
        {{- if ne .addEntryPointsLabels nil }}
        - {{ printf "--metrics.prometheus.addEntryPointsLabels=%v" .addEntryPointsLabels | quote }}
        {{- end }}
        {{- if ne .addServicesLabels nil }}
        - {{ printf "--metrics.prometheus.addServicesLabels=%v" .addServicesLabels | quote }}
        {{- end }}
        {{- end }}
        {{- end }}
        {{- with .Values.providers.kubernetesCRD }}
        {{- if .enabled }}
        - "--providers.kubernetescrd"
        {{- with .labelSelector }}
        - {{ printf "--providers.kubernetescrd.labelSelector=%s" . | quote }}
        {{- end }}
        {{- with .ingressClass }}
        - {{ printf "--providers.kubernetescrd.ingressClass=%s" . | quote }}
        {{- end }}
        {{- if .allowCrossNamespace }}
        - "--providers.kubernetescrd.allowCrossNamespace=true"
        {{- end }}
        {{- if .allowExternalNameServices }}
        - "--providers.kubernetescrd.allowExternalNameServices=true"
        {{- end }}
        {{- if .allowEmptyServices }}
        - "--providers.kubernetescrd.allowEmptyServices=true"
        {{- end }}
        {{- if .nativeLBByDefault }}
        - "--providers.kubernetescrd.nativeLBByDefault=true"
        {{- end }}
        {{- with .namespaces }}
        - {{ printf "--providers.kubernetescrd.namespaces=%s" (join "," .) | quote }}
        {{- end }}
        {{- end }}
        {{- end }}
        {{- with .Values.providers.kubernetesIngress }}
        {{- if .enabled }}
        - "--providers.kubernetesingress"
        {{- if .allowExternalNameServices }}
        - "--providers.kubernetesingress.allowExternalNameServices=true"
        {{- end }}
        {{- if .allowEmptyServices }}
        - "--providers.kubernetesingress.allowEmptyServices=true"
        {{- end }}
        {{- if and .publishedService.enabled (or $.Values.service.enabled .publishedService.pathOverride) }}
        - {{ printf "--providers.kubernetesingress.ingressendpoint.publishedservice=%s" (include "providers.kubernetesIngress.publishedServicePath" $) | quote }}
        {{- end }}
        {{- with .labelSelector }}
        - {{ printf "--providers.kubernetesingress.labelSelector=%s" . | quote }}
        {{- end }}
        {{- with .ingressClass }}
        - {{ printf "--providers.kubernetesingress.ingressClass=%s" . | quote }}
        {{- end }}
        {{- if .nativeLBByDefault }}
        - "--providers.kubernetesingress.nativeLBByDefault=true"
        {{- end }}
        {{- with .namespaces }}
        - {{ printf "--providers.kubernetesingress.namespaces=%s" (join "," .) | quote }}
        {{- end }}
        {{- end }}
        {{- end }}
        {{- range $name, $cfg := $ports }}
        {{- if $cfg }}
        {{- with $cfg.redirectTo }}
        {{- $to := index $ports .port }}
        {{- if not $to }}
          {{- fail (printf "ERROR: Cannot redirect %s to %s: entryPoint not found" $name (toString .port)) }}
        {{- end }}
        - {{ printf "--entryPoints.%s.http.redirections.entryPoint.to=:%v" $name $to.exposedPort | quote }}
        - {{ printf "--entryPoints.%s.http.redirections.entryPoint.scheme=https" $name | quote }}
        {{- with .priority }}
        - {{ printf "--entryPoints.%s.http.redirections.entryPoint.priority=%v" $name . | quote }}
        {{- end }}
        {{- end }}
        {{- with $cfg.middlewares }}
        - {{ printf "--entryPoints.%s.http.middlewares=%s" $name (join "," .) | quote }}
        {{- end }}
        {{- if ($cfg.tls).enabled }}
        - {{ printf "--entryPoints.%s.http.tls=true" $name | quote }}
        {{- with $cfg.tls.options }}
        - {{ printf "--entryPoints.%s.http.tls.options=%s" $name . | quote }}
        {{- end }}
        {{- with $cfg.tls.certResolver }}
        - {{ printf "--entryPoints.%s.http.tls.certResolver=%s" $name . | quote }}
        {{- end }}
        {{- range $i, $d := $cfg.tls.domains }}
        {{- with $d.main }}
        - {{ printf "--entryPoints.%s.http.tls.domains[%d].main=%s" $name $i . | quote }}
        {{- end }}
        {{- with $d.sans }}
        - {{ printf "--entryPoints.%s.http.tls.domains[%d].sans=%s" $name $i (join "," .) | quote }}
        {{- end }}
        {{- end }}
        {{- if ($cfg.http3).enabled }}
        - {{ printf "--entryPoints.%s.http3" $name | quote }}
        {{- with $cfg.http3.advertisedPort }}
        - {{ printf "--entryPoints.%s.http3.advertisedPort=%v" $name . | quote }}
        {{- end }}
        {{- end }}
        {{- end }}
        {{- if $cfg.allowACMEByPass }}
        - {{ printf "--entryPoints.%s.allowACMEByPass=true" $name | quote }}
        {{- end }}
        {{- with $cfg.forwardedHeaders }}
        {{- with .trustedIPs }}
        - {{ printf "--entryPoints.%s.forwardedHeaders.trustedIPs=%s" $name (join "," .) | quote }}
        {{- end }}
        {{- if .insecure }}
        - {{ printf "--entryPoints.%s.forwardedHeaders.insecure" $name | quote }}
        {{- end }}
        {{- end }}
        {{- with $cfg.proxyProtocol }}
        {{- with .trustedIPs }}
        - {{ printf "--entryPoints.%s.proxyProtocol.trustedIPs=%s" $name (join "," .) | quote }}
        {{- end }}
        {{- if .insecure }}
        - {{ printf "--entryPoints.%s.proxyProtocol.insecure" $name | quote }}
        {{- end }}
        {{- end }}
        {{- end }}
        {{- end }}
        {{- with .Values.logs }}
        {{- with .general.format }}
        - {{ printf "--log.format=%s" . | quote }}
        {{- end }}
        {{- with .general.filePath }}
        - {{ printf "--log.filePath=%s" . | quote }}
        {{- end }}
        {{- with .general.level }}
        - {{ printf "--log.level=%s" (upper .) | quote }}
        {{- end }}
        {{- if .access.enabled }}
        - "--accesslog=true"
        {{- with .access.format }}
        - {{ printf "--accesslog.format=%s" . | quote }}
        {{- end }}
        {{- with .access.filePath }}
        - {{ printf "--accesslog.filepath=%s" . | quote }}
        {{- end }}
        {{- if .access.addInternals }}
        - "--accesslog.addinternals"
        {{- end }}
        {{- with .access.bufferingSize }}
        - {{ printf "--accesslog.bufferingsize=%v" . | quote }}
        {{- end }}
        {{- with .access.filters }}
        {{- with .statuscodes }}
        - {{ printf "--accesslog.filters.statuscodes=%v" . | quote }}
        {{- end }}
        {{- if .retryattempts }}
        - "--accesslog.filters.retryattempts"
        {{- end }}
        {{- with .minduration }}
        - {{ printf "--accesslog.filters.minduration=%v" . | quote }}
        {{- end }}
        {{- end }}
        - {{ printf "--accesslog.fields.defaultmode=%v" .access.fields.general.defaultmode | quote }}
        {{- range $field, $action := .access.fields.general.names }}
        - {{ printf "--accesslog.fields.names.%s=%v" $field $action | quote }}
        {{- end }}
        - {{ printf "--accesslog.fields.headers.defaultmode=%v" .access.fields.headers.defaultmode | quote }}
        {{- range $field, $action := .access.fields.headers.names }}
        - {{ printf "--accesslog.fields.headers.names.%s=%v" $field $action | quote }}
        {{- end }}
        {{- end }}
        {{- end }}
        {{- with .Values.certificatesResolvers }}
        {{- include "traefik.flagLines" (dict "path" "certificatesresolvers" "content" .) | trim | nindent 8 }}
        {{- end }}
        {{- range .Values.additionalArguments }}
        - {{ . | quote }}
        {{- end }}
      env:
        - name: POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        - name: POD_NAMESPACE
          valueFrom:
            fieldRef:
              fieldPath: metadata.namespace
        {{- range $resource := list "cpu" "memory" }}
        {{- if index ($.Values.resources.limits | default dict) $resource }}
        - name: {{ ternary "GOMAXPROCS" "GOMEMLIMIT" (eq $resource "cpu") }}
          valueFrom:
            resourceFieldRef:
              resource: limits.{{ $resource }}
              divisor: "1"
        {{- end }}
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
      emptyDir: {}
      {{- end }}
    - name: tmp
      emptyDir: {}
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
