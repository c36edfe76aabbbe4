{{- define "mdegate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "mdegate.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "mdegate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mdegate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "mdegate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "mdegate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "mdegate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "mdegate.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The gateway's configuration: values.config with listen, admin_listen and limits.redis set by the chart. */}}
{{- define "mdegate.config" -}}
{{- $cfg := deepCopy (default dict .Values.config) -}}
{{- if not $cfg.tenants -}}{{- fail "config.tenants is empty: name the tenants the gateway serves" -}}{{- end -}}
{{- if and (not $cfg.clients) (not $cfg.allow_anonymous) -}}
{{- fail "config.clients is empty: the gateway listens on the pod IP, so every caller needs a key (mdegate key makes one); or set config.allow_anonymous: true" -}}
{{- end -}}
{{- $_ := set $cfg "listen" (printf "0.0.0.0:%d" (int .Values.ports.http)) -}}
{{- $_ := set $cfg "admin_listen" (printf "0.0.0.0:%d" (int .Values.ports.admin)) -}}
{{- if .Values.redis.enabled -}}
{{- if not .Values.redis.url -}}{{- fail "redis.enabled needs redis.url" -}}{{- end -}}
{{- $limits := default dict (get $cfg "limits") -}}
{{- $_ := set $limits "redis" (dict "url" .Values.redis.url "key_prefix" .Values.redis.keyPrefix "timeout" .Values.redis.timeout) -}}
{{- $_ := set $cfg "limits" $limits -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}
