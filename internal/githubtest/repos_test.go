package githubtest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"io"
	"net/http"
	"sort"
	"testing"

	"github.com/google/go-github/v88/github"
)

func TestContents(t *testing.T) {
	f := newFixture(t)
	f.repo.Commit("main", "nested", map[string]string{".github/gatehouse.yml": "version: 1\n"})
	gh := f.installationClient(t)
	file, _, _, err := gh.Repositories.GetContents(f.ctx, "acme", "widgets", ".github/gatehouse.yml", nil)
	if err != nil {
		t.Fatalf("get nested file: %v", err)
	}
	if got, err := file.GetContent(); err != nil || got != "version: 1\n" || file.GetEncoding() != "base64" || file.GetType() != "file" {
		t.Errorf("content %q (%v), encoding %q, type %q", got, err, file.GetEncoding(), file.GetType())
	}
	// A ref selects the version: new.txt exists only on the feature branch.
	if _, _, resp, _ := gh.Repositories.GetContents(f.ctx, "acme", "widgets", "new.txt", nil); statusOf(resp) != http.StatusNotFound {
		t.Errorf("new.txt on the default branch: status %d, want 404", statusOf(resp))
	}
	file, _, _, err = gh.Repositories.GetContents(f.ctx, "acme", "widgets", "new.txt", &github.RepositoryContentGetOptions{Ref: f.pr.HeadSHA})
	if err != nil {
		t.Fatalf("new.txt at head: %v", err)
	}
	if got, _ := file.GetContent(); got != "one\ntwo\n" {
		t.Errorf("new.txt = %q", got)
	}
	_, dir, _, err := gh.Repositories.GetContents(f.ctx, "acme", "widgets", ".github", nil)
	if err != nil || len(dir) != 1 || dir[0].GetPath() != ".github/gatehouse.yml" || dir[0].GetType() != "file" {
		t.Errorf("directory listing = %v, %v", dir, err)
	}
	if _, _, resp, _ := gh.Repositories.GetContents(f.ctx, "acme", "widgets", "x.txt", &github.RepositoryContentGetOptions{Ref: "no-such-branch"}); statusOf(resp) != http.StatusNotFound {
		t.Errorf("unknown ref: status %d, want 404", statusOf(resp))
	}
}

func TestTarball(t *testing.T) {
	f := newFixture(t)
	gh := f.installationClient(t)
	link, _, err := gh.Repositories.GetArchiveLink(f.ctx, "acme", "widgets", github.Tarball, &github.RepositoryContentGetOptions{Ref: f.pr.HeadSHA}, 0)
	if err != nil {
		t.Fatalf("archive link: %v", err)
	}
	resp, err := f.s.Client().Get(link.String())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("download: status %d", resp.StatusCode)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatalf("gzip: %v", err)
	}
	tr := tar.NewReader(zr)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("tar: %v", err)
		}
		if h.Typeflag == tar.TypeReg {
			names = append(names, h.Name)
		}
	}
	sort.Strings(names)
	prefix := "acme-widgets-" + f.pr.HeadSHA[:7] + "/"
	want := []string{prefix + "README.md", prefix + "app.txt", prefix + "new.txt"}
	if len(names) != len(want) {
		t.Fatalf("tarball files = %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Errorf("tarball file %d = %s, want %s", i, names[i], want[i])
		}
	}
	// The codeload URL only works with its grant.
	bad := *link
	bad.RawQuery = "token=nope"
	resp2, err := f.s.Client().Get(bad.String())
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusNotFound {
		t.Errorf("codeload without grant: status %d, want 404", resp2.StatusCode)
	}
}

func TestCompare(t *testing.T) {
	f := newFixture(t)
	f.repo.Commit("main", "base moves on", map[string]string{"README.md": "hello again\n"})
	gh := f.installationClient(t)
	cmp, _, err := gh.Repositories.CompareCommits(f.ctx, "acme", "widgets", "main", "feature", nil)
	if err != nil {
		t.Fatalf("compare: %v", err)
	}
	if cmp.GetStatus() != "diverged" || cmp.GetAheadBy() != 1 || cmp.GetBehindBy() != 1 || len(cmp.Commits) != 1 {
		t.Errorf("status %s ahead %d behind %d commits %d; want diverged 1 1 1", cmp.GetStatus(), cmp.GetAheadBy(), cmp.GetBehindBy(), len(cmp.Commits))
	}
	if cmp.Commits[0].GetSHA() != f.pr.HeadSHA || cmp.Commits[0].GetCommit().GetMessage() != "change" {
		t.Errorf("commit = %s %q", cmp.Commits[0].GetSHA(), cmp.Commits[0].GetCommit().GetMessage())
	}
	if cmp.GetMergeBaseCommit().GetSHA() != f.pr.BaseSHA || len(cmp.Files) != 2 {
		t.Errorf("merge base %s, %d files; want %s, 2", cmp.GetMergeBaseCommit().GetSHA(), len(cmp.Files), f.pr.BaseSHA)
	}
}

func TestCollaboratorPermission(t *testing.T) {
	f := newFixture(t)
	f.s.SetPermission("acme/widgets", "alice", "maintain")
	gh := f.installationClient(t)
	for user, want := range map[string][2]string{"alice": {"write", "maintain"}, "bob": {"none", "none"}} {
		p, _, err := gh.Repositories.GetPermissionLevel(f.ctx, "acme", "widgets", user)
		if err != nil {
			t.Fatalf("%s: %v", user, err)
		}
		if p.GetPermission() != want[0] || p.GetRoleName() != want[1] || p.GetUser().GetLogin() != user {
			t.Errorf("%s: permission %q role %q, want %q %q", user, p.GetPermission(), p.GetRoleName(), want[0], want[1])
		}
	}
}

func gzipBase64(t *testing.T, doc string) string {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write([]byte(doc)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

func TestSARIFUpload(t *testing.T) {
	doc := `{"version":"2.1.0","runs":[]}`
	for _, tc := range []struct {
		name   string
		sarif  func(t *testing.T) string
		status int
	}{
		{"gzip and base64", func(t *testing.T) string { return gzipBase64(t, doc) }, http.StatusAccepted},
		{"plain base64", func(*testing.T) string { return base64.StdEncoding.EncodeToString([]byte(doc)) }, http.StatusBadRequest},
		{"not SARIF", func(t *testing.T) string { return gzipBase64(t, `{"hello":1}`) }, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, AllowRejections())
			gh := f.installationClient(t)
			_, resp, err := gh.CodeScanning.UploadSarif(f.ctx, "acme", "widgets", &github.SarifAnalysis{
				CommitSHA: github.Ptr(f.pr.HeadSHA), Ref: github.Ptr("refs/pull/1/head"), Sarif: github.Ptr(tc.sarif(t)), ToolName: github.Ptr("gatehouse"),
			})
			// go-github reports GitHub's 202 as an AcceptedError.
			if statusOf(resp) != tc.status {
				t.Fatalf("status %d (%v), want %d", statusOf(resp), err, tc.status)
			}
			ups := f.s.SARIFUploads("acme/widgets")
			if tc.status == http.StatusAccepted && (len(ups) != 1 || string(ups[0].SARIF) != doc || ups[0].ToolName != "gatehouse") {
				t.Errorf("uploads = %+v", ups)
			}
			if tc.status != http.StatusAccepted && len(ups) != 0 {
				t.Errorf("a refused upload was stored")
			}
		})
	}
}
