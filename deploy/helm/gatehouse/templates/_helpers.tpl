{{/* Names, labels and the checks every manifest relies on. */}}

{{- define "gatehouse.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "gatehouse.fullname" -}}
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

{{- define "gatehouse.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gatehouse.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "gatehouse.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "gatehouse.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: gatehouse
{{- end -}}

{{- define "gatehouse.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "gatehouse.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "gatehouse.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "gatehouse.secretName" -}}
{{- default (include "gatehouse.fullname" .) .Values.existingSecret -}}
{{- end -}}

{{/*
gatehouse.components lists the Deployments to render as JSON: one role=all
with SQLite, web and worker with Postgres. It also refuses the values that
cannot work, so every template that ranges over it fails the same way.
*/}}
{{- define "gatehouse.components" -}}
{{- $driver := .Values.database.driver -}}
{{- if eq $driver "sqlite" -}}
{{- if ne (int .Values.all.replicas) 1 -}}
{{- fail (printf "all.replicas=%d: SQLite allows one gatehouse process per data directory; set database.driver=postgres (and database.url or existingSecret's database-url) to run more replicas" (int .Values.all.replicas)) -}}
{{- end -}}
{{- list (dict "role" "all" "replicas" 1 "values" .Values.all) | toJson -}}
{{- else if eq $driver "postgres" -}}
{{- if and (not .Values.existingSecret) (not .Values.database.url) -}}
{{- fail "database.driver=postgres needs database.url, or existingSecret with the key database-url" -}}
{{- end -}}
{{- if and .Values.database.url (not (regexMatch "^postgres(ql)?://" .Values.database.url)) -}}
{{- fail "database.url must start with postgres:// or postgresql://" -}}
{{- end -}}
{{- list (dict "role" "web" "replicas" (int .Values.web.replicas) "values" .Values.web) (dict "role" "worker" "replicas" (int .Values.worker.replicas) "values" .Values.worker) | toJson -}}
{{- else -}}
{{- fail (printf "database.driver=%q: want sqlite or postgres" $driver) -}}
{{- end -}}
{{- end -}}

{{/* gatehouse.servedRole is the role whose pods take webhooks: all (SQLite) or web (Postgres). */}}
{{- define "gatehouse.servedRole" -}}
{{- if eq .Values.database.driver "sqlite" -}}all{{- else -}}web{{- end -}}
{{- end -}}
