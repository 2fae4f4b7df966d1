{{- define "cronjob.apiVersion" -}}
{{- if semverCompare "<1.21-0" .Capabilities.KubeVersion.GitVersion -}}
batch/v1beta1
{{- else -}}
batch/v1
{{- end -}}
{{- end -}}

{{- define "cronjob.supportsTimeZone" -}}
{{- if and (ge (int .Capabilities.KubeVersion.Major) 1) (ge (int (trimSuffix "+" .Capabilities.KubeVersion.Minor)) 27) -}}
true
{{- end -}}
{{- end -}}
