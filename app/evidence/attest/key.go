// Package attest signs and verifies gatehouse's attestations: in-toto
// Statements v1 in DSSE envelopes, signed with the installation's signing
// key (ECDSA P-256 or Ed25519). It knows nothing about evidence records;
// package evidence decides what the statements say.
//
// The envelope code is go-securesystemslib's dsse package, the reference
// Go implementation of DSSE that in-toto and sigstore use; this package
// adds the keys (PEM in, key ids out) and the checks a verifier should
// make on the statement inside.
package attest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// Algorithm names a signing algorithm as the API and the docs show it.
type Algorithm string

// The algorithms gatehouse signs with. ECDSA signatures are ASN.1 DER
// over the SHA-256 of the DSSE pre-authentication encoding (what cosign,
// openssl dgst -sha256 and python's cryptography expect); Ed25519 signs
// the encoding itself.
const (
	ECDSAP256 Algorithm = "ecdsa-p256-sha256"
	Ed25519   Algorithm = "ed25519"
)

// PublicKey is a verification key: its id, algorithm and PEM
// (SubjectPublicKeyInfo, "PUBLIC KEY").
type PublicKey struct {
	// KeyID is the hex SHA-256 of the key's DER SubjectPublicKeyInfo:
	// anyone can recompute it (openssl pkey -pubin -outform DER | sha256sum).
	KeyID     string
	Algorithm Algorithm
	PEM       string
	key       crypto.PublicKey
}

// Signer is the installation's signing key. It signs DSSE envelopes only
// (SignStatement); the private key never leaves it.
type Signer struct {
	priv crypto.Signer
	pub  PublicKey
}

// Public is the signer's public key.
func (s *Signer) Public() PublicKey { return s.pub }

// GenerateKey makes a new signing key and returns it with its PKCS#8 PEM.
func GenerateKey(alg Algorithm) (*Signer, []byte, error) {
	var priv crypto.Signer
	switch alg {
	case ECDSAP256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, fmt.Errorf("generate signing key: %w", err)
		}
		priv = k
	case Ed25519:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, nil, fmt.Errorf("generate signing key: %w", err)
		}
		priv = k
	default:
		return nil, nil, fmt.Errorf("generate signing key: unknown algorithm %q (want %s or %s)", alg, ECDSAP256, Ed25519)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, fmt.Errorf("encode signing key: %w", err)
	}
	s, err := newSigner(priv)
	if err != nil {
		return nil, nil, err
	}
	return s, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParsePrivateKey reads a signing key from PEM: PKCS#8 ("PRIVATE KEY")
// holding an ECDSA P-256 or Ed25519 key, or SEC1 ("EC PRIVATE KEY").
// Errors never quote the key.
func ParsePrivateKey(b []byte) (*Signer, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("signing key: no PEM block found (want -----BEGIN PRIVATE KEY-----)")
	}
	var (
		key any
		err error
	)
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "ENCRYPTED PRIVATE KEY", "ENCRYPTED SIGSTORE PRIVATE KEY":
		return nil, fmt.Errorf("signing key: %s is not supported: store it unencrypted (openssl pkey -in KEY -out PLAIN) and protect the file or secret instead", block.Type)
	default:
		return nil, fmt.Errorf("signing key: PEM block %q is not a private key (want PRIVATE KEY or EC PRIVATE KEY)", block.Type)
	}
	if err != nil {
		return nil, errors.New("signing key: the PEM block does not hold a valid key")
	}
	priv, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("signing key: %T keys are not supported (want ECDSA P-256 or Ed25519)", key)
	}
	return newSigner(priv)
}

func newSigner(priv crypto.Signer) (*Signer, error) {
	pub, err := newPublicKey(priv.Public())
	if err != nil {
		return nil, err
	}
	return &Signer{priv: priv, pub: pub}, nil
}

// newPublicKey checks that key is one gatehouse signs with and describes it.
func newPublicKey(key crypto.PublicKey) (PublicKey, error) {
	var alg Algorithm
	switch k := key.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return PublicKey{}, fmt.Errorf("ECDSA key on %s: only P-256 is supported", k.Curve.Params().Name)
		}
		alg = ECDSAP256
	case ed25519.PublicKey:
		alg = Ed25519
	default:
		return PublicKey{}, fmt.Errorf("%T keys are not supported (want ECDSA P-256 or Ed25519)", key)
	}
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		return PublicKey{}, fmt.Errorf("encode public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return PublicKey{
		KeyID: hex.EncodeToString(sum[:]), Algorithm: alg, key: key,
		PEM: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
	}, nil
}

// ParsePublicKeys reads every "PUBLIC KEY" block of b (a file may list
// the current key and the ones it replaced). Other blocks are an error, so
// a private key passed by mistake is refused, not silently used.
func ParsePublicKeys(b []byte) ([]PublicKey, error) {
	var out []PublicKey
	for n := 1; ; n++ {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		if block.Type != "PUBLIC KEY" {
			if strings.Contains(block.Type, "PRIVATE") {
				return nil, fmt.Errorf("public key %d: this is a private key; pass the public key (openssl pkey -in KEY -pubout)", n)
			}
			return nil, fmt.Errorf("public key %d: PEM block %q (want PUBLIC KEY)", n, block.Type)
		}
		key, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("public key %d: %w", n, err)
		}
		pk, err := newPublicKey(key)
		if err != nil {
			return nil, fmt.Errorf("public key %d: %w", n, err)
		}
		out = append(out, pk)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM public key found (want -----BEGIN PUBLIC KEY-----)")
	}
	return out, nil
}
