package deploy

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// composeFile is deploy/compose.yaml as plain data (anchors and merge keys
// resolved by the YAML decoder, variables not interpolated).
type composeFile struct {
	raw  []byte
	data map[string]any
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	raw, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var data map[string]any
	if err := yaml.Unmarshal(raw, &data); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	return composeFile{raw: raw, data: data}
}

func (c composeFile) service(t *testing.T, name string) map[string]any {
	t.Helper()
	svc, ok := c.data["services"].(map[string]any)[name].(map[string]any)
	if !ok {
		t.Fatalf("compose.yaml has no service %s", name)
	}
	return svc
}

// TestComposeSchema validates compose.yaml against the Compose
// Specification's JSON Schema, the one `docker compose` checks files with
// (no Docker engine is needed, or available, to run this).
func TestComposeSchema(t *testing.T) {
	schemaFile, err := os.Open("testdata/compose-spec.json")
	if err != nil {
		t.Fatal(err)
	}
	defer schemaFile.Close()
	schemaDoc, err := jsonschema.UnmarshalJSON(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("compose-spec.json", schemaDoc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile("compose-spec.json")
	if err != nil {
		t.Fatal(err)
	}
	// The schema speaks JSON: round-trip the YAML data through it.
	js, err := json.Marshal(loadCompose(t).data)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.Validate(inst); err != nil {
		t.Errorf("compose.yaml does not follow the Compose Specification:\n%v", err)
	}
}

// TestComposeEnvExample: every variable compose.yaml reads is documented in
// compose.env.example, and the example sets nothing compose.yaml ignores.
func TestComposeEnvExample(t *testing.T) {
	used := map[string]bool{}
	for _, m := range envRef.FindAllSubmatch(bytes.ReplaceAll(loadCompose(t).raw, []byte("$$"), nil), -1) {
		used[string(m[1])] = true
	}
	example, err := os.ReadFile("compose.env.example")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for line := range strings.Lines(string(example)) {
		line = strings.TrimSpace(line)
		if name, _, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			documented[name] = true
		}
	}
	for _, name := range slices.Sorted(maps.Keys(used)) {
		if !documented[name] {
			t.Errorf("compose.yaml reads ${%s}, which compose.env.example does not document", name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(documented)) {
		if !used[name] {
			t.Errorf("compose.env.example sets %s, which compose.yaml never reads", name)
		}
	}
}

// TestComposeWiring checks the one-host install hangs together: gatehouse
// waits for a healthy Postgres 16, reaches it by its service name and
// database, runs hardened as the image's user, and keeps its data and
// Postgres' in named volumes.
func TestComposeWiring(t *testing.T) {
	c := loadCompose(t)
	pg, gh, worker := c.service(t, "postgres"), c.service(t, "gatehouse"), c.service(t, "worker")
	if img, _ := pg["image"].(string); !strings.HasPrefix(img, "postgres:16") {
		t.Errorf("postgres image %q, want postgres:16", img)
	}
	if _, ok := pg["healthcheck"]; !ok {
		t.Error("postgres has no healthcheck: depends_on cannot wait for it")
	}
	pgEnv := pg["environment"].(map[string]any)
	for name, svc := range map[string]map[string]any{"gatehouse": gh, "worker": worker} {
		dep, _ := svc["depends_on"].(map[string]any)["postgres"].(map[string]any)
		if dep["condition"] != "service_healthy" {
			t.Errorf("%s depends_on postgres %v, want condition service_healthy", name, dep)
		}
		env := svc["environment"].(map[string]any)
		u, err := url.Parse(envRef.ReplaceAllString(env["GATEHOUSE_DATABASE_URL"].(string), "x"))
		if err != nil {
			t.Fatalf("%s GATEHOUSE_DATABASE_URL: %v", name, err)
		}
		if u.Scheme != "postgres" || u.Hostname() != "postgres" || u.Path != "/"+pgEnv["POSTGRES_DB"].(string) ||
			u.User.Username() != pgEnv["POSTGRES_USER"] {
			t.Errorf("%s GATEHOUSE_DATABASE_URL %s does not name the postgres service's user and database", name, u.Redacted())
		}
		if svc["read_only"] != true || svc["user"] != "65532:65532" || !slices.Contains(svc["cap_drop"].([]any), any("ALL")) ||
			!slices.Contains(svc["security_opt"].([]any), any("no-new-privileges:true")) {
			t.Errorf("%s: want read_only, user 65532:65532, cap_drop ALL and no-new-privileges", name)
		}
	}
	if gh["environment"].(map[string]any)["GATEHOUSE_ROLE"] != "all" ||
		worker["environment"].(map[string]any)["GATEHOUSE_ROLE"] != "worker" {
		t.Error("want gatehouse with role all and worker with role worker")
	}
	if _, ok := worker["environment"].(map[string]any)["GATEHOUSE_WEBHOOK_SECRET"]; ok {
		t.Error("the worker gets the webhook secret; only the intake needs it")
	}
	if p, _ := worker["profiles"].([]any); !slices.Contains(p, any("workers")) {
		t.Error("the extra worker must be opt-in (profile workers)")
	}
	volumes := c.data["volumes"].(map[string]any)
	for svc, mount := range map[string]string{"gatehouse": "/data", "postgres": "/var/lib/postgresql/data"} {
		found := false
		for _, v := range c.service(t, svc)["volumes"].([]any) {
			name, target, _ := strings.Cut(v.(string), ":")
			_, declared := volumes[name]
			found = found || (target == mount && declared)
		}
		if !found {
			t.Errorf("%s: %s is not on a named volume", svc, mount)
		}
	}
}
