package attest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cyberphone/json-canonicalization/go/src/webpki.org/jsoncanonicalizer"
	intoto "github.com/in-toto/attestation/go/v1"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// What the envelopes hold.
const (
	// PayloadType is the DSSE payload type of an in-toto statement.
	PayloadType = "application/vnd.in-toto+json"
	// StatementType is the _type of an in-toto Statement v1.
	StatementType = intoto.StatementTypeUri
	// DigestGitCommit is the subject digest of a git commit.
	DigestGitCommit = string(intoto.AlgorithmGitCommit)
)

// ErrBadSignature is returned (wrapped) when no signature of an envelope
// verifies with the keys given.
var ErrBadSignature = errors.New("no signature verifies with the given keys")

// Statement is an in-toto Statement v1. Plain structs rather than the
// in-toto attestation library's protobuf types: protojson deliberately
// varies its output, and what is signed must be stable, canonical JSON.
// The tests hold every statement against that library's Validate.
type Statement struct {
	Type          string          `json:"_type"`
	Subject       []Subject       `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

// Subject is what a statement is about.
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// Marshal encodes the statement as canonical JSON (RFC 8785): the bytes
// that are signed.
func (st Statement) Marshal() ([]byte, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("encode statement: %w", err)
	}
	c, err := jsoncanonicalizer.Transform(b)
	if err != nil {
		return nil, fmt.Errorf("canonicalize statement: %w", err)
	}
	return c, nil
}

// check is what a verifier must see before trusting a statement's
// predicate: the v1 type, a subject with a digest, a predicate type and
// an object as predicate.
func (st Statement) check() error {
	if st.Type != StatementType {
		return fmt.Errorf("statement _type is %q, want %s", st.Type, StatementType)
	}
	if len(st.Subject) == 0 {
		return errors.New("statement has no subject")
	}
	for i, s := range st.Subject {
		if len(s.Digest) == 0 {
			return fmt.Errorf("statement subject %d has no digest", i+1)
		}
	}
	if st.PredicateType == "" {
		return errors.New("statement has no predicateType")
	}
	if p := bytes.TrimSpace(st.Predicate); len(p) == 0 || p[0] != '{' {
		return errors.New("statement predicate is not an object")
	}
	return nil
}

// Sign signs the statement and returns the DSSE envelope as JSON:
// {"payloadType": PayloadType, "payload": base64(statement), "signatures":
// [{"keyid": …, "sig": base64(signature of PAE(payloadType, statement))}]}.
func (s *Signer) Sign(ctx context.Context, st Statement) ([]byte, error) {
	if err := st.check(); err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	payload, err := st.Marshal()
	if err != nil {
		return nil, err
	}
	es, err := dsse.NewEnvelopeSigner(dsseKey{pub: s.pub, priv: s.priv})
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	env, err := es.SignPayload(ctx, PayloadType, payload)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	b, err := json.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("encode envelope: %w", err)
	}
	return b, nil
}

// Verified is an envelope whose signature checked out.
type Verified struct {
	// KeyID is the key whose signature verified.
	KeyID     string
	Statement Statement
	// Payload is the statement's exact signed bytes.
	Payload []byte
}

// Verify checks a DSSE envelope (JSON) against keys and decodes the
// in-toto statement it carries. It fails unless a signature verifies with
// one of the keys, the payload type is in-toto's, and the statement has a
// v1 type, a subject with a digest and a predicate.
func Verify(ctx context.Context, envelope []byte, keys []PublicKey) (*Verified, error) {
	var env dsse.Envelope
	if err := json.Unmarshal(envelope, &env); err != nil {
		return nil, fmt.Errorf("not a DSSE envelope: %w", err)
	}
	if env.PayloadType != PayloadType {
		return nil, fmt.Errorf("payloadType is %q, want %s", env.PayloadType, PayloadType)
	}
	if len(keys) == 0 {
		return nil, errors.New("no public key to verify with")
	}
	var vs []dsse.Verifier
	seen := map[string]bool{}
	for _, k := range keys {
		if !seen[k.KeyID] { // the library counts one key twice as a warning on stdout
			seen[k.KeyID] = true
			vs = append(vs, dsseKey{pub: k})
		}
	}
	ev, err := dsse.NewEnvelopeVerifier(vs...)
	if err != nil {
		return nil, err
	}
	accepted, payload, err := ev.VerifyAndDecode(ctx, &env)
	if err != nil || len(accepted) == 0 {
		if errors.Is(err, dsse.ErrNoSignature) {
			return nil, fmt.Errorf("%w: the envelope has no signature", ErrBadSignature)
		}
		return nil, fmt.Errorf("%w (%d key(s) tried)", ErrBadSignature, len(vs))
	}
	var st Statement
	if err := json.Unmarshal(payload, &st); err != nil {
		return nil, fmt.Errorf("signed payload is not an in-toto statement: %w", err)
	}
	if err := st.check(); err != nil {
		return nil, err
	}
	return &Verified{KeyID: accepted[0].KeyID, Statement: st, Payload: payload}, nil
}

// dsseKey adapts a key to dsse.Signer and dsse.Verifier.
type dsseKey struct {
	pub  PublicKey
	priv crypto.Signer // nil when verifying
}

var (
	_ dsse.Signer   = dsseKey{}
	_ dsse.Verifier = dsseKey{}
)

func (k dsseKey) KeyID() (string, error)   { return k.pub.KeyID, nil }
func (k dsseKey) Public() crypto.PublicKey { return k.pub.key }

func (k dsseKey) Sign(_ context.Context, data []byte) ([]byte, error) {
	if k.priv == nil {
		return nil, errors.New("no private key")
	}
	switch k.pub.Algorithm {
	case ECDSAP256:
		sum := sha256.Sum256(data)
		return k.priv.Sign(rand.Reader, sum[:], crypto.SHA256) // ASN.1 DER
	case Ed25519:
		return k.priv.Sign(nil, data, crypto.Hash(0))
	}
	return nil, fmt.Errorf("sign: unknown algorithm %q", k.pub.Algorithm)
}

func (k dsseKey) Verify(_ context.Context, data, sig []byte) error {
	switch pub := k.pub.key.(type) {
	case *ecdsa.PublicKey:
		sum := sha256.Sum256(data)
		if ecdsa.VerifyASN1(pub, sum[:], sig) {
			return nil
		}
	case ed25519.PublicKey:
		if ed25519.Verify(pub, data, sig) {
			return nil
		}
	}
	return ErrBadSignature
}
