// Command secretrules measures what the secrets check's extra rule sets
// (checks.SecretRuleSets; default: credential-files) add on clean trees:
// it scans each tree with gitleaks' default rules alone and with the rule
// set, lists every finding the rule set adds (its false-positive budget on
// these trees is zero: the command exits 1 when there is one) and times
// both scans, alternating, on the last tree: wall time and the process's
// CPU time, which a shared machine's load disturbs less.
//
// Run it from the repository root:
//
//	GOEXPERIMENT=jsonv2 go run ./bench/secretrules
//	GOEXPERIMENT=jsonv2 go run ./bench/secretrules -runs 5 -dirs DIR,DIR
//
// The default trees are Go's source ($(go env GOROOT)/src), this
// repository and trivy's source from the module cache; the timed one is
// trivy's. The scans run in-process through the secrets check itself
// (checks/secrets), with the same options as `gatehouse scan`. The
// machine's load average is printed with the times: these machines are
// shared.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/checks"
	"github.com/gatehouse/gatehouse/checks/secrets"
)

func main() {
	dirList := flag.String("dirs", "", "comma-separated trees to scan (default: Go's source, this repository, trivy's source); the last is timed")
	rules := flag.String("rules", checks.RulesCredentialFiles, "comma-separated extra rule sets")
	runs := flag.Int("runs", 3, "timed runs of each variant on the last tree (after one warm-up run of each)")
	flag.Parse()
	dirs := strings.Split(*dirList, ",")
	if *dirList == "" {
		var err error
		if dirs, err = defaultDirs(); err != nil {
			fail(err)
		}
	}
	s, err := secrets.New(secrets.Options{})
	if err != nil {
		fail(err)
	}
	extra := strings.Split(*rules, ",")
	ctx := context.Background()
	added := 0
	var plain, with, plainCPU, withCPU []time.Duration
	for i, dir := range dirs {
		base, _, _, err := scan(ctx, s, dir, nil)
		if err != nil {
			fail(err)
		}
		more, _, _, err := scan(ctx, s, dir, extra)
		if err != nil {
			fail(err)
		}
		diff := newFindings(base, more)
		added += len(diff)
		fmt.Printf("%s: %d files, %d findings with the default rules, %d with %s: %d added\n",
			dir, base.Scope.Files, len(base.Findings)+len(base.Suppressed), len(more.Findings)+len(more.Suppressed), *rules, len(diff))
		for _, f := range diff {
			fmt.Printf("  + %s %s\n", f.RuleID, f.Location())
		}
		if i < len(dirs)-1 {
			continue
		}
		for r := range *runs {
			// Alternate the variants so a change in load hits both.
			_, d1, c1, err := scan(ctx, s, dir, nil)
			if err != nil {
				fail(err)
			}
			_, d2, c2, err := scan(ctx, s, dir, extra)
			if err != nil {
				fail(err)
			}
			plain, with = append(plain, d1), append(with, d2)
			plainCPU, withCPU = append(plainCPU, c1), append(withCPU, c2)
			fmt.Printf("  run %d: default rules %v (CPU %v), with %s %v (CPU %v) (load %s)\n", r+1,
				d1.Round(time.Millisecond), c1.Round(time.Millisecond), *rules, d2.Round(time.Millisecond), c2.Round(time.Millisecond), load())
		}
	}
	if len(plain) > 0 {
		for _, m := range []struct {
			what string
			p, w []time.Duration
		}{{"wall time", plain, with}, {"CPU time", plainCPU, withCPU}} {
			p, w := median(m.p), median(m.w)
			fmt.Printf("%s on %s (median of %d): default rules %v, with %s %v: %+.1f%%\n",
				m.what, dirs[len(dirs)-1], len(m.p), p.Round(time.Millisecond), *rules, w.Round(time.Millisecond), 100*(float64(w)-float64(p))/float64(p))
		}
	}
	if added > 0 {
		fmt.Printf("FAIL: %s added %d finding(s) on clean trees\n", *rules, added)
		os.Exit(1)
	}
	fmt.Printf("ok: %s added no finding\n", *rules)
}

// scan runs the secrets check on dir and returns its result, wall time
// and the CPU time the process spent (user and system: on a shared
// machine the steadier figure).
func scan(ctx context.Context, s *secrets.Scanner, dir string, rules []string) (*checks.Result, time.Duration, time.Duration, error) {
	cpu0 := cpuTime()
	start := time.Now()
	r, err := s.Run(ctx, checks.Target{Dir: dir, SecretRules: rules})
	return r, time.Since(start), cpuTime() - cpu0, err
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// newFindings lists the findings (reported or suppressed) of more that
// base does not have.
func newFindings(base, more *checks.Result) []checks.Finding {
	seen := map[string]bool{}
	key := func(f checks.Finding) string { return f.Fingerprint + "@" + f.Location() }
	for _, f := range all(base) {
		seen[key(f)] = true
	}
	var out []checks.Finding
	for _, f := range all(more) {
		if !seen[key(f)] {
			out = append(out, f)
		}
	}
	return out
}

func all(r *checks.Result) []checks.Finding {
	out := slices.Clone(r.Findings)
	for _, s := range r.Suppressed {
		out = append(out, s.Finding)
	}
	return out
}

func defaultDirs() ([]string, error) {
	goroot, err := output("go", "env", "GOROOT")
	if err != nil {
		return nil, err
	}
	trivy, err := output("go", "list", "-m", "-f", "{{.Dir}}", "github.com/aquasecurity/trivy")
	if err != nil {
		return nil, err
	}
	repo, err := filepath.Abs(".")
	if err != nil {
		return nil, err
	}
	return []string{filepath.Join(goroot, "src"), repo, trivy}, nil
}

func output(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func load() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "secretrules:", err)
	os.Exit(2)
}
