package attest_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/app/evidence/attest"
)

var algorithms = []attest.Algorithm{attest.ECDSAP256, attest.Ed25519}

func statement() attest.Statement {
	return attest.Statement{
		Type: attest.StatementType,
		Subject: []attest.Subject{{Name: "git+https://github.com/acme/widgets",
			Digest: map[string]string{attest.DigestGitCommit: "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"}}},
		PredicateType: "https://example.com/predicate/v1",
		Predicate:     json.RawMessage(`{"decision":"success","note":"ünïcode & <html>"}`),
	}
}

func newKey(t *testing.T, alg attest.Algorithm) (*attest.Signer, []byte) {
	t.Helper()
	s, pemBytes, err := attest.GenerateKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	return s, pemBytes
}

func sign(t *testing.T, s *attest.Signer, st attest.Statement) []byte {
	t.Helper()
	env, err := s.Sign(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// independentVerify checks a DSSE envelope the way the DSSE protocol
// describes it, with the standard library only: the PAE is built here,
// by hand, from the spec (not with gatehouse's or go-securesystemslib's
// code), and the key is read from its PEM with crypto/x509.
func independentVerify(envelope []byte, publicPEM string) error {
	var env struct {
		PayloadType string `json:"payloadType"`
		Payload     string `json:"payload"`
		Signatures  []struct {
			KeyID string `json:"keyid"`
			Sig   string `json:"sig"`
		} `json:"signatures"`
	}
	if err := json.Unmarshal(envelope, &env); err != nil {
		return err
	}
	body, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return err
	}
	// PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body
	pae := []byte(fmt.Sprintf("DSSEv1 %d %s %d ", len(env.PayloadType), env.PayloadType, len(body)))
	pae = append(pae, body...)
	block, _ := pem.Decode([]byte(publicPEM))
	if block == nil {
		return errors.New("no PEM")
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return err
	}
	for _, s := range env.Signatures {
		sig, err := base64.StdEncoding.DecodeString(s.Sig)
		if err != nil {
			return err
		}
		switch k := key.(type) {
		case *ecdsa.PublicKey:
			sum := sha256.Sum256(pae)
			if ecdsa.VerifyASN1(k, sum[:], sig) {
				return nil
			}
		case ed25519.PublicKey:
			if ed25519.Verify(k, pae, sig) {
				return nil
			}
		}
	}
	return errors.New("no signature verifies")
}

func TestEnvelopeVerifiesWithAnIndependentPAE(t *testing.T) {
	for _, alg := range algorithms {
		t.Run(string(alg), func(t *testing.T) {
			s, _ := newKey(t, alg)
			pub := s.Public()
			env := sign(t, s, statement())
			if err := independentVerify(env, pub.PEM); err != nil {
				t.Fatalf("independent verification: %v\n%s", err, env)
			}
			var e struct {
				PayloadType string `json:"payloadType"`
				Payload     string `json:"payload"`
				Signatures  []struct {
					KeyID string `json:"keyid"`
				} `json:"signatures"`
			}
			if err := json.Unmarshal(env, &e); err != nil {
				t.Fatal(err)
			}
			if e.PayloadType != "application/vnd.in-toto+json" || len(e.Signatures) != 1 {
				t.Errorf("envelope %s", env)
			}
			// The key id is the SHA-256 of the DER public key, which anyone
			// can recompute.
			block, _ := pem.Decode([]byte(pub.PEM))
			sum := sha256.Sum256(block.Bytes)
			if id := hex.EncodeToString(sum[:]); e.Signatures[0].KeyID != id || pub.KeyID != id {
				t.Errorf("keyid %q (public key %q), want %q", e.Signatures[0].KeyID, pub.KeyID, id)
			}
			// The payload is the statement's canonical JSON.
			body, _ := base64.StdEncoding.DecodeString(e.Payload)
			want := `{"_type":"https://in-toto.io/Statement/v1","predicate":{"decision":"success","note":"ünïcode & <html>"},"predicateType":"https://example.com/predicate/v1","subject":[{"digest":{"gitCommit":"9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"},"name":"git+https://github.com/acme/widgets"}]}`
			if string(body) != want {
				t.Errorf("payload\n%s\nwant\n%s", body, want)
			}
			v, err := attest.Verify(context.Background(), env, []attest.PublicKey{pub})
			if err != nil || v.KeyID != pub.KeyID || !bytes.Equal(v.Payload, body) || v.Statement.PredicateType != statement().PredicateType {
				t.Errorf("Verify = %+v, %v", v, err)
			}
		})
	}
}

// reencode rebuilds an envelope with a changed payload, signature or type.
func reencode(t *testing.T, env []byte, change func(typ *string, body, sig []byte)) []byte {
	t.Helper()
	var e map[string]any
	if err := json.Unmarshal(env, &e); err != nil {
		t.Fatal(err)
	}
	body, _ := base64.StdEncoding.DecodeString(e["payload"].(string))
	sigs := e["signatures"].([]any)
	sig, _ := base64.StdEncoding.DecodeString(sigs[0].(map[string]any)["sig"].(string))
	typ := e["payloadType"].(string)
	change(&typ, body, sig)
	e["payloadType"] = typ
	e["payload"] = base64.StdEncoding.EncodeToString(body)
	sigs[0].(map[string]any)["sig"] = base64.StdEncoding.EncodeToString(sig)
	out, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAChangedByteFails(t *testing.T) {
	for _, alg := range algorithms {
		t.Run(string(alg), func(t *testing.T) {
			s, _ := newKey(t, alg)
			pub := s.Public()
			env := sign(t, s, statement())
			var e struct{ Payload string }
			_ = json.Unmarshal(env, &e)
			body, _ := base64.StdEncoding.DecodeString(e.Payload)
			// Every byte of the signed statement, one at a time.
			for i := range body {
				bad := reencode(t, env, func(_ *string, b, _ []byte) { b[i] ^= 0x01 })
				if _, err := attest.Verify(context.Background(), bad, []attest.PublicKey{pub}); !errors.Is(err, attest.ErrBadSignature) {
					t.Fatalf("payload byte %d changed: Verify = %v, want ErrBadSignature", i, err)
				}
				if independentVerify(bad, pub.PEM) == nil {
					t.Fatalf("payload byte %d changed: the independent verifier accepts it", i)
				}
			}
			for name, change := range map[string]func(*string, []byte, []byte){
				"signature":    func(_ *string, _, sig []byte) { sig[len(sig)/2] ^= 0x80 },
				"payload type": func(typ *string, _, _ []byte) { *typ = "application/vnd.in-toto+jsoN" },
			} {
				bad := reencode(t, env, change)
				if _, err := attest.Verify(context.Background(), bad, []attest.PublicKey{pub}); err == nil {
					t.Errorf("%s changed: Verify accepts it", name)
				}
				if independentVerify(bad, pub.PEM) == nil {
					t.Errorf("%s changed: the independent verifier accepts it", name)
				}
			}
			// The untouched envelope still verifies: the loop above tested
			// changes, not a broken verifier.
			if _, err := attest.Verify(context.Background(), reencode(t, env, func(*string, []byte, []byte) {}), []attest.PublicKey{pub}); err != nil {
				t.Errorf("untouched envelope: %v", err)
			}
		})
	}
}

func TestVerifyRefuses(t *testing.T) {
	ctx := context.Background()
	s, _ := newKey(t, attest.ECDSAP256)
	other, _ := newKey(t, attest.ECDSAP256)
	ed, _ := newKey(t, attest.Ed25519)
	env := sign(t, s, statement())
	if _, err := attest.Verify(ctx, env, []attest.PublicKey{other.Public(), ed.Public()}); !errors.Is(err, attest.ErrBadSignature) {
		t.Errorf("other keys: %v", err)
	}
	if v, err := attest.Verify(ctx, env, []attest.PublicKey{other.Public(), s.Public(), s.Public()}); err != nil || v.KeyID != s.Public().KeyID {
		t.Errorf("among other keys: %+v, %v", v, err)
	}
	if _, err := attest.Verify(ctx, env, nil); err == nil {
		t.Error("no keys: verified")
	}
	var e map[string]any
	_ = json.Unmarshal(env, &e)
	e["signatures"] = []any{}
	unsigned, _ := json.Marshal(e)
	if _, err := attest.Verify(ctx, unsigned, []attest.PublicKey{s.Public()}); !errors.Is(err, attest.ErrBadSignature) {
		t.Errorf("unsigned: %v", err)
	}
	if _, err := attest.Verify(ctx, []byte("not json"), []attest.PublicKey{s.Public()}); err == nil {
		t.Error("not JSON: verified")
	}
	// Signing refuses a statement a verifier would refuse.
	for name, st := range map[string]attest.Statement{
		"no subject":        func() attest.Statement { st := statement(); st.Subject = nil; return st }(),
		"no digest":         func() attest.Statement { st := statement(); st.Subject[0].Digest = nil; return st }(),
		"v0.1 type":         func() attest.Statement { st := statement(); st.Type = "https://in-toto.io/Statement/v0.1"; return st }(),
		"no predicate type": func() attest.Statement { st := statement(); st.PredicateType = ""; return st }(),
		"array predicate":   func() attest.Statement { st := statement(); st.Predicate = json.RawMessage(`[1]`); return st }(),
	} {
		if _, err := s.Sign(ctx, st); err == nil {
			t.Errorf("%s: signed", name)
		}
	}
}

func TestParsePublicKeys(t *testing.T) {
	a, _ := newKey(t, attest.ECDSAP256)
	b, privPEM := newKey(t, attest.Ed25519)
	keys, err := attest.ParsePublicKeys([]byte("# the current key\n" + a.Public().PEM + "# the one before\n" + b.Public().PEM))
	if err != nil || len(keys) != 2 || keys[0].KeyID != a.Public().KeyID || keys[1].KeyID != b.Public().KeyID ||
		keys[0].Algorithm != attest.ECDSAP256 || keys[1].Algorithm != attest.Ed25519 {
		t.Fatalf("ParsePublicKeys = %+v, %v", keys, err)
	}
	if _, err := attest.ParsePublicKeys(privPEM); err == nil || !strings.Contains(err.Error(), "private key") {
		t.Errorf("a private key as public: %v", err)
	}
	if _, err := attest.ParsePublicKeys([]byte("nothing")); err == nil {
		t.Error("no PEM: parsed")
	}
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	der, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	if _, err := attest.ParsePublicKeys(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})); err == nil {
		t.Error("RSA public key: parsed")
	}
}

func TestParsePrivateKey(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sec1, _ := x509.MarshalECPrivateKey(ec)
	s, err := attest.ParsePrivateKey(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}))
	if err != nil || s.Public().Algorithm != attest.ECDSAP256 {
		t.Errorf("SEC1 P-256: %v", err)
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	for name, key := range map[string]any{"P-384": p384, "RSA": rsaKey} {
		der, _ := x509.MarshalPKCS8PrivateKey(key)
		pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
		_, err := attest.ParsePrivateKey(pemBytes)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		body := strings.Split(string(pemBytes), "\n")[1]
		if strings.Contains(err.Error(), body[:20]) {
			t.Errorf("%s: the error quotes the key: %v", name, err)
		}
	}
	for _, typ := range []string{"ENCRYPTED PRIVATE KEY", "CERTIFICATE", "PUBLIC KEY"} {
		if _, err := attest.ParsePrivateKey(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: []byte{1, 2, 3}})); err == nil {
			t.Errorf("%s: accepted", typ)
		}
	}
	if _, err := attest.ParsePrivateKey(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("garbage")})); err == nil {
		t.Error("garbage: accepted")
	}
}

func TestLoadSigner(t *testing.T) {
	dir := t.TempDir()
	first, src, err := attest.LoadSigner(attest.KeyConfig{DataDir: dir})
	if err != nil || !src.Created || src.Path != filepath.Join(dir, attest.KeyFile) {
		t.Fatalf("first start: %+v, %v", src, err)
	}
	st, err := os.Stat(src.Path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, %v; want 0600", st.Mode(), err)
	}
	if first.Public().Algorithm != attest.ECDSAP256 {
		t.Errorf("created a %s key, want ECDSA P-256", first.Public().Algorithm)
	}
	again, src, err := attest.LoadSigner(attest.KeyConfig{DataDir: dir})
	if err != nil || src.Created || again.Public().KeyID != first.Public().KeyID {
		t.Errorf("second start: %+v, %v (key %s, want %s)", src, err, again.Public().KeyID, first.Public().KeyID)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	if err := os.Chmod(src.Path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := attest.LoadSigner(attest.KeyConfig{DataDir: dir}); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable key in the data dir: %v", err)
	}

	// A supplied key wins over the data dir's, from the environment or a
	// file (a Kubernetes secret, mounted 0644).
	ed, edPEM := newKey(t, attest.Ed25519)
	s, src, err := attest.LoadSigner(attest.KeyConfig{PEM: edPEM, DataDir: dir})
	if err != nil || src.Path != "" || s.Public().KeyID != ed.Public().KeyID {
		t.Errorf("from PEM: %+v, %v", src, err)
	}
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(path, edPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	s, src, err = attest.LoadSigner(attest.KeyConfig{Path: path, DataDir: dir})
	if err != nil || src.Path != path || s.Public().KeyID != ed.Public().KeyID {
		t.Errorf("from a file: %+v, %v", src, err)
	}
	if _, _, err := attest.LoadSigner(attest.KeyConfig{PEM: edPEM, Path: path}); err == nil {
		t.Error("PEM and path both set: accepted")
	}
	if _, _, err := attest.LoadSigner(attest.KeyConfig{Path: filepath.Join(dir, "missing.pem"), DataDir: dir}); err == nil {
		t.Error("a missing supplied file: a key was created instead")
	}
	if _, _, err := attest.LoadSigner(attest.KeyConfig{}); err == nil {
		t.Error("no key and no data dir: accepted")
	}
	// Asked for Ed25519, the first start creates one.
	s, _, err = attest.LoadSigner(attest.KeyConfig{DataDir: t.TempDir(), Algorithm: attest.Ed25519})
	if err != nil || s.Public().Algorithm != attest.Ed25519 {
		t.Errorf("Ed25519 key: %v", err)
	}
}

// The keys docs/security.md tells operators to make with openssl load, and
// the key id is what openssl and sha256sum compute from the public key.
func TestOpenSSLKeysAreAccepted(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not installed")
	}
	for name, args := range map[string][]string{
		"ed25519": {"genpkey", "-algorithm", "ed25519"},
		"p256":    {"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "signing.pem")
			if out, err := exec.Command("openssl", append(args, "-out", path)...).CombinedOutput(); err != nil {
				t.Fatalf("openssl %v: %v\n%s", args, err, out)
			}
			s, _, err := attest.LoadSigner(attest.KeyConfig{Path: path})
			if err != nil {
				t.Fatal(err)
			}
			der, err := exec.Command("openssl", "pkey", "-in", path, "-pubout", "-outform", "DER").Output()
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(der)
			if id := hex.EncodeToString(sum[:]); s.Public().KeyID != id {
				t.Errorf("key id %s, openssl's public key hashes to %s", s.Public().KeyID, id)
			}
		})
	}
}
