{{/*
Traefik's command line, in the order the official chart 41.3.0 writes it: global options,
entrypoint addresses, api, ping, core, metrics, ocsp, tracing, experimental, providers,
per-entrypoint HTTP options, log, access log, certificatesResolvers, additionalArguments.
One `- "<flag>"` item per line.
*/}}
{{- define "traefik.args" -}}
{{- $ports := .Values.ports -}}
{{- with .Values.global }}
{{- if not .checkNewVersion }}
- "--global.checkNewVersion=false"
{{- end }}
{{- if .sendAnonymousUsage }}
- "--global.sendAnonymousUsage"
{{- end }}
{{- if .notAppendXForwardedFor }}
- "--global.notAppendXForwardedFor=true"
{{- end }}
{{- end }}
{{- range $name, $cfg := $ports }}
{{- if $cfg }}
{{- $host := $cfg.hostIP | default "" }}
{{- if contains ":" $host }}{{ $host = printf "[%s]" $host }}{{ end }}
- {{ printf "--entryPoints.%s.address=%s:%v/%s" $name $host $cfg.port ($cfg.protocol | default "tcp" | lower) | quote }}
{{- with $cfg.asDefault }}
- {{ printf "--entryPoints.%s.asDefault=%v" $name . | quote }}
{{- end }}
{{- with $cfg.observability }}
{{- range $key := list "accessLogs" "metrics" "tracing" "traceVerbosity" }}
{{- if ne (index $cfg.observability $key) nil }}
- {{ printf "--entryPoints.%s.observability.%s=%v" $name $key (index $cfg.observability $key) | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- with .Values.api }}
{{- if and (hasKey . "dashboard") (not .dashboard) $.Values.ingressRoute.dashboard.enabled }}
  {{- fail "ERROR: Cannot create an IngressRoute for the dashboard without enabling api.dashboard" }}
{{- end }}
{{- include "traefik.flagLines" (dict "path" "api" "content" (ternary (omit . "basePath") . (eq (toString .basePath) ""))) }}
{{- end }}
- "--ping=true"
{{- with .Values.core }}
{{- with .defaultRuleSyntax }}
- {{ printf "--core.defaultRuleSyntax=%s" . | quote }}
{{- end }}
{{- if .strictTLSOptions }}
- "--core.strictTLSOptions=true"
{{- end }}
{{- end }}
{{- with .Values.metrics }}
{{- if .addInternals }}
- "--metrics.addinternals"
{{- end }}
{{- with .prometheus }}
- "--metrics.prometheus=true"
- {{ printf "--metrics.prometheus.entrypoint=%s" .entryPoint | quote }}
{{- if eq (toString .addRoutersLabels) "true" }}
- "--metrics.prometheus.addRoutersLabels=true"
{{- end }}
{{- if ne .addEntryPointsLabels nil }}
- {{ printf "--metrics.prometheus.addEntryPointsLabels=%v" .addEntryPointsLabels | quote }}
{{- end }}
{{- if ne .addServicesLabels nil }}
- {{ printf "--metrics.prometheus.addServicesLabels=%v" .addServicesLabels | quote }}
{{- end }}
{{- with .buckets }}
- {{ printf "--metrics.prometheus.buckets=%v" . | quote }}
{{- end }}
{{- if .manualRouting }}
- "--metrics.prometheus.manualrouting=true"
{{- end }}
{{- range $label, $header := .headerLabels }}
- {{ printf "--metrics.prometheus.headerlabels.%s=%v" $label $header | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- if .Values.ocsp.enabled }}
- "--ocsp=true"
{{- include "traefik.flagLines" (dict "path" "ocsp.responderOverrides" "content" .Values.ocsp.responderOverrides) }}
{{- end }}
{{- with .Values.tracing }}
{{- if .addInternals }}
- "--tracing.addinternals"
{{- end }}
{{- if ne .sampleRate nil }}
- {{ printf "--tracing.sampleRate=%v" .sampleRate | quote }}
{{- end }}
{{- with .serviceName }}
- {{ printf "--tracing.serviceName=%s" . | quote }}
{{- end }}
{{- range $key, $value := .resourceAttributes }}
- {{ printf "--tracing.resourceAttributes.%s=%v" $key $value | quote }}
{{- end }}
{{- with .capturedRequestHeaders }}
- {{ printf "--tracing.capturedRequestHeaders=%s" (join "," .) | quote }}
{{- end }}
{{- with .capturedResponseHeaders }}
- {{ printf "--tracing.capturedResponseHeaders=%s" (join "," .) | quote }}
{{- end }}
{{- with .safeQueryParams }}
- {{ printf "--tracing.safeQueryParams=%s" (join "," .) | quote }}
{{- end }}
{{- end }}
{{- with .Values.experimental }}
{{- if (.fastProxy).enabled }}
- "--experimental.fastProxy"
{{- end }}
{{- if (.fastProxy).debug }}
- "--experimental.fastProxy.debug"
{{- end }}
{{- if .otlpLogs }}
- "--experimental.otlpLogs=true"
{{- end }}
{{- if .abortOnPluginFailure }}
- {{ printf "--experimental.abortonpluginfailure=%v" .abortOnPluginFailure | quote }}
{{- end }}
{{- end }}
{{- with .Values.providers.precedence }}
- {{ printf "--providers.precedence=%s" (join "," .) | quote }}
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
{{- with .crossProviderNamespaces }}
- {{ printf "--providers.kubernetescrd.crossProviderNamespaces=%s" (join "," .) | quote }}
{{- end }}
{{- with .defaultTLSResourcesNamespace }}
- {{ printf "--providers.kubernetescrd.defaultTLSResourcesNamespace=%s" . | quote }}
{{- end }}
{{- if .safeNaming }}
- "--providers.kubernetescrd.safeNaming=true"
{{- end }}
{{- if .allowExternalNameServices }}
- "--providers.kubernetescrd.allowExternalNameServices=true"
{{- end }}
{{- if ne .allowEmptyServices nil }}
- {{ printf "--providers.kubernetescrd.allowEmptyServices=%v" .allowEmptyServices | quote }}
{{- end }}
{{- if .nativeLBByDefault }}
- "--providers.kubernetescrd.nativeLBByDefault=true"
{{- end }}
{{- end }}
{{- end }}
{{- with .Values.providers.kubernetesIngress }}
{{- if .enabled }}
- "--providers.kubernetesingress"
{{- if .allowExternalNameServices }}
- "--providers.kubernetesingress.allowExternalNameServices=true"
{{- end }}
{{- with .crossProviderNamespaces }}
- {{ printf "--providers.kubernetesingress.crossProviderNamespaces=%s" (join "," .) | quote }}
{{- end }}
{{- if ne .allowEmptyServices nil }}
- {{ printf "--providers.kubernetesingress.allowEmptyServices=%v" .allowEmptyServices | quote }}
{{- end }}
{{- if and .publishedService.enabled (or $.Values.service.enabled .publishedService.pathOverride) }}
- {{ printf "--providers.kubernetesingress.ingressendpoint.publishedservice=%s" (include "providers.kubernetesIngress.publishedServicePath" $) | quote }}
{{- end }}
{{- with (.ingressEndpoint).hostname }}
- {{ printf "--providers.kubernetesingress.ingressendpoint.hostname=%s" . | quote }}
{{- end }}
{{- with (.ingressEndpoint).ip }}
- {{ printf "--providers.kubernetesingress.ingressendpoint.ip=%s" . | quote }}
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
{{- if .strictPrefixMatching }}
- "--providers.kubernetesingress.strictPrefixMatching=true"
{{- end }}
{{- end }}
{{- end }}
{{- if .Values.experimental.kubernetesGateway.enabled }}
- "--experimental.kubernetesgateway"
{{- end }}
{{- with .Values.providers.kubernetesCRD }}
{{- if and .enabled .namespaces }}
- {{ printf "--providers.kubernetescrd.namespaces=%s" (join "," .namespaces) | quote }}
{{- end }}
{{- end }}
{{- with .Values.providers.kubernetesGateway }}
{{- if .enabled }}
- "--providers.kubernetesgateway"
{{- with .statusAddress }}
{{- with .ip }}
- {{ printf "--providers.kubernetesgateway.statusaddress.ip=%s" . | quote }}
{{- end }}
{{- with .hostname }}
- {{ printf "--providers.kubernetesgateway.statusaddress.hostname=%s" . | quote }}
{{- end }}
{{- if (and .service.enabled $.Values.service.enabled) }}
- {{ printf "--providers.kubernetesgateway.statusaddress.service.name=%s" (.service.name | default (include "traefik.fullname" $)) | quote }}
- {{ printf "--providers.kubernetesgateway.statusaddress.service.namespace=%s" (.service.namespace | default (include "traefik.namespace" $)) | quote }}
{{- end }}
{{- end }}
{{- if .nativeLBByDefault }}
- "--providers.kubernetesgateway.nativeLBByDefault=true"
{{- end }}
{{- with .crossProviderNamespaces }}
- {{ printf "--providers.kubernetesgateway.crossProviderNamespaces=%s" (join "," .) | quote }}
{{- end }}
{{- with .namespaces }}
- {{ printf "--providers.kubernetesgateway.namespaces=%s" (join "," .) | quote }}
{{- end }}
{{- if .experimentalChannel }}
- "--providers.kubernetesgateway.experimentalchannel=true"
{{- end }}
{{- with .labelSelector }}
- {{ printf "--providers.kubernetesgateway.labelSelector=%s" . | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- with .Values.providers.kubernetesIngress }}
{{- if and .enabled .namespaces }}
- {{ printf "--providers.kubernetesingress.namespaces=%s" (join "," .namespaces) | quote }}
{{- end }}
{{- end }}
{{- range $name, $cfg := $ports }}
{{- if $cfg }}
{{- include "traefik.entryPointArgs" (dict "name" $name "cfg" $cfg "ports" $ports) }}
{{- end }}
{{- end }}
{{- with .Values.log }}
{{- with .format }}
- {{ printf "--log.format=%s" . | quote }}
{{- end }}
{{- with .filePath }}
- {{ printf "--log.filePath=%s" . | quote }}
{{- end }}
{{- if and (or (eq (toString .format) "common") (not .format)) (eq .noColor true) }}
- "--log.noColor=true"
{{- end }}
{{- with .level }}
- {{ printf "--log.level=%s" (upper .) | quote }}
{{- end }}
{{- end }}
{{- with .Values.accessLog }}
{{- if .enabled }}
- "--accesslog=true"
{{- with .format }}
- {{ printf "--accesslog.format=%s" . | quote }}
{{- end }}
{{- with .filePath }}
- {{ printf "--accesslog.filepath=%s" . | quote }}
{{- end }}
{{- if .addInternals }}
- "--accesslog.addinternals"
{{- end }}
{{- if .dualOutput }}
- "--accesslog.dualOutput=true"
{{- end }}
{{- with .bufferingSize }}
- {{ printf "--accesslog.bufferingsize=%v" . | quote }}
{{- end }}
{{- if .timezone }}
- "--accesslog.fields.names.StartUTC=drop"
{{- end }}
{{- with .filters }}
{{- with .statusCodes }}
- {{ printf "--accesslog.filters.statuscodes=%v" . | quote }}
{{- end }}
{{- if .retryAttempts }}
- "--accesslog.filters.retryattempts"
{{- end }}
{{- with .minDuration }}
- {{ printf "--accesslog.filters.minduration=%v" . | quote }}
{{- end }}
{{- end }}
- {{ printf "--accesslog.fields.defaultmode=%v" .fields.defaultMode | quote }}
{{- range $field, $action := .fields.names }}
- {{ printf "--accesslog.fields.names.%s=%v" $field $action | quote }}
{{- end }}
- {{ printf "--accesslog.fields.headers.defaultmode=%v" .fields.headers.defaultMode | quote }}
{{- range $field, $action := .fields.headers.names }}
- {{ printf "--accesslog.fields.headers.names.%s=%v" $field $action | quote }}
{{- end }}
{{- with (.fields.queryParameters).defaultMode }}
- {{ printf "--accesslog.fields.queryparameters.defaultmode=%v" . | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- with .Values.certificatesResolvers }}
{{- include "traefik.flagLines" (dict "path" "certificatesresolvers" "content" .) }}
{{- end }}
{{- range .Values.additionalArguments }}
- {{ . | quote }}
{{- end }}
{{- end -}}

{{/*
The per-entrypoint options (http.*, http3, ACME bypass, forwarded headers, proxy protocol,
transport) of one entry of .Values.ports. Call with (dict "name" <port name> "cfg" <its values>
"ports" .Values.ports).
*/}}
{{- define "traefik.entryPointArgs" -}}
{{- $ep := printf "--entryPoints.%s" .name -}}
{{- $name := .name -}}
{{- $ports := .ports -}}
{{- with .cfg.http }}
{{- with .encodedCharacters }}
{{- include "traefik.flagLines" (dict "path" (printf "entryPoints.%s.http.encodedCharacters" $name) "content" .) }}
{{- end }}
{{- with .maxHeaderBytes }}
- {{ printf "%s.http.maxHeaderBytes=%d" $ep (. | int64) | quote }}
{{- end }}
{{- with .middlewares }}
- {{ printf "%s.http.middlewares=%s" $ep (join "," .) | quote }}
{{- end }}
{{- with (.redirections).entryPoint }}
{{- if not (hasKey $ports .to) }}
  {{- fail (printf "ERROR: Cannot redirect %s to %s: entryPoint not found" $name .to) }}
{{- end }}
{{- $to := index $ports .to }}
{{- if and ((($to).http).tls).enabled .scheme (ne .scheme "https") }}
  {{- fail (printf "ERROR: Cannot redirect %s to %s without setting scheme to https" $name .to) }}
{{- end }}
- {{ printf "%s.http.redirections.entryPoint.to=:%v" $ep $to.exposedPort | quote }}
{{- with .scheme }}
- {{ printf "%s.http.redirections.entryPoint.scheme=%s" $ep . | quote }}
{{- end }}
{{- with .priority }}
- {{ printf "%s.http.redirections.entryPoint.priority=%v" $ep . | quote }}
{{- end }}
{{- if hasKey . "permanent" }}
- {{ printf "%s.http.redirections.entryPoint.permanent=%v" $ep .permanent | quote }}
{{- end }}
{{- end }}
{{- if ne .sanitizePath nil }}
- {{ printf "%s.http.sanitizePath=%v" $ep .sanitizePath | quote }}
{{- end }}
{{- with .underscoreHeadersStrategy }}
- {{ printf "%s.http.underscoreHeadersStrategy=%s" $ep . | quote }}
{{- end }}
{{- with .tls }}
{{- if .enabled }}
- {{ printf "%s.http.tls=true" $ep | quote }}
{{- with .options }}
- {{ printf "%s.http.tls.options=%s" $ep . | quote }}
{{- end }}
{{- with .certResolver }}
- {{ printf "%s.http.tls.certResolver=%s" $ep . | quote }}
{{- end }}
{{- range $i, $domain := .domains }}
{{- with $domain.main }}
- {{ printf "%s.http.tls.domains[%d].main=%s" $ep $i . | quote }}
{{- end }}
{{- with $domain.sans }}
- {{ printf "%s.http.tls.domains[%d].sans=%s" $ep $i (join "," .) | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- with .cfg.http3 }}
{{- if .enabled }}
- {{ printf "%s.http3" $ep | quote }}
{{- with .advertisedPort }}
- {{ printf "%s.http3.advertisedPort=%v" $ep . | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- if .cfg.allowACMEByPass }}
- {{ printf "%s.allowACMEByPass=true" $ep | quote }}
{{- end }}
{{- with .cfg.forwardedHeaders }}
{{- with .trustedIPs }}
- {{ printf "%s.forwardedHeaders.trustedIPs=%s" $ep (join "," .) | quote }}
{{- end }}
{{- if .insecure }}
- {{ printf "%s.forwardedHeaders.insecure" $ep | quote }}
{{- end }}
{{- if .notAppendXForwardedFor }}
- {{ printf "%s.forwardedHeaders.notAppendXForwardedFor=true" $ep | quote }}
{{- end }}
{{- end }}
{{- with .cfg.proxyProtocol }}
{{- with .trustedIPs }}
- {{ printf "%s.proxyProtocol.trustedIPs=%s" $ep (join "," .) | quote }}
{{- end }}
{{- if .insecure }}
- {{ printf "%s.proxyProtocol.insecure" $ep | quote }}
{{- end }}
{{- end }}
{{- with .cfg.transport }}
{{- $timeouts := list
    (list "respondingTimeouts.readTimeout" (.respondingTimeouts).readTimeout)
    (list "respondingTimeouts.writeTimeout" (.respondingTimeouts).writeTimeout)
    (list "respondingTimeouts.idleTimeout" (.respondingTimeouts).idleTimeout)
    (list "lifeCycle.requestAcceptGraceTimeout" (.lifeCycle).requestAcceptGraceTimeout)
    (list "lifeCycle.graceTimeOut" (.lifeCycle).graceTimeOut)
    (list "keepAliveMaxRequests" .keepAliveMaxRequests)
    (list "keepAliveMaxTime" .keepAliveMaxTime) }}
{{- range $timeouts }}
{{- $value := index . 1 }}
{{- if and (ne $value nil) (toString $value) }}
- {{ printf "%s.transport.%s=%v" $ep (index . 0) $value | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end -}}
