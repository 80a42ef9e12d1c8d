package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/gatehouse/gatehouse/app/evidence"
	"github.com/gatehouse/gatehouse/app/evidence/attest"
	"github.com/gatehouse/gatehouse/app/jobs"
	"github.com/gatehouse/gatehouse/app/store"
	"github.com/gatehouse/gatehouse/app/store/storetest"
	"github.com/gatehouse/gatehouse/checks"
)

const attestedSHA = "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"

// recordSigned records, signed with s, a failing pull request verdict of
// acme/widgets with an SBOM and a passing push of acme/gadgets without
// one, then closes the store. It returns the first verdict's
// attestations.
func recordSigned(t *testing.T, cfg store.Config, s *attest.Signer) []evidence.Attestation {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	rec, err := evidence.New(ctx, evidence.Config{Store: st, Now: func() time.Time { return at }, Signer: s})
	if err != nil {
		t.Fatal(err)
	}
	bom := cdx.NewBOM()
	bom.Components = &[]cdx.Component{{BOMRef: "pkg:npm/lodash@4.17.20", Type: cdx.ComponentTypeLibrary, Name: "lodash", Version: "4.17.20"}}
	var doc bytes.Buffer
	if err := cdx.NewBOMEncoder(&doc, cdx.BOMFileFormatJSON).Encode(bom); err != nil {
		t.Fatal(err)
	}
	inputs := []evidence.Input{
		{
			ID:   "0123456789abcdef0123456789abcdef",
			Scan: jobs.Scan{DeliveryID: "d1", Repo: "acme/widgets", Kind: jobs.ScanPullRequest, HeadSHA: attestedSHA, PRNumber: 7},
			Verdicts: []checks.Verdict{
				{Check: checks.Secrets, Mode: "block", Conclusion: checks.ConclusionFailure, Title: "1 new secret blocks this change"},
				{Check: checks.Dependencies, Mode: "block", Conclusion: checks.ConclusionSuccess, Title: "No vulnerabilities"},
			},
			Results: []*checks.Result{{Check: checks.Dependencies, SBOM: doc.Bytes()}},
		},
		{
			ID:       "fedcba9876543210fedcba9876543210",
			Scan:     jobs.Scan{DeliveryID: "d2", Repo: "acme/gadgets", Kind: jobs.ScanPush, HeadSHA: "4b2e8c1d9a7f60e5d3c2b1a0f9e8d7c6b5a49382"},
			Verdicts: []checks.Verdict{{Check: checks.Secrets, Mode: "block", Conclusion: checks.ConclusionSuccess, Title: "No secrets found"}},
		},
	}
	for _, in := range inputs {
		in.Started, in.Finished = at, at
		if _, err := rec.Record(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	as, err := rec.Attestations(ctx, inputs[0].ID)
	if err != nil || len(as) != 2 {
		t.Fatalf("%d attestations, %v", len(as), err)
	}
	return as
}

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// flipPayloadByte changes one byte of an envelope's signed statement.
func flipPayloadByte(t *testing.T, env []byte, at int) []byte {
	t.Helper()
	var e map[string]any
	if err := json.Unmarshal(env, &e); err != nil {
		t.Fatal(err)
	}
	body, _ := base64.StdEncoding.DecodeString(e["payload"].(string))
	body[at] ^= 0x01
	e["payload"] = base64.StdEncoding.EncodeToString(body)
	out, _ := json.Marshal(e)
	return out
}

func TestEvidenceKeysExportAndVerifyAttestation(t *testing.T) {
	cfg := storetest.Config(t, store.DriverSQLite)
	if out, code := run(t, append([]string{"evidence", "keys"}, storeArgs(cfg)...)...); code == 0 || !strings.Contains(out, "no signing key") {
		t.Errorf("keys of an empty store: exit %d\n%s", code, out)
	}
	s, _, err := attest.GenerateKey(attest.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	api := recordSigned(t, cfg, s)
	dir := t.TempDir()
	keyID := s.Public().KeyID
	normalize := func(out string) string { return strings.ReplaceAll(out, keyID, "KEYID") }

	keys, code := run(t, append([]string{"evidence", "keys"}, storeArgs(cfg)...)...)
	if code != 0 || !strings.Contains(keys, "# key id "+keyID+", ecdsa-p256-sha256") || !strings.Contains(keys, s.Public().PEM) {
		t.Fatalf("keys: exit %d\n%s", code, keys)
	}
	pub := writeFile(t, dir, "gatehouse.pub", []byte(keys))

	export, code := run(t, append([]string{"evidence", "export", "--attestations"}, storeArgs(cfg)...)...)
	lines := strings.Split(strings.TrimSpace(export), "\n")
	if code != 0 || len(lines) != 4 || lines[3] != "exported 3 attestations" {
		t.Fatalf("export --attestations: exit %d\n%s", code, export)
	}
	bundle := writeFile(t, dir, "attestations.jsonl", []byte(strings.Join(lines[:3], "\n")+"\n"))
	out, code := run(t, "evidence", "verify-attestation", bundle, "--key", pub)
	if code != 0 {
		t.Fatalf("verify the export: exit %d\n%s", code, out)
	}
	golden(t, "verify-attestation-ok.txt", normalize(out))

	// One changed byte in the SBOM's statement fails it, and only it.
	lines[1] = string(flipPayloadByte(t, []byte(lines[1]), 40))
	tampered := writeFile(t, dir, "tampered.jsonl", []byte(strings.Join(lines[:3], "\n")+"\n"))
	out, code = run(t, "evidence", "verify-attestation", tampered, "--key", pub)
	if code != 1 {
		t.Fatalf("tampered export: exit %d\n%s", code, out)
	}
	golden(t, "verify-attestation-tampered.txt", normalize(out))

	// The API's list, and one envelope on standard input, with --commit.
	list, _ := json.Marshal(map[string]any{"attestations": api})
	listFile := writeFile(t, dir, "list.json", list)
	if out, code := run(t, "evidence", "verify-attestation", listFile, "--key", pub, "--commit", attestedSHA); code != 0 || !strings.Contains(out, "2 of 2 attestations verified") {
		t.Errorf("API list with --commit: exit %d\n%s", code, out)
	}
	if out, code := run(t, "evidence", "verify-attestation", listFile, "--key", pub, "--commit", strings.Repeat("0", 40)); code != 1 || !strings.Contains(out, "its subject is not commit") {
		t.Errorf("another commit: exit %d\n%s", code, out)
	}
	other, _, _ := attest.GenerateKey(attest.ECDSAP256)
	otherPub := writeFile(t, dir, "other.pub", []byte(other.Public().PEM))
	if out, code := run(t, "evidence", "verify-attestation", listFile, "--key", otherPub); code != 1 || !strings.Contains(out, "FAILED  #1") {
		t.Errorf("an untrusted key: exit %d\n%s", code, out)
	}
	// Both keys given: the right one verifies.
	if out, code := run(t, "evidence", "verify-attestation", listFile, "--key", otherPub, "--key", pub); code != 0 {
		t.Errorf("two key files: exit %d\n%s", code, out)
	}
	for _, args := range [][]string{
		{"evidence", "verify-attestation", listFile},                                    // no --key
		{"evidence", "verify-attestation", listFile, "--key", listFile},                 // not a key
		{"evidence", "verify-attestation", filepath.Join(dir, "missing"), "--key", pub}, // no file
		{"evidence", "verify-attestation", otherPub, "--key", pub},                      // not JSON
	} {
		if out, code := run(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", args[2:], code, out)
		}
	}
}

// docBlock is the fenced code block that follows marker in docs/api.md.
func docBlock(t *testing.T, marker string) string {
	t.Helper()
	b, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)" + regexp.QuoteMeta(marker) + "\\s*```[a-z]*\\n(.*?)```")
	m := re.FindSubmatch(b)
	if m == nil {
		t.Fatalf("docs/api.md has no code block after %q", marker)
	}
	return string(m[1])
}

// runIn runs a command in dir and returns its combined output.
func runIn(dir, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// The verifiers docs/api.md shows (a Python script, a shell script with
// openssl, cosign) accept what gatehouse signs, with either key type, and
// refuse it after one byte changed. Each is skipped, saying so, where its
// tools are missing; gatehouse's own is always run.
func TestDocumentedVerifiersAgree(t *testing.T) {
	python := docBlock(t, "<!-- verify-attestation.py -->")
	shell := docBlock(t, "<!-- verify-attestation.sh -->")
	doc, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	cosign := regexp.MustCompile(`(?s)cosign verify-blob-attestation .*?check-claims=false`).FindString(string(doc))
	if cosign == "" {
		t.Fatal("docs/api.md shows no cosign command")
	}
	type verifier struct {
		name string
		run  func(dir string) (string, error)
		skip string
	}
	have := func(tools ...string) string {
		for _, tool := range tools {
			if _, err := exec.LookPath(tool); err != nil {
				return tool + " is not installed"
			}
		}
		return ""
	}
	pySkip := have("python3")
	if pySkip == "" {
		if out, err := runIn(".", "python3", "-c", "import cryptography"); err != nil {
			pySkip = "python3 has no cryptography package: " + out
		}
	}
	cosignBin := os.Getenv("GATEHOUSE_TEST_COSIGN") // a cosign binary, when it is not on PATH
	if cosignBin == "" {
		cosignBin = "cosign"
	}
	cosignSkip := have(cosignBin)
	verifiers := []verifier{
		{"gatehouse", func(dir string) (string, error) {
			out, code := run(t, "evidence", "verify-attestation", filepath.Join(dir, "verdict.intoto.json"), "--key", filepath.Join(dir, "gatehouse.pub"))
			if code != 0 {
				return out, exitError{code}
			}
			return out, nil
		}, ""},
		{"python", func(dir string) (string, error) {
			writeFile(t, dir, "verify.py", []byte(python))
			return runIn(dir, "python3", "verify.py", "verdict.intoto.json", "gatehouse.pub")
		}, pySkip},
		{"shell", func(dir string) (string, error) {
			writeFile(t, dir, "verify.sh", []byte(shell))
			return runIn(dir, "sh", "verify.sh", "verdict.intoto.json", "gatehouse.pub")
		}, have("sh", "jq", "openssl", "base64")},
		{"cosign", func(dir string) (string, error) {
			c := exec.Command("sh", "-c", strings.Replace(strings.ReplaceAll(cosign, "\\\n", " "), "cosign", cosignBin, 1))
			// Naming a Rekor key keeps cosign from fetching sigstore's
			// trusted root over the network; with the tlog ignored it
			// reads the key and uses it for nothing.
			c.Dir, c.Env = dir, append(os.Environ(), "SIGSTORE_REKOR_PUBLIC_KEY="+filepath.Join(dir, "gatehouse.pub"))
			out, err := c.CombinedOutput()
			return string(out), err
		}, cosignSkip},
	}
	for _, alg := range []attest.Algorithm{attest.ECDSAP256, attest.Ed25519} {
		s, _, err := attest.GenerateKey(alg)
		if err != nil {
			t.Fatal(err)
		}
		verdict := recordSigned(t, storetest.Config(t, store.DriverSQLite), s)[0].Envelope
		for _, v := range verifiers {
			t.Run(string(alg)+"/"+v.name, func(t *testing.T) {
				if v.skip != "" {
					t.Skip(v.skip)
				}
				dir := t.TempDir()
				writeFile(t, dir, "gatehouse.pub", []byte(s.Public().PEM))
				writeFile(t, dir, "verdict.intoto.json", verdict)
				out, err := v.run(dir)
				if err != nil {
					t.Fatalf("a genuine envelope: %v\n%s", err, out)
				}
				t.Logf("%s accepts it: %s", v.name, strings.TrimSpace(out))
				if v.name != "cosign" && !strings.Contains(out, attestedSHA) {
					t.Errorf("the output does not name the commit:\n%s", out)
				}
				writeFile(t, dir, "verdict.intoto.json", flipPayloadByte(t, verdict, 60))
				out, err = v.run(dir)
				if err == nil {
					t.Errorf("a changed byte was accepted:\n%s", out)
				}
				t.Logf("%s refuses a changed byte: %s", v.name, strings.TrimSpace(out))
			})
		}
	}
}
