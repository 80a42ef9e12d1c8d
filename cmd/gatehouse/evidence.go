package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/app/evidence"
	"github.com/gatehouse/gatehouse/app/store"
)

// newEvidence is `gatehouse evidence verify|export|keys|verify-attestation`:
// check the evidence chains, export the records (or their signed
// attestations) for audits and SIEMs, and verify attestations offline.
func newEvidence() *cobra.Command {
	var dataDir, dbURL string
	cmd := &cobra.Command{
		Use:   "evidence",
		Short: "Check the tamper-evident evidence of every verdict, and export it",
	}
	envString(cmd.PersistentFlags(), &dataDir, "data-dir", "GATEHOUSE_DATA_DIR", defaultDataDir(), "data directory")
	envString(cmd.PersistentFlags(), &dbURL, "database-url", "GATEHOUSE_DATABASE_URL", "", "empty for SQLite in the data dir, or postgres://…")
	open := func(cmd *cobra.Command) (*evidence.Recorder, func(), error) {
		// Read-only beside a running serve (SQLite's WAL lets readers in);
		// a data directory without a store yet gets an empty one.
		_, statErr := os.Stat(filepath.Join(dataDir, store.SQLiteFile))
		st, err := store.Open(cmd.Context(), store.Config{URL: dbURL, DataDir: dataDir, ReadOnly: statErr == nil})
		if err != nil {
			return nil, nil, err
		}
		rec, err := evidence.New(cmd.Context(), evidence.Config{Store: st})
		if err != nil {
			_ = st.Close()
			return nil, nil, err
		}
		return rec, func() { _ = st.Close() }, nil
	}

	var repo string
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Walk each repository's evidence chain and report the first broken link (exit 1 when one is broken)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rec, closeStore, err := open(cmd)
			if err != nil {
				return err
			}
			defer closeStore()
			var vs []evidence.Verification
			if repo != "" {
				v, err := rec.Verify(cmd.Context(), repo)
				if errors.Is(err, evidence.ErrNotFound) {
					return fmt.Errorf("no evidence is recorded for %s", repo)
				}
				if err != nil {
					return err
				}
				vs = append(vs, v)
			} else if vs, err = rec.VerifyAll(cmd.Context()); err != nil {
				return err
			}
			return printVerifications(cmd, vs)
		},
	}
	verify.Flags().StringVar(&repo, "repo", "", "verify only this repository (OWNER/NAME)")

	var since, outFormat string
	var attestations bool
	export := &cobra.Command{
		Use:   "export",
		Short: `Write the evidence records as JSON lines, oldest first: {"hash": …, "record": {…}} per line`,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if outFormat != "jsonl" {
				return fmt.Errorf("--format %q: only jsonl is supported", outFormat)
			}
			f := evidence.ExportFilter{Repo: repo}
			if since != "" {
				t, err := parseSinceFlag(since, time.Now())
				if err != nil {
					return err
				}
				f.Since = t
			}
			rec, closeStore, err := open(cmd)
			if err != nil {
				return err
			}
			defer closeStore()
			if attestations {
				n, err := rec.ExportAttestations(cmd.Context(), cmd.OutOrStdout(), f)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "exported %d attestations\n", n)
				return nil
			}
			n, err := rec.Export(cmd.Context(), cmd.OutOrStdout(), f)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "exported %d records\n", n)
			return nil
		},
	}
	export.Flags().StringVar(&repo, "repo", "", "export only this repository (OWNER/NAME)")
	export.Flags().StringVar(&since, "since", "", "export records from this time on: 2026-01-31, 2026-01-31T12:00:00Z, or an age (30d, 12h)")
	export.Flags().StringVar(&outFormat, "format", "jsonl", "output format (jsonl)")
	export.Flags().BoolVar(&attestations, "attestations", false, "write the records' signed attestations instead: one DSSE envelope a line (an in-toto bundle)")

	keys := &cobra.Command{
		Use:   "keys",
		Short: "Print every public key verdicts were signed with (PEM, newest first), for verify-attestation --key",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rec, closeStore, err := open(cmd)
			if err != nil {
				return err
			}
			defer closeStore()
			ks, err := rec.SigningKeys(cmd.Context())
			if err != nil {
				return err
			}
			if len(ks) == 0 {
				return errors.New("no signing key is listed yet: gatehouse serve (worker or all role) lists its key when it starts")
			}
			for _, k := range ks {
				fmt.Fprintf(cmd.OutOrStdout(), "# key id %s, %s, signing since %s\n%s", k.KeyID, k.Algorithm, k.AddedAt.Format(time.RFC3339), k.PublicKey)
			}
			return nil
		},
	}
	cmd.AddCommand(verify, export, keys, newVerifyAttestation())
	return cmd
}

// printVerifications prints one line per repository, and exits 1 when a
// chain is broken.
func printVerifications(cmd *cobra.Command, vs []evidence.Verification) error {
	out := bufio.NewWriter(cmd.OutOrStdout())
	defer out.Flush()
	if len(vs) == 0 {
		fmt.Fprintln(out, "no evidence recorded yet")
		return nil
	}
	broken := 0
	for _, v := range vs {
		if v.OK {
			first := v.AnchorSeq + 1
			line := fmt.Sprintf("ok      %s: %d records (%d–%d), head %s", v.Repo, v.Records, first, v.HeadSeq, v.HeadHash)
			if v.Records == 0 {
				line = fmt.Sprintf("ok      %s: no records (all pruned), anchor %s", v.Repo, v.AnchorHash)
			}
			if v.AnchorSeq > 0 {
				line += fmt.Sprintf(" (records up to %d pruned by retention)", v.AnchorSeq)
			}
			fmt.Fprintln(out, line)
			continue
		}
		broken++
		b := v.Broken
		where := fmt.Sprintf("record %d", b.Seq)
		if b.ID != "" {
			where += " (id " + b.ID + ")"
		}
		fmt.Fprintf(out, "BROKEN  %s: at %s: %s\n", v.Repo, where, b.Reason)
	}
	if broken > 0 {
		fmt.Fprintf(out, "%d of %d chains are broken: the evidence was changed outside gatehouse\n", broken, len(vs))
		return exitError{1}
	}
	return nil
}

// parseSinceFlag reads --since: a date, an RFC 3339 time, or an age before
// now ("30d", "12h").
func parseSinceFlag(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if _, err := fmt.Sscanf(days, "%d", &n); err == nil && n >= 0 && fmt.Sprint(n) == days {
			return now.Add(-time.Duration(n) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("--since %q: want a date (2026-01-31), an RFC 3339 time or an age (30d, 12h)", s)
}
