{{- define "common.deployment" -}}
{{- $top := first . -}}
{{- $overrides := index . 1 -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "common.names.fullname" $top }}
  labels: {{- include "common.labels.standard" $top | nindent 4 }}
spec:
  revisionHistoryLimit: {{ $top.Values.common.defaults.revisionHistoryLimit }}
  replicas: {{ $overrides.replicas | default 1 }}
  selector:
    matchLabels: {{- include "common.labels.matchLabels" $top | nindent 6 }}
  template:
    metadata:
      labels: {{- include "common.labels.matchLabels" $top | nindent 8 }}
    spec:
      containers:
        - name: {{ include "common.names.name" $top }}
          image: {{ printf "%s:%s" $top.Values.image.repository (tpl $top.Values.image.tag $top) }}
          ports:
            - containerPort: {{ $top.Values.containerPort }}
{{- end -}}
