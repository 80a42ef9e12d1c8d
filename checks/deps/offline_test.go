package deps

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gatehouse/gatehouse/checks"
)

// pomAskingForRemote is a pom.xml whose parent and dependencies live only in
// a repository it names: an online analyzer would fetch them from there.
const pomAskingForRemote = `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <parent>
    <groupId>com.example.remote</groupId>
    <artifactId>remote-parent</artifactId>
    <version>1.0.0</version>
  </parent>
  <groupId>com.example</groupId>
  <artifactId>app</artifactId>
  <version>1.0.0</version>
  <repositories>
    <repository>
      <id>elsewhere</id>
      <url>REPO_URL</url>
    </repository>
  </repositories>
  <dependencies>
    <dependency>
      <groupId>org.example</groupId>
      <artifactId>lib</artifactId>
      <version>2.0.0</version>
    </dependency>
  </dependencies>
</project>
`

// TestPomStaysOffline scans a pom.xml that points at a Maven repository
// and checks the repository was never asked for anything.
func TestPomStaysOffline(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.NotFound(w, r)
	}))
	defer srv.Close()

	repo := t.TempDir()
	pom := strings.ReplaceAll(pomAskingForRemote, "REPO_URL", srv.URL+"/maven2")
	if err := os.WriteFile(filepath.Join(repo, "pom.xml"), []byte(pom), 0o644); err != nil {
		t.Fatal(err)
	}
	s, _ := newFixtureScanner(t)
	res := run(t, s, checks.Target{Dir: repo})

	if n := hits.Load(); n != 0 {
		t.Errorf("the Maven repository named in pom.xml got %d requests, want none", n)
	}
	if !slices.Contains(res.Scope.Inputs, "pom.xml") {
		t.Errorf("Inputs = %q, want pom.xml read", res.Scope.Inputs)
	}
}
