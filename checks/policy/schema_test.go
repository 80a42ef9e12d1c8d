package policy

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

func compileSchema(t *testing.T) (*jsonschema.Schema, map[string]any) {
	t.Helper()
	raw, err := os.ReadFile("schema.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("schema.json: %v", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("schema.json")
	if err != nil {
		t.Fatalf("compile schema.json: %v", err)
	}
	var plain map[string]any
	if err := json.Unmarshal(raw, &plain); err != nil {
		t.Fatal(err)
	}
	return s, plain
}

// yamlToJSON converts a policy file to the JSON value the schema sees:
// dates stay the text they were written as.
func yamlToJSON(t *testing.T, data []byte) any {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	if len(doc.Content) == 0 {
		return nil
	}
	b, err := json.Marshal(nodeValue(doc.Content[0]))
	if err != nil {
		t.Fatal(err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func nodeValue(n *yaml.Node) any {
	n = deref(n)
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			m[n.Content[i].Value] = nodeValue(n.Content[i+1])
		}
		return m
	case yaml.SequenceNode:
		l := []any{}
		for _, c := range n.Content {
			l = append(l, nodeValue(c))
		}
		return l
	}
	switch n.Tag {
	case "!!null":
		return nil
	case "!!bool":
		return strings.EqualFold(n.Value, "true")
	case "!!int", "!!float":
		f, _ := strconv.ParseFloat(n.Value, 64)
		return f
	}
	return n.Value
}

func TestSchemaAcceptsValidFiles(t *testing.T) {
	s, _ := compileSchema(t)
	paths, _ := filepath.Glob("testdata/valid/*.yml")
	if len(paths) == 0 {
		t.Fatal("no valid testdata")
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(yamlToJSON(t, data)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

func TestSchemaRejectsInvalidFiles(t *testing.T) {
	s, _ := compileSchema(t)
	for _, tc := range parseErrorCases {
		if !tc.schema {
			continue
		}
		if err := s.Validate(yamlToJSON(t, []byte(tc.yaml))); err == nil {
			t.Errorf("%s: schema accepted a file Parse rejects:\n%s", tc.name, tc.yaml)
		}
	}
}

// TestSchemaMatchesCode keeps schema.json and the code from drifting: the
// same defaults and the same enforce names.
func TestSchemaMatchesCode(t *testing.T) {
	_, plain := compileSchema(t)
	for _, d := range defs {
		node := plain
		for _, part := range strings.Split(d.key, ".") {
			props, _ := node["properties"].(map[string]any)
			node, _ = props[part].(map[string]any)
			if node == nil {
				t.Fatalf("schema.json has no property for %s", d.key)
			}
		}
		b, _ := json.Marshal(node["default"])
		var want string
		if g, ok := d.dflt.([]string); ok {
			w, _ := json.Marshal(g)
			want = string(w)
		} else {
			w, _ := json.Marshal(display(d.dflt))
			want = string(w)
			if d.kind == kindBool {
				want = display(d.dflt)
			}
		}
		if string(b) != want {
			t.Errorf("%s: schema default %s, code default %s", d.key, b, want)
		}
	}
	items := plain["properties"].(map[string]any)["enforce"].(map[string]any)["items"].(map[string]any)
	var names []string
	for _, n := range items["enum"].([]any) {
		names = append(names, n.(string))
	}
	if want := enforceableKeys(); !slices.Equal(names, want) {
		t.Errorf("schema enforce names\n%q\ncode\n%q", names, want)
	}
}
