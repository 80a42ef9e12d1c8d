package bounded

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/checks"
)

func TestJSONDepth(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     int
	}{
		{"scalar", `"x"`, 0},
		{"object", `{"a": [1, 2, {"b": null}]}`, 3},
		{"brackets in strings do not count", `{"a": "[[[[{{{{", "b": "\"[["}`, 1},
		{"escaped backslash ends the string", `["\\", ["x"]]`, 2},
		{"unbalanced closers", `]]]{}`, 1},
		{"deep", strings.Repeat("[", 500) + strings.Repeat("]", 500), 129}, // stops past the limit
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := jsonDepth(bufio.NewReader(strings.NewReader(tc.in)), 128); got != tc.want {
				t.Errorf("jsonDepth = %d, want %d", got, tc.want)
			}
		})
	}
}

func laughs(levels int) string {
	out := "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
	prev := "a"
	for i := range levels {
		name := fmt.Sprintf("l%d", i)
		out += fmt.Sprintf("%s: &%s [%s]\n", name, name, strings.TrimSuffix(strings.Repeat("*"+prev+",", 9), ","))
		prev = name
	}
	return out
}

func TestYAMLReason(t *testing.T) {
	lim := checks.DefaultLimits()
	for _, tc := range []struct {
		name, in, want string
	}{
		{"plain manifest", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n", ""},
		{"a few aliases", laughs(2), ""},
		{"billion laughs", laughs(8), "billion laughs"},
		{"second document", "a: 1\n---\n" + laughs(8), "billion laughs"},
		{"deep flow nesting", strings.Repeat("[", 200) + strings.Repeat("]", 200), "max nesting"},
		{"deep block nesting", deepBlock(200), "max nesting"},
		{"not YAML: left to the parsers", "a: [\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := yamlReason([]byte(tc.in), lim)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("yamlReason = %q, want %q", got, tc.want)
			}
		})
	}
}

func deepBlock(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "%sk:\n", strings.Repeat(" ", i))
	}
	fmt.Fprintf(&b, "%sv", strings.Repeat(" ", n))
	return b.String()
}

func TestStructuredKind(t *testing.T) {
	for in, want := range map[string]string{
		"package-lock.json": "json", "a/b/main.tf.json": "json", "composer.lock": "json", "Pipfile.lock": "json",
		"k8s/x.YAML": "yaml", "c.yml": "yaml", "main.tf": "", "yarn.lock": "", "README.md": "",
	} {
		if got := structuredKind(in); got != want {
			t.Errorf("structuredKind(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCoverExcept(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"a/x.json", "a/y.txt", "a/b/deep.json", "a/b/z.txt", "c/w.txt", "top.json"} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	for _, tc := range []struct {
		name     string
		starts   []string
		excluded []string
		want     []string
	}{
		{"nothing excluded", []string{"."}, nil, []string{"."}},
		{"one deep file", []string{"."}, []string{"a/b/deep.json"}, []string{"a/b/z.txt", "a/x.json", "a/y.txt", "c", "top.json"}},
		{"two files", []string{"."}, []string{"a/b/deep.json", "top.json"}, []string{"a/b/z.txt", "a/x.json", "a/y.txt", "c"}},
		{"within the requested paths", []string{"a/b", "c"}, []string{"a/b/deep.json"}, []string{"a/b/z.txt", "c"}},
		{"a requested file itself", []string{"top.json"}, []string{"top.json"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ex := map[string]bool{}
			for _, e := range tc.excluded {
				ex[e] = true
			}
			got, err := coverExcept(root, tc.starts, ex)
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("coverExcept = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPrescan(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("ok.json", `{"a": 1}`)
	write("deep.json", strings.Repeat("[", 300)+strings.Repeat("]", 300))
	write("k8s/laughs.yaml", laughs(8))
	write(".git/objects/x", strings.Repeat("x", 1000)) // not counted
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "link.json")); err != nil {
		t.Fatal(err)
	}
	lim := checks.DefaultLimits()
	p, err := prescan(context.Background(), dir, nil, lim)
	if err != nil {
		t.Fatal(err)
	}
	var skipped []string
	for _, s := range p.skipped {
		skipped = append(skipped, s.Path)
	}
	slices.Sort(skipped)
	if !slices.Equal(skipped, []string{"deep.json", "k8s/laughs.yaml"}) || p.fatal != "" {
		t.Errorf("skipped %v (fatal %q), want deep.json and k8s/laughs.yaml", skipped, p.fatal)
	}
	slices.Sort(p.structured)
	if want := []string{".git", "link.json", "ok.json"}; !slices.Equal(p.structured, want) {
		t.Errorf("structured paths %v, want %v", p.structured, want)
	}
	for _, tc := range []struct {
		name string
		lim  checks.Limits
		want string
	}{
		{"files", checks.Limits{MaxFiles: 3}, "max files"},
		{"bytes", checks.Limits{MaxTotalBytes: 100}, "max total bytes"},
		{"within limits", checks.Limits{MaxFiles: 4, MaxTotalBytes: 2000}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := prescan(context.Background(), dir, nil, tc.lim.WithDefaults())
			if err != nil {
				t.Fatal(err)
			}
			if (tc.want == "") != (p.fatal == "") || !strings.Contains(p.fatal, tc.want) {
				t.Errorf("fatal %q, want %q", p.fatal, tc.want)
			}
		})
	}
}
