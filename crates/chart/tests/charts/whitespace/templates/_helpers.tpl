{{- /*
A comment block that spans
several lines, with {{ braces }} inside.
*/ -}}

{{- define "ws.name" -}}
  {{- /* trimmed on both sides */ -}}
  {{-   .Values.name   -}}
{{- end -}}

{{ define "ws.untrimmed" }}
value: {{ .Values.name }}
{{ end }}

{{- define "ws.list" -}}
{{- range $i, $v := . -}}
{{- if $i }}, {{ end -}}
{{- $v -}}
{{- end -}}
{{- end -}}
