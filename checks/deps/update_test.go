package deps

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/deps/depstest"
)

// trivyDBMediaType is the media type of the trivy DB's single OCI layer.
const trivyDBMediaType = "application/vnd.aquasec.trivy.db.layer.v1.tar+gzip"

// fakeDBRegistry serves the fixture DB as an OCI artifact from an in-process
// registry on the loopback interface, the way ghcr.io serves trivy-db, and
// returns the repository (without tag, so UpdateDB adds the schema tag).
func fakeDBRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)

	archive := filepath.Join(t.TempDir(), "db.tar.gz")
	depstest.BuildDBArchive(t, archive)
	data, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.Append(empty.Image, mutate.Addendum{
		Layer:       static.NewLayer(data, types.MediaType(trivyDBMediaType)),
		Annotations: map[string]string{"org.opencontainers.image.title": "db.tar.gz"},
	})
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	repo := strings.TrimPrefix(srv.URL, "http://") + "/aquasec/trivy-db"
	ref, err := name.ParseReference(repo + ":2")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatalf("push fixture DB: %v", err)
	}
	return repo
}

func TestUpdateDBFromLocalRegistry(t *testing.T) {
	repo := fakeDBRegistry(t)
	dbDir := filepath.Join(t.TempDir(), "db")
	before := time.Now().Add(-time.Second)
	if err := UpdateDB(context.Background(), dbDir, repo); err != nil {
		t.Fatalf("UpdateDB: %v", err)
	}
	info, err := DBStatus(dbDir)
	if err != nil {
		t.Fatal(err)
	}
	if !info.Present || info.Version != 2 || info.UpdatedAt.Year() != 2030 || info.DownloadedAt.Before(before) {
		t.Errorf("DBStatus after UpdateDB = %+v", info)
	}
	s := openScanner(t, dbDir)
	if got := len(run(t, s, checks.Target{Dir: depsRepo}).Findings); got != len(fixtureFindings) {
		t.Errorf("%d findings with the downloaded DB, want %d", got, len(fixtureFindings))
	}

	// A registry that is gone: the update fails, the installed DB stays.
	hash := fileHash(t, filepath.Join(dbDir, "trivy.db"))
	gone := httptest.NewServer(registry.New())
	addr := strings.TrimPrefix(gone.URL, "http://")
	gone.Close()
	err = UpdateDB(context.Background(), dbDir, addr+"/aquasec/trivy-db")
	if err == nil || !strings.Contains(err.Error(), "cannot be reached from this host (offline?)") || !strings.Contains(err.Error(), "gatehouse db import FILE") {
		t.Errorf("UpdateDB from a closed registry: %v; want it to say the host is offline and show db import", err)
	}
	if fileHash(t, filepath.Join(dbDir, "trivy.db")) != hash {
		t.Error("a failed update changed trivy.db")
	}
	assertNoTempDirs(t, filepath.Dir(dbDir))
}
