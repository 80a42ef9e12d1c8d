package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/app/evidence"
	"github.com/gatehouse/gatehouse/app/evidence/attest"
)

// maxAttestationInput bounds what verify-attestation reads (an export of
// many SBOM statements can be large, but not unbounded).
const maxAttestationInput = 4 << 30

// newVerifyAttestation is `gatehouse evidence verify-attestation FILE
// --key PUB`: check signed attestations offline, without the store.
func newVerifyAttestation() *cobra.Command {
	var keyFiles []string
	var commit string
	cmd := &cobra.Command{
		Use:   "verify-attestation FILE",
		Short: "Verify signed attestations (a DSSE envelope, an export's JSON lines or the API's list) with public keys, offline; exit 1 when one fails",
		Long: `Verify signed attestations offline, with public keys only: no store, no server.

FILE ("-" for standard input) holds one DSSE envelope (GET /api/v1/verdicts/{id}/attestation),
the JSON lines of "gatehouse evidence export --attestations", or the answer of
GET /api/v1/verdicts/{id}/attestations. Each --key is a PEM file with one or more public
keys (GET /api/v1/keys, or "gatehouse evidence keys"). An envelope verifies when a
signature verifies with one of the keys and it carries an in-toto Statement v1 with a
subject; with --commit, its subject must also be that commit.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(keyFiles) == 0 {
				return errors.New("--key is required: a PEM file with the public key(s) to trust")
			}
			var keys []attest.PublicKey
			for _, f := range keyFiles {
				b, err := os.ReadFile(f)
				if err != nil {
					return fmt.Errorf("--key: %w", err)
				}
				ks, err := attest.ParsePublicKeys(b)
				if err != nil {
					return fmt.Errorf("--key %s: %w", f, err)
				}
				keys = append(keys, ks...)
			}
			envs, err := readEnvelopes(cmd, args[0])
			if err != nil {
				return err
			}
			return printAttestations(cmd, envs, keys, strings.ToLower(commit))
		},
	}
	cmd.Flags().StringArrayVar(&keyFiles, "key", nil, "PEM file of trusted public keys (repeat for several files)")
	cmd.Flags().StringVar(&commit, "commit", "", "require every attestation's subject to be this commit (full SHA)")
	return cmd
}

// readEnvelopes reads the envelopes of FILE: JSON values one after the
// other, each an envelope or an {"attestations": [...]} answer.
func readEnvelopes(cmd *cobra.Command, name string) ([]json.RawMessage, error) {
	var r io.Reader = cmd.InOrStdin()
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	dec := json.NewDecoder(bufio.NewReader(io.LimitReader(r, maxAttestationInput)))
	var out []json.RawMessage
	for n := 1; ; n++ {
		var v json.RawMessage
		if err := dec.Decode(&v); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("%s: value %d is not JSON: %w", name, n, err)
		}
		var list struct {
			Attestations []evidence.Attestation `json:"attestations"`
		}
		if json.Unmarshal(v, &list) == nil && list.Attestations != nil {
			for _, a := range list.Attestations {
				out = append(out, a.Envelope)
			}
			continue
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no attestation found", name)
	}
	return out, nil
}

// printAttestations verifies each envelope and prints one line for it,
// then a summary; it exits 1 when one fails.
func printAttestations(cmd *cobra.Command, envs []json.RawMessage, keys []attest.PublicKey, commit string) error {
	out := bufio.NewWriter(cmd.OutOrStdout())
	defer out.Flush()
	failed := 0
	for i, env := range envs {
		v, err := attest.Verify(cmd.Context(), env, keys)
		if err == nil && commit != "" && !aboutCommit(v.Statement, commit) {
			err = fmt.Errorf("its subject is not commit %s", commit)
		}
		if err != nil {
			failed++
			fmt.Fprintf(out, "FAILED  #%d: %v\n", i+1, err)
			continue
		}
		fmt.Fprintf(out, "ok      #%d %s\n", i+1, describe(v))
	}
	if failed > 0 {
		fmt.Fprintf(out, "%d of %d attestations failed verification: do not trust them\n", failed, len(envs))
		return exitError{1}
	}
	fmt.Fprintf(out, "%d of %d attestations verified\n", len(envs), len(envs))
	return nil
}

func aboutCommit(st attest.Statement, sha string) bool {
	for _, s := range st.Subject {
		if strings.EqualFold(s.Digest[attest.DigestGitCommit], sha) {
			return true
		}
	}
	return false
}

// describe is what a verified statement says, on one line.
func describe(v *attest.Verified) string {
	st := v.Statement
	s := st.Subject[0] // Verify refuses a statement without one
	subject := s.Name
	if c := s.Digest[attest.DigestGitCommit]; c != "" {
		subject += "@" + c
	}
	what := st.PredicateType
	switch st.PredicateType {
	case evidence.VerdictPredicateType:
		var p evidence.VerdictPredicate
		if err := json.Unmarshal(st.Predicate, &p); err == nil {
			var cs []string
			for _, c := range p.Checks {
				cs = append(cs, c.Name+" "+c.Conclusion)
			}
			what = fmt.Sprintf("verdict %s (%s), evidence %s seq %d", p.Decision, strings.Join(cs, ", "), p.Evidence.ID, p.Evidence.Seq)
		}
	case evidence.SBOMPredicateType:
		var bom struct {
			SpecVersion string            `json:"specVersion"`
			Components  []json.RawMessage `json:"components"`
		}
		if err := json.Unmarshal(st.Predicate, &bom); err == nil {
			what = fmt.Sprintf("SBOM CycloneDX %s, %d top-level component", bom.SpecVersion, len(bom.Components))
			if len(bom.Components) != 1 {
				what += "s"
			}
		}
	}
	return fmt.Sprintf("%s  %s  key %s", subject, what, v.KeyID)
}
