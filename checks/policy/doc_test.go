package policy

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestPolicyDocListsEveryKey keeps docs/policy.md's table in step with
// schema.json: every key the schema knows is documented.
func TestPolicyDocListsEveryKey(t *testing.T) {
	doc, err := os.ReadFile("../../docs/policy.md")
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Properties map[string]json.RawMessage `json:"properties"`
		Defs       map[string]json.RawMessage `json:"$defs"`
	}
	b, err := os.ReadFile("schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatal(err)
	}
	var walk func(prefix string, props map[string]json.RawMessage)
	walk = func(prefix string, props map[string]json.RawMessage) {
		for name, raw := range props {
			key := prefix + name
			var p struct {
				Properties map[string]json.RawMessage `json:"properties"`
				Items      *struct {
					Ref string `json:"$ref"`
				} `json:"items"`
			}
			_ = json.Unmarshal(raw, &p)
			if p.Properties == nil && !strings.HasSuffix(key, ".paths") && !strings.Contains(string(doc), "`"+key+"`") {
				t.Errorf("docs/policy.md does not document %s", key)
			}
			walk(key+".", p.Properties)
			if p.Items != nil && strings.HasPrefix(p.Items.Ref, "#/$defs/") {
				var d struct {
					Properties map[string]json.RawMessage `json:"properties"`
				}
				_ = json.Unmarshal(schema.Defs[strings.TrimPrefix(p.Items.Ref, "#/$defs/")], &d)
				walk(key+"[].", d.Properties)
			}
		}
	}
	walk("", schema.Properties)
}
