package attest

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// KeyFile is the signing key's file in the data directory, created on
// first start when no key is supplied.
const KeyFile = "evidence-signing-key.pem"

// KeyConfig says where the signing key comes from: PEM
// (GATEHOUSE_SIGNING_KEY) or Path (GATEHOUSE_SIGNING_KEY_PATH, a mounted
// Kubernetes secret for example), else DataDir/KeyFile, which is created
// when missing.
type KeyConfig struct {
	PEM     []byte
	Path    string
	DataDir string
	// Algorithm of a created key; ECDSAP256 when empty (what cosign,
	// openssl and every DSSE verifier handle).
	Algorithm Algorithm
}

// KeySource says where LoadSigner found the key, for the start-up log.
type KeySource struct {
	Path    string // the file, or "" for a key from the environment
	Created bool   // the key was generated now
}

// LoadSigner returns the signing key KeyConfig names, creating
// DataDir/KeyFile (mode 0600) when no key is supplied and none exists.
// Two processes creating it at once end up with the same key: the file
// appears whole or not at all, and the loser reads the winner's.
func LoadSigner(cfg KeyConfig) (*Signer, KeySource, error) {
	switch {
	case len(cfg.PEM) > 0 && cfg.Path != "":
		return nil, KeySource{}, errors.New("signing key: set GATEHOUSE_SIGNING_KEY or GATEHOUSE_SIGNING_KEY_PATH, not both")
	case len(cfg.PEM) > 0:
		s, err := ParsePrivateKey(cfg.PEM)
		return s, KeySource{}, err
	case cfg.Path != "":
		s, err := readKeyFile(cfg.Path, false)
		return s, KeySource{Path: cfg.Path}, err
	case cfg.DataDir == "":
		return nil, KeySource{}, errors.New("signing key: no key given and no data directory to keep one in")
	}
	path := filepath.Join(cfg.DataDir, KeyFile)
	s, err := readKeyFile(path, true)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return s, KeySource{Path: path}, err
	}
	alg := cfg.Algorithm
	if alg == "" {
		alg = ECDSAP256
	}
	s, pemBytes, err := GenerateKey(alg)
	if err != nil {
		return nil, KeySource{}, err
	}
	created, err := createExclusive(path, pemBytes)
	if err != nil {
		return nil, KeySource{}, err
	}
	if !created {
		s, err = readKeyFile(path, true)
		return s, KeySource{Path: path}, err
	}
	return s, KeySource{Path: path, Created: true}, nil
}

// readKeyFile reads a PEM signing key. A key gatehouse keeps in its data
// directory must not be readable by anyone else (as ssh insists for its
// keys); a supplied file is the operator's to protect (a Kubernetes secret
// is mounted 0644 unless told otherwise).
func readKeyFile(path string, own bool) (*Signer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	if own && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("signing key %s: mode %04o lets others read it: chmod 600 %s", path, st.Mode().Perm(), path)
	}
	b, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	s, err := ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// createExclusive writes b to path with mode 0600 unless path exists. The
// content goes to a temporary file first and is linked into place, so no
// reader ever sees a partial key. It reports whether it created path.
func createExclusive(path string, b []byte) (bool, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return false, fmt.Errorf("create signing key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close()
		return false, fmt.Errorf("create signing key: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		_ = tmp.Close()
		return false, fmt.Errorf("create signing key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return false, fmt.Errorf("create signing key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return false, fmt.Errorf("create signing key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		return false, fmt.Errorf("create signing key: %w", err)
	}
	return true, nil
}
