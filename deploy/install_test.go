package deploy

import (
	"maps"
	"path"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"

	"github.com/gatehouse/gatehouse/checks/policy"
)

// TestDefaultInstall renders the defaults: one role=all pod on SQLite with
// its store on a PersistentVolumeClaim, and the chart's own Secret.
func TestDefaultInstall(t *testing.T) {
	objs := decodeAll(t, mustRender(t, nil))
	want := map[string]int{"ServiceAccount": 1, "Secret": 1, "Service": 1, "PersistentVolumeClaim": 1,
		"Deployment": 1, "PodDisruptionBudget": 1}
	if got := kindCounts(objs); !maps.Equal(got, want) {
		t.Errorf("rendered %v, want %v", got, want)
	}

	d := deployment(t, objs, "all")
	c := container(t, d)
	if *d.Spec.Replicas != 1 || d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("role=all: %d replicas, strategy %s; want 1, Recreate (one process holds SQLite)",
			*d.Spec.Replicas, d.Spec.Strategy.Type)
	}
	for name, want := range map[string]string{
		"GATEHOUSE_ROLE":           "all",
		"GATEHOUSE_DATABASE_URL":   "<unset>", // SQLite in the data dir
		"GATEHOUSE_WEBHOOK_SECRET": "secret gh-gatehouse/webhook-secret",
		"GATEHOUSE_WORKERS":        "2",
		"GATEHOUSE_POLICY_FILE":    "<unset>",
		"GATEHOUSE_APP_ID":         "<unset>",
	} {
		if got := envValue(c, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	pvc := one[*corev1.PersistentVolumeClaim](t, objs)
	if v := volume(t, d, "data"); v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != pvc.Name {
		t.Errorf("data volume %+v, want the claim %s", v.VolumeSource, pvc.Name)
	}
	sec := one[*corev1.Secret](t, objs)
	for _, k := range []string{"private-key", "webhook-secret"} {
		if _, ok := sec.StringData[k]; !ok {
			t.Errorf("Secret has no key %s (keys %s)", k, keys(sec.StringData))
		}
	}
	svc := one[*corev1.Service](t, objs)
	if !selects(svc.Spec.Selector, d.Spec.Template.Labels) {
		t.Errorf("Service selector %v does not pick the role=all pods %v", svc.Spec.Selector, d.Spec.Template.Labels)
	}
}

// TestScaledInstall renders web and worker Deployments on Postgres with an
// existing Secret, an Ingress, a ServiceMonitor and a server policy.
func TestScaledInstall(t *testing.T) {
	objs := decodeAll(t, mustRender(t, valuesFile(t, "values-scaled.yaml")))
	want := map[string]int{"ServiceAccount": 1, "ConfigMap": 1, "Service": 2, "Deployment": 2,
		"PodDisruptionBudget": 2, "Ingress": 1, "ServiceMonitor": 1}
	if got := kindCounts(objs); !maps.Equal(got, want) {
		t.Errorf("rendered %v, want %v (no Secret: existingSecret)", got, want)
	}
	web, worker := deployment(t, objs, "web"), deployment(t, objs, "worker")
	if *web.Spec.Replicas != 3 || *worker.Spec.Replicas != 4 {
		t.Errorf("replicas web=%d worker=%d, want 3 and 4", *web.Spec.Replicas, *worker.Spec.Replicas)
	}
	common := map[string]string{
		"GATEHOUSE_DATABASE_URL": "secret gatehouse-credentials/database-url",
		"GATEHOUSE_APP_ID":       "1234567",
		"GATEHOUSE_GITHUB_URL":   "https://github.example.com",
		"GATEHOUSE_PUBLIC_URL":   "https://gatehouse.example.com",
		"GATEHOUSE_POLICY_FILE":  "/etc/gatehouse/policy/gatehouse.yml",
	}
	perRole := map[*appsv1.Deployment]map[string]string{
		web: {
			"GATEHOUSE_ROLE":                    "web",
			"GATEHOUSE_WEBHOOK_SECRET":          "secret gatehouse-credentials/webhook-secret",
			"GATEHOUSE_WEBHOOK_SECRET_PREVIOUS": "secret gatehouse-credentials/webhook-secret-previous (optional)",
			"GATEHOUSE_WORKERS":                 "<unset>",
		},
		worker: {
			"GATEHOUSE_ROLE":                "worker",
			"GATEHOUSE_WEBHOOK_SECRET":      "<unset>", // workers never see webhooks
			"GATEHOUSE_WORKERS":             "3",
			"GATEHOUSE_OFFLINE":             "true",
			"GATEHOUSE_TRIVY_DB_REPOSITORY": "registry.example.com/mirror/trivy-db",
		},
	}
	for d, roleEnv := range perRole {
		c := container(t, d)
		for name, want := range mergeMaps(common, roleEnv) {
			if got := envValue(c, name); got != want {
				t.Errorf("%s: %s = %q, want %q", d.Name, name, got, want)
			}
		}
		if v := volume(t, d, "secret"); v.Secret == nil || v.Secret.SecretName != "gatehouse-credentials" {
			t.Errorf("%s: secret volume %+v, want the existing Secret", d.Name, v.VolumeSource)
		}
	}

	svc := named[*corev1.Service](t, objs, "gh-gatehouse")
	if !selects(svc.Spec.Selector, web.Spec.Template.Labels) || selects(svc.Spec.Selector, worker.Spec.Template.Labels) {
		t.Errorf("Service selector %v must pick web pods and not worker pods", svc.Spec.Selector)
	}
	checkIngress(t, one[*networkingv1.Ingress](t, objs), svc)
	checkMonitoring(t, objs, web, worker)
	for _, pdb := range all[*policyv1.PodDisruptionBudget](objs) {
		sel := pdb.Spec.Selector.MatchLabels
		if selects(sel, web.Spec.Template.Labels) == selects(sel, worker.Spec.Template.Labels) {
			t.Errorf("PodDisruptionBudget %s (%v) must pick exactly one of web and worker", pdb.Name, sel)
		}
	}

	cm := one[*corev1.ConfigMap](t, objs)
	file := envValue(container(t, worker), "GATEHOUSE_POLICY_FILE")
	if _, err := policy.Parse(file, []byte(cm.Data[path.Base(file)])); err != nil {
		t.Errorf("rendered server policy does not parse: %v\n%s", err, cm.Data[path.Base(file)])
	}
	mounted := false
	for _, m := range container(t, worker).VolumeMounts {
		mounted = mounted || (m.Name == "policy" && m.MountPath == path.Dir(file))
	}
	if !mounted || volume(t, worker, "policy").ConfigMap.Name != cm.Name {
		t.Errorf("the policy ConfigMap %s is not mounted at %s", cm.Name, path.Dir(file))
	}
}

func checkIngress(t *testing.T, ing *networkingv1.Ingress, svc *corev1.Service) {
	t.Helper()
	if len(ing.Spec.TLS) != 1 || ing.Spec.TLS[0].SecretName != "gatehouse-tls" {
		t.Errorf("Ingress TLS %+v", ing.Spec.TLS)
	}
	var paths []string
	for _, rule := range ing.Spec.Rules {
		for _, p := range rule.HTTP.Paths {
			paths = append(paths, p.Path)
			b := p.Backend.Service
			if b == nil || b.Name != svc.Name || !servicePort(svc, b.Port.Name) {
				t.Errorf("Ingress path %s goes to %+v, not a port of Service %s", p.Path, b, svc.Name)
			}
		}
	}
	if strings.Join(paths, " ") != "/webhooks/github /api/v1" {
		t.Errorf("Ingress exposes %v, want only the webhook and the API", paths)
	}
}

// checkMonitoring: the ServiceMonitor picks the metrics Service, and that
// Service lists web and worker pods alike.
func checkMonitoring(t *testing.T, objs []object, web, worker *appsv1.Deployment) {
	t.Helper()
	sm := one[*serviceMonitor](t, objs)
	metrics := named[*corev1.Service](t, objs, "gh-gatehouse-metrics")
	sel, _ := sm.Spec["selector"].(map[string]any)["matchLabels"].(map[string]any)
	smSel := map[string]string{}
	for k, v := range sel {
		smSel[k], _ = v.(string)
	}
	if !selects(smSel, metrics.Labels) {
		t.Errorf("ServiceMonitor selector %v does not pick the metrics Service %v", smSel, metrics.Labels)
	}
	if sm.Labels["release"] != "prometheus" {
		t.Errorf("ServiceMonitor labels %v lack serviceMonitor.labels", sm.Labels)
	}
	for _, d := range []*appsv1.Deployment{web, worker} {
		if !selects(metrics.Spec.Selector, d.Spec.Template.Labels) {
			t.Errorf("metrics Service %v does not pick %s pods", metrics.Spec.Selector, d.Name)
		}
	}
	for _, ep := range sm.Spec["endpoints"].([]any) {
		ep := ep.(map[string]any)
		if ep["path"] != "/metrics" || !servicePort(metrics, ep["port"].(string)) {
			t.Errorf("ServiceMonitor endpoint %v: want /metrics on a port of %s", ep, metrics.Name)
		}
	}
}

func servicePort(svc *corev1.Service, name string) bool {
	for _, p := range svc.Spec.Ports {
		if p.Name == name {
			return true
		}
	}
	return false
}

// TestSecretChangeRollsPods: pods carry a checksum of the chart's Secret,
// so changing a secret value restarts them (gatehouse reads its secrets at
// start), and rendering twice gives the same checksum.
func TestSecretChangeRollsPods(t *testing.T) {
	checksum := func(secret string) string {
		objs := decodeAll(t, mustRender(t, map[string]any{"secrets": map[string]any{"webhookSecret": secret}}))
		return deployment(t, objs, "all").Spec.Template.Annotations["checksum/secret"]
	}
	a, again, b := checksum("first"), checksum("first"), checksum("second")
	if a == "" || a != again || a == b {
		t.Errorf("checksums: %q, again %q, after a change %q; want stable and different", a, again, b)
	}
}

func mergeMaps(a, b map[string]string) map[string]string {
	out := maps.Clone(a)
	maps.Copy(out, b)
	return out
}

// TestPolicyForms: the server policy may be given as YAML values or as the
// file's text; both render a file gatehouse parses, mounted where
// GATEHOUSE_POLICY_FILE points.
func TestPolicyForms(t *testing.T) {
	for name, pol := range map[string]any{
		"values": map[string]any{"version": 1, "checks": map[string]any{"iac": map[string]any{"mode": "warn"}}},
		"text":   "version: 1\n# org-wide default\nchecks:\n  iac: { mode: warn }\n",
	} {
		t.Run(name, func(t *testing.T) {
			objs := decodeAll(t, mustRender(t, map[string]any{"policy": pol}))
			cm := one[*corev1.ConfigMap](t, objs)
			file := envValue(container(t, deployment(t, objs, "all")), "GATEHOUSE_POLICY_FILE")
			f, err := policy.Parse(file, []byte(cm.Data[path.Base(file)]))
			if err != nil {
				t.Fatalf("rendered policy does not parse: %v\n%s", err, cm.Data[path.Base(file)])
			}
			pol, err := policy.Resolve(policy.Layer{Source: policy.SourceServer, File: f})
			if err != nil {
				t.Fatal(err)
			}
			if iacPolicy, _ := pol.Check("iac"); iacPolicy.Mode != policy.ModeWarn {
				t.Errorf("iac mode %q, want warn as the values say", iacPolicy.Mode)
			}
			if got := deployment(t, objs, "all").Spec.Template.Annotations["checksum/policy"]; got == "" {
				t.Error("no checksum/policy annotation: a policy change would not restart the pods")
			}
		})
	}
}
