{{/* Labels every object of the chart carries. */}}
{{- define "longhorn-ts.labels" -}}
app.kubernetes.io/name: longhorn-ts
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "node"). */}}
{{- define "longhorn-ts.selector" -}}
app.kubernetes.io/name: longhorn-ts
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Labels of one component's objects and pods. */}}
{{- define "longhorn-ts.componentLabels" -}}
{{ include "longhorn-ts.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "longhorn-ts.nodeImage" -}}
{{ printf "%s:%s" .Values.image.node.repository .Values.image.node.tag }}
{{- end -}}

{{- define "longhorn-ts.controllerImage" -}}
{{ printf "%s:%s" .Values.image.controller.repository .Values.image.controller.tag }}
{{- end -}}

{{/* The CSI driver's socket directory on the nodes (kubelet's plugins directory). */}}
{{- define "longhorn-ts.pluginDir" -}}
{{ printf "%s/plugins/driver.longhorn.io" (trimSuffix "/" .Values.csi.kubeletRootDir) }}
{{- end -}}

{{/* Pod spec fields every pod of the chart shares. */}}
{{- define "longhorn-ts.podCommon" -}}
priorityClassName: {{ .Values.priorityClass.name }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The scheduler extender's Service URL. */}}
{{- define "longhorn-ts.extenderUrl" -}}
{{ printf "http://longhorn-ts-scheduler-extender.%s.svc:%d" .Release.Namespace (int .Values.schedulerExtender.port) }}
{{- end -}}
