package setup

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// Manifest is app.yml read for the setup page: the manifest itself, and
// the reason app.yml's comments give for each event and permission.
type Manifest struct {
	Name        string
	Description string
	Events      []Item // default_events, in app.yml's order
	Permissions []Item // default_permissions, in app.yml's order
	// Notes are app.yml's other comments in those two lists (events sent
	// without a subscription, permissions that are optional).
	Notes  []string
	fields map[string]any
}

// Item is one event or permission and why the app needs it.
type Item struct {
	Name  string
	Level string // "read" or "write" (permissions only)
	Why   string
}

// ParseManifest reads an app manifest in app.yml's format (YAML, with a
// comment on each event and permission saying why). An event or
// permission without a reason is an error: the setup page must say why it
// asks for each.
func ParseManifest(yml []byte) (*Manifest, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(yml, &doc); err != nil {
		return nil, fmt.Errorf("parse app manifest: %w", err)
	}
	m := &Manifest{}
	if err := doc.Decode(&m.fields); err != nil || m.fields == nil {
		return nil, fmt.Errorf("parse app manifest: want a mapping at the top (%v)", err)
	}
	m.Name, _ = m.fields["name"].(string)
	m.Description, _ = m.fields["description"].(string)
	if m.Name == "" {
		return nil, errors.New("app manifest: no name")
	}
	top := doc.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		key, val := top.Content[i], top.Content[i+1]
		switch key.Value {
		case "default_events":
			for _, n := range val.Content {
				m.Events = append(m.Events, Item{Name: n.Value, Why: comment(n.LineComment)})
				m.note(n.FootComment)
			}
		case "default_permissions":
			for j := 0; j+1 < len(val.Content); j += 2 {
				k, v := val.Content[j], val.Content[j+1]
				m.Permissions = append(m.Permissions, Item{Name: k.Value, Level: v.Value, Why: cmp.Or(comment(v.LineComment), comment(k.LineComment))})
				m.note(k.FootComment)
				m.note(v.FootComment)
			}
		}
	}
	if len(m.Permissions) == 0 {
		return nil, errors.New("app manifest: no default_permissions")
	}
	for _, it := range append(append([]Item(nil), m.Events...), m.Permissions...) {
		if it.Why == "" {
			return nil, fmt.Errorf("app manifest: %s has no comment saying why the app needs it", it.Name)
		}
	}
	return m, nil
}

// note keeps a comment block as one line of text.
func (m *Manifest) note(c string) {
	if s := comment(c); s != "" {
		m.Notes = append(m.Notes, s)
	}
}

// comment turns YAML comment lines into one line of text.
func comment(c string) string {
	var parts []string
	for line := range strings.SplitSeq(c, "\n") {
		if s := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "#")); s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, " ")
}

// JSON is the manifest GitHub's form takes, pointing at publicURL:
// webhooks to publicURL/webhooks/github, the browser back to
// publicURL/setup/callback.
func (m *Manifest) JSON(publicURL string) ([]byte, error) {
	base := strings.TrimSuffix(publicURL, "/")
	out := make(map[string]any, len(m.fields))
	for k, v := range m.fields {
		out[k] = v
	}
	hook := map[string]any{"active": true}
	if h, ok := m.fields["hook_attributes"].(map[string]any); ok {
		for k, v := range h {
			hook[k] = v
		}
	}
	hook["url"] = base + WebhookPath
	out["hook_attributes"] = hook
	out["redirect_url"] = base + CallbackPath
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encode app manifest: %w", err)
	}
	return b, nil
}
