{{- define "library-only.name" -}}lib{{- end -}}
