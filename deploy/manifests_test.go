package deploy

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

// kinds maps the apiVersion/kind of every manifest the chart may render to
// the Kubernetes API type it must decode into. A kind missing here fails
// the test: adding a template means adding its type.
var kinds = map[string]func() any{
	"v1/ServiceAccount":                       func() any { return &corev1.ServiceAccount{} },
	"v1/Secret":                               func() any { return &corev1.Secret{} },
	"v1/ConfigMap":                            func() any { return &corev1.ConfigMap{} },
	"v1/Service":                              func() any { return &corev1.Service{} },
	"v1/PersistentVolumeClaim":                func() any { return &corev1.PersistentVolumeClaim{} },
	"apps/v1/Deployment":                      func() any { return &appsv1.Deployment{} },
	"policy/v1/PodDisruptionBudget":           func() any { return &policyv1.PodDisruptionBudget{} },
	"networking.k8s.io/v1/Ingress":            func() any { return &networkingv1.Ingress{} },
	"monitoring.coreos.com/v1/ServiceMonitor": func() any { return &serviceMonitor{} },
}

// serviceMonitor is a Prometheus Operator ServiceMonitor, a CRD whose Go
// types gatehouse does not import: metadata decodes strictly into the API
// type, spec stays unstructured and is checked against serviceMonitorKeys.
type serviceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              map[string]any `json:"spec"`
}

// serviceMonitorKeys are the keys the ServiceMonitor CRD
// (monitoring.coreos.com/v1) accepts at each path of spec that the chart
// writes; "[]" marks list items.
var serviceMonitorKeys = map[string][]string{
	"spec": {"selector", "namespaceSelector", "endpoints", "jobLabel", "targetLabels", "podTargetLabels",
		"sampleLimit", "targetLimit", "labelLimit", "attachMetadata"},
	"spec.selector":          {"matchLabels", "matchExpressions"},
	"spec.namespaceSelector": {"any", "matchNames"},
	"spec.endpoints[]": {"port", "targetPort", "path", "scheme", "params", "interval", "scrapeTimeout",
		"honorLabels", "honorTimestamps", "relabelings", "metricRelabelings", "tlsConfig",
		"authorization", "basicAuth", "oauth2", "bearerTokenSecret", "followRedirects",
		"enableHttp2", "filterRunning", "proxyUrl"},
}

// object is one decoded manifest.
type object struct {
	key    string // key in the rendered manifests
	source string // template path, for messages
	kind   string // apiVersion/kind
	obj    any    // pointer to the API type
}

// decodeAll decodes every rendered manifest strictly: unknown or
// duplicated fields fail, as does a kind the chart is not expected to make.
func decodeAll(t *testing.T, manifests map[string]string) []object {
	t.Helper()
	var out []object
	for _, key := range slices.Sorted(mapKeys(manifests)) {
		doc := manifests[key]
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		source := key
		if first, _, _ := strings.Cut(doc, "\n"); strings.HasPrefix(first, "# Source: ") {
			source = strings.TrimPrefix(first, "# Source: ")
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			t.Fatalf("%s: not YAML: %v", source, err)
		}
		gvk := tm.APIVersion + "/" + tm.Kind
		mk, ok := kinds[gvk]
		if !ok {
			t.Fatalf("%s: unexpected kind %s", source, gvk)
		}
		obj := mk()
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			t.Errorf("%s: %s does not decode strictly: %v", source, gvk, err)
			continue
		}
		if sm, ok := obj.(*serviceMonitor); ok {
			checkKeys(t, source, "spec", sm.Spec)
		}
		out = append(out, object{key: key, source: source, kind: gvk, obj: obj})
	}
	return out
}

// checkKeys walks v and reports keys serviceMonitorKeys does not list.
func checkKeys(t *testing.T, source, path string, v any) {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		allowed, checked := serviceMonitorKeys[path]
		for k, child := range v {
			if checked && !slices.Contains(allowed, k) {
				t.Errorf("%s: ServiceMonitor field %s.%s is not in the CRD", source, path, k)
			}
			checkKeys(t, source, path+"."+k, child)
		}
	case []any:
		for _, item := range v {
			checkKeys(t, source, path+"[]", item)
		}
	}
}

// stripComments drops YAML comment lines (a template that renders nothing
// but a comment is not a manifest).
func stripComments(doc string) string {
	var b strings.Builder
	for line := range strings.Lines(doc) {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line)
		}
	}
	return b.String()
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// all returns the decoded objects of type T.
func all[T any](objs []object) []T {
	var out []T
	for _, o := range objs {
		if v, ok := o.obj.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

// one returns the only decoded object of type T.
func one[T any](t *testing.T, objs []object) T {
	t.Helper()
	got := all[T](objs)
	if len(got) != 1 {
		var zero T
		t.Fatalf("%d objects of type %T, want 1", len(got), zero)
	}
	return got[0]
}

// named returns the object of type T with the given name.
func named[T metav1.Object](t *testing.T, objs []object, name string) T {
	t.Helper()
	for _, o := range all[T](objs) {
		if o.GetName() == name {
			return o
		}
	}
	var zero T
	t.Fatalf("no %T named %s", zero, name)
	return zero
}

// deployment returns the Deployment of a role (component label).
func deployment(t *testing.T, objs []object, role string) *appsv1.Deployment {
	t.Helper()
	for _, d := range all[*appsv1.Deployment](objs) {
		if d.Labels["app.kubernetes.io/component"] == role {
			return d
		}
	}
	t.Fatalf("no Deployment for role %s", role)
	return nil
}

// kindCounts counts the decoded objects by kind, for comparing the set of
// what a values file renders.
func kindCounts(objs []object) map[string]int {
	out := map[string]int{}
	for _, o := range objs {
		out[o.kind[strings.LastIndex(o.kind, "/")+1:]]++
	}
	return out
}

// selects reports whether a label selector (a Service's or a
// LabelSelector's matchLabels) picks pods with these labels.
func selects(selector map[string]string, podLabels map[string]string) bool {
	if len(selector) == 0 {
		return false // an empty selector is never what the chart means
	}
	return labels.SelectorFromSet(selector).Matches(labels.Set(podLabels))
}

// container returns the gatehouse container of a Deployment.
func container(t *testing.T, d *appsv1.Deployment) corev1.Container {
	t.Helper()
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name == "gatehouse" {
			return c
		}
	}
	t.Fatalf("Deployment %s has no gatehouse container", d.Name)
	return corev1.Container{}
}

// env returns a container's variable by name, and whether it is set.
func env(c corev1.Container, name string) (corev1.EnvVar, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e, true
		}
	}
	return corev1.EnvVar{}, false
}

// envValue is a literal variable's value, or a description of where it
// comes from ("secret NAME/KEY").
func envValue(c corev1.Container, name string) string {
	e, ok := env(c, name)
	switch {
	case !ok:
		return "<unset>"
	case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
		ref := e.ValueFrom.SecretKeyRef
		opt := ""
		if ref.Optional != nil && *ref.Optional {
			opt = " (optional)"
		}
		return fmt.Sprintf("secret %s/%s%s", ref.Name, ref.Key, opt)
	case e.ValueFrom != nil:
		return "<valueFrom>"
	}
	return e.Value
}

// volume returns a pod volume by name.
func volume(t *testing.T, d *appsv1.Deployment, name string) corev1.Volume {
	t.Helper()
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("Deployment %s has no volume %s", d.Name, name)
	return corev1.Volume{}
}
