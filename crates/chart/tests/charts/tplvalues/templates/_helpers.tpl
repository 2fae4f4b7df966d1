{{- define "tplvalues.render" -}}
{{- if typeIs "string" .value -}}
{{- tpl .value .context -}}
{{- else -}}
{{- tpl (toYaml .value) .context -}}
{{- end -}}
{{- end -}}

{{- define "tplvalues.checkMode" -}}
{{- if not (has .Values.mode (list "standard" "ha")) -}}
{{- fail (printf "mode must be standard or ha, got %q" .Values.mode) -}}
{{- end -}}
{{- .Values.mode -}}
{{- end -}}
