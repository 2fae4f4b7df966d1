{{- define "kv.fullname" -}}
{{- printf "%s-%s" .Release.Name (default .Chart.Name .Values.nameOverride) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kv.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion | toString -}}
{{- if .Values.image.digest -}}
{{ .Values.image.registry }}/{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.registry }}/{{ .Values.image.repository }}:{{ $tag }}
{{- end -}}
{{- end -}}

{{- define "kv.storageClass" -}}
{{- if . -}}
{{- if eq "-" . -}}
storageClassName: ""
{{- else -}}
storageClassName: {{ . | quote }}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "kv.initialCluster" -}}
{{- $fullname := include "kv.fullname" . -}}
{{- $peers := list -}}
{{- range $i := until (int .Values.replicaCount) -}}
{{- $peers = append $peers (printf "%s-%d=http://%s-%d.%s-headless.%s.svc.cluster.local:%d" $fullname $i $fullname $i $fullname $.Release.Namespace (int $.Values.peerPort)) -}}
{{- end -}}
{{- join "," $peers -}}
{{- end -}}
