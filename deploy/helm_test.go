package deploy

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/loader"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/release"
	releaseutil "helm.sh/helm/v4/pkg/release/v1/util"
)

// chartDir is the chart under test, relative to this package.
const chartDir = "helm/gatehouse"

// The release every test renders.
const (
	releaseName = "gh"
	namespace   = "gatehouse"
)

// render renders the chart the way `helm template` does (client-only dry
// run, no cluster) with vals over the chart's values.yaml, and returns the
// manifests by template path ("gatehouse/templates/deployment.yaml" and,
// for templates that render several documents, one key per document).
func render(t *testing.T, vals map[string]any) (map[string]string, error) {
	t.Helper()
	chrt, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	install := action.NewInstall(&action.Configuration{})
	install.DryRunStrategy = action.DryRunClient
	install.Replace = true // no release name check against a cluster
	install.ReleaseName = releaseName
	install.Namespace = namespace
	install.IncludeCRDs = true
	rel, err := install.Run(chrt, vals)
	if err != nil {
		return nil, err
	}
	acc, err := release.NewAccessor(rel)
	if err != nil {
		t.Fatalf("read release: %v", err)
	}
	return releaseutil.SplitManifests(acc.Manifest()), nil
}

// mustRender is render for values that must render.
func mustRender(t *testing.T, vals map[string]any) map[string]string {
	t.Helper()
	out, err := render(t, vals)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return out
}

// valuesFile reads a values file from testdata.
func valuesFile(t *testing.T, name string) map[string]any {
	t.Helper()
	vals, err := common.ReadValuesFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read values %s: %v", name, err)
	}
	return vals
}

// lint runs `helm lint --strict` on the chart with vals.
func lint(vals map[string]any) []string {
	l := action.NewLint()
	l.Strict = true
	l.Namespace = namespace
	res := l.Run([]string{chartDir}, vals)
	var out []string
	for _, err := range res.Errors {
		out = append(out, err.Error())
	}
	for _, m := range res.Messages {
		// INFO messages (a missing icon) are advice; warnings fail --strict.
		if m.Severity >= support.WarningSev {
			out = append(out, m.Error())
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func TestChartLints(t *testing.T) {
	for name, vals := range map[string]map[string]any{
		"defaults": nil,
		"scaled":   valuesFile(t, "values-scaled.yaml"),
	} {
		t.Run(name, func(t *testing.T) {
			if problems := lint(vals); len(problems) > 0 {
				t.Errorf("helm lint --strict:\n%s", strings.Join(problems, "\n"))
			}
		})
	}
}

// TestChartRefuses checks the values the chart must refuse to render, and
// that the refusal says why.
func TestChartRefuses(t *testing.T) {
	tests := []struct {
		name string
		vals map[string]any
		want string
	}{
		{
			name: "two replicas on SQLite",
			vals: map[string]any{"all": map[string]any{"replicas": 2}},
			want: "SQLite allows one gatehouse process",
		},
		{
			name: "zero replicas on SQLite",
			vals: map[string]any{"all": map[string]any{"replicas": 0}},
			want: "SQLite allows one gatehouse process",
		},
		{
			name: "Postgres without a URL or a Secret",
			vals: map[string]any{"database": map[string]any{"driver": "postgres"}},
			want: "needs database.url",
		},
		{
			name: "Postgres URL of another scheme",
			vals: map[string]any{"database": map[string]any{"driver": "postgres", "url": "mysql://db/gatehouse"}},
			want: "must start with postgres://",
		},
		{
			name: "unknown driver",
			vals: map[string]any{"database": map[string]any{"driver": "mysql"}},
			want: `database.driver="mysql"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := render(t, tt.vals)
			if err == nil {
				t.Fatalf("rendered %d manifests, want an error containing %q", len(out), tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

// TestChartScalesOnPostgres renders web and worker replicas on Postgres
// without complaint, the case the SQLite refusal points to.
func TestChartScalesOnPostgres(t *testing.T) {
	out := mustRender(t, map[string]any{
		"database": map[string]any{"driver": "postgres", "url": "postgres://gatehouse@db:5432/gatehouse"},
		"web":      map[string]any{"replicas": 5},
		"worker":   map[string]any{"replicas": 7},
	})
	objs := decodeAll(t, out)
	for role, want := range map[string]int32{"web": 5, "worker": 7} {
		d := deployment(t, objs, role)
		if got := *d.Spec.Replicas; got != want {
			t.Errorf("%s replicas = %d, want %d", role, got, want)
		}
	}
	sec := one[*corev1.Secret](t, objs)
	if got := sec.StringData["database-url"]; got != "postgres://gatehouse@db:5432/gatehouse" {
		t.Errorf("Secret database-url = %q", got)
	}
}

// keys lists a map's keys, sorted, for messages.
func keys[V any](m map[string]V) string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return fmt.Sprint(out)
}
