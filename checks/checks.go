// Package checks is gatehouse's offline core contract: the normalized Finding
// every scanner reports, the Check interface each scanner implements, and the
// Target a check runs on. It knows nothing about GitHub.
package checks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// Names of the built-in checks; also the suffix of their check run names
// ("gatehouse/secrets").
const (
	Secrets      = "secrets"
	Dependencies = "dependencies"
	IaC          = "iac"
)

// Check is one scanner behind gatehouse. Adding a scanner is adding a package
// that implements this interface and one line in the registry.
type Check interface {
	// Name is the check's stable name (Secrets, Dependencies, IaC).
	Name() string
	// Engine describes the engine and the data it scans with.
	Engine() Engine
	// Run scans the target and returns what it found and what it looked at.
	// An error means the scan could not be completed; it is never a pass.
	Run(ctx context.Context, t Target) (*Result, error)
}

// Engine names a scanning engine and the versions of its code and data, so a
// verdict can say what it was computed with.
type Engine struct {
	Name        string `json:"name"`                   // "gitleaks", "trivy"
	Version     string `json:"version"`                // module version, e.g. "v8.30.1"
	DataVersion string `json:"data_version,omitempty"` // rules, check bundle or DB version
}

// Target is what a check scans: a checkout on disk and, for history-aware
// checks, a git commit range inside it.
type Target struct {
	// Dir is the root of the checkout. Checks must treat it as read-only and
	// must not follow symlinks out of it.
	Dir string `json:"dir"`
	// BaseRev and HeadRev, when HeadRev is set, name a git range base..head
	// in Dir's repository: the secrets check scans every commit the range
	// adds. BaseRev empty means "HeadRev and all its ancestors".
	BaseRev string `json:"base_rev,omitempty"`
	HeadRev string `json:"head_rev,omitempty"`
	// Paths, when non-empty, limits the scan to these slash-separated paths
	// relative to Dir (files or directories). Empty means the whole tree.
	Paths []string `json:"paths,omitempty"`
	// Custom are the org's and the repository's own Rego checks, which the
	// iac check runs besides its built-in ones. The parent reads them from
	// GitHub and hands them over with the target: the child that evaluates
	// them never fetches anything.
	Custom []CustomCheck `json:"custom,omitempty"`
	// Ignore are the tools' ignore files the checks honour (see
	// IgnoreFile). The checks read no ignore file from Dir: a target
	// without them suppresses only by inline comments.
	Ignore []IgnoreFile `json:"ignore,omitempty"`
	// SecretRules names the extra rule sets (SecretRuleSets) the secrets
	// check runs besides its default rules, as the policy's
	// checks.secrets.extra_rules asks. They change what is found, so they
	// are part of every cache key (verdict's optionsKey).
	SecretRules []string `json:"secret_rules,omitempty"`
}

// The extra rule sets of the secrets check, off unless the policy names
// them (checks.secrets.extra_rules).
const (
	// RulesCredentialFiles finds credentials in well-known configuration
	// files (.npmrc, .netrc, .pgpass, wp-config.php, …): see
	// docs/credential-files.md.
	RulesCredentialFiles = "credential-files"
)

// SecretRuleSets lists the extra rule sets a policy may name.
var SecretRuleSets = []string{RulesCredentialFiles}

// The origins of custom checks.
const (
	OriginOrg  = "org"  // the org's .github repository, default branch
	OriginRepo = "repo" // the repository itself, base branch
)

// CustomCheck is one Rego module in trivy's custom check format, as an org
// or a repository wrote it.
type CustomCheck struct {
	// Name says where the module came from
	// ("octo/.github:.github/gatehouse/checks/team-label.rego").
	Name   string `json:"name"`
	Origin string `json:"origin"` // OriginOrg or OriginRepo
	// Content is the module's source; SHA256 (hex) is the hash of its
	// bytes, computed by whoever read it.
	Content string `json:"content"`
	SHA256  string `json:"sha256"`
	// Rejected, when set, says why the module is not loaded at all (the
	// reader refused it: too large, not a regular file).
	Rejected string `json:"rejected,omitempty"`
}

// Limits on the custom checks one scan loads, applied by whoever reads them
// and again by the iac check.
const (
	MaxCustomChecks    = 100       // files, org and repository together
	MaxCustomCheckSize = 256 << 10 // bytes per file
)

// CustomCheckRejection says why one file of a custom checks directory is
// not loaded, or "" when it is to be read: kind is its type ("file" for a
// regular file; "symlink", "dir", "submodule"), size its bytes, admitted
// how many files of the directory were read before it. Whoever lists a
// checks directory (GitHub's contents API, a git tree) applies it, so the
// limits hold the same everywhere.
func CustomCheckRejection(kind string, size int64, admitted int) string {
	switch {
	case kind != "file":
		return "not a regular file (" + kind + ")"
	case size > MaxCustomCheckSize:
		return fmt.Sprintf("the file is %d bytes, over the %d byte limit", size, MaxCustomCheckSize)
	case admitted >= MaxCustomChecks:
		return fmt.Sprintf("more than %d custom checks in one directory: the rest are not loaded", MaxCustomChecks)
	}
	return ""
}

// CapCustomChecks rejects the checks past MaxCustomChecks (org and
// repository together).
func CapCustomChecks(cc []CustomCheck) []CustomCheck {
	for i := MaxCustomChecks; i < len(cc); i++ {
		cc[i].Content = ""
		cc[i].Rejected = fmt.Sprintf("more than %d custom checks (org and repository together): the rest are not loaded", MaxCustomChecks)
	}
	return cc
}

// IsCustomCheckFile reports whether a file name is a custom check: *.rego,
// not a *_test.rego test, not a dot file.
func IsCustomCheckFile(name string) bool {
	return strings.HasSuffix(name, ".rego") && !strings.HasSuffix(name, "_test.rego") && !strings.HasPrefix(name, ".")
}

// NewCustomCheck names a module read from origin and hashes its content.
func NewCustomCheck(name, origin string, content []byte) CustomCheck {
	sum := sha256.Sum256(content)
	return CustomCheck{Name: name, Origin: origin, Content: string(content), SHA256: hex.EncodeToString(sum[:])}
}

// CustomStatus is what became of one custom check in a scan.
type CustomStatus struct {
	Name   string `json:"name"`
	Origin string `json:"origin"`
	SHA256 string `json:"sha256"`
	// ID is the check's custom.id; empty for a library module (one with no
	// deny rule, used by checks).
	ID string `json:"id,omitempty"`
	// Rejected says why the check did not run, or did not finish (a refused
	// builtin, a compile error, its time budget); empty when it ran.
	Rejected string `json:"rejected,omitempty"`
	// Line is the line of the module the rejection is about (0: none).
	Line int `json:"line,omitempty"`
}

// Location is "name:line", or the name when there is no line.
func (c CustomStatus) Location() string {
	if c.Line > 0 {
		return fmt.Sprintf("%s:%d", c.Name, c.Line)
	}
	return c.Name
}

// Result is the outcome of one check on one target.
type Result struct {
	Check    string    `json:"check"`
	Engine   Engine    `json:"engine"`
	Findings []Finding `json:"findings"`
	// Suppressed lists findings an ignore convention (gitleaks:allow,
	// .gitleaksignore, .trivyignore, #trivy:ignore, policy exceptions)
	// suppressed; they are counted and shown, never silently dropped.
	Suppressed []Suppressed `json:"suppressed,omitempty"`
	Scope      Scope        `json:"scope"`
	// SBOM is the CycloneDX JSON document of the dependencies found (the
	// dependencies check only).
	SBOM []byte `json:"-"`
	// Custom says what became of each custom check the target carried (the
	// iac check only), in the order they were given.
	Custom []CustomStatus `json:"custom,omitempty"`
}

// RejectedCustom lists the custom checks that did not run or finish.
func (r *Result) RejectedCustom() []CustomStatus {
	var out []CustomStatus
	for _, c := range r.Custom {
		if c.Rejected != "" {
			out = append(out, c)
		}
	}
	return out
}

// Suppressed is a finding that was not reported, and why.
type Suppressed struct {
	Finding Finding `json:"finding"`
	Reason  string  `json:"reason"`
	// Via says what suppressed it: ViaInline, ViaIgnoreFile or ViaPolicy.
	Via string `json:"via,omitempty"`
	// FromChange marks a suppression the change under review brings (a
	// line it adds to an ignore file, an inline marker the base did not
	// have): a change must not weaken its own gate, so the policy decides
	// whether it applies (suppressions.from_change).
	FromChange bool `json:"from_change,omitempty"`
	// ApprovedBy names who approved a suppression from the change.
	ApprovedBy string `json:"approved_by,omitempty"`
}

// Scope says what a check looked at, so "scanned nothing" never looks like
// "found nothing".
type Scope struct {
	Commits int      `json:"commits,omitempty"` // commits scanned (secrets in git mode)
	Files   int      `json:"files"`             // files read
	Bytes   int64    `json:"bytes"`             // bytes read
	Inputs  []string `json:"inputs,omitempty"`  // lockfiles, manifests or IaC files read
	// Skipped lists files that were not scanned because a limit was hit
	// (too large, too deep), with the reason.
	Skipped []Skip `json:"skipped,omitempty"`
	// Notes are human sentences about the scope ("no lockfiles found").
	Notes []string `json:"notes,omitempty"`
}

// Skip is a file a check did not scan, and why.
type Skip struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
	// Limit is set when a limit kept the file from the check (too large,
	// nested too deep, expanding to too many YAML nodes), as opposed to a
	// file that is not scanned by design (a symlink, a special file). The
	// policy decides what a limit hit concludes (on_limit).
	Limit bool `json:"limit,omitempty"`
}

// Finding is one problem a check found, normalized across engines.
type Finding struct {
	Check    string   `json:"check"`
	RuleID   string   `json:"rule_id"` // gitleaks rule id, CVE/GHSA id, AVD id
	Severity Severity `json:"severity"`
	Title    string   `json:"title"`
	Message  string   `json:"message,omitempty"`
	File     string   `json:"file"` // slash-separated, relative to the target root
	// StartLine and EndLine are 1-based; 0 when the finding has no line
	// (a lockfile without line information).
	StartLine int `json:"start_line,omitempty"`
	EndLine   int `json:"end_line,omitempty"`
	// Commit is the commit a secret was found in (git mode only).
	Commit string `json:"commit,omitempty"`
	// Match is the redacted matched text (secrets only). Never the secret.
	Match string `json:"match,omitempty"`
	// Fingerprint identifies the finding independently of its line, so moved
	// code keeps its fingerprint (see Fingerprint).
	Fingerprint string      `json:"fingerprint"`
	Remediation Remediation `json:"remediation"`
	// Custom is the Name of the custom check that reported the finding;
	// empty for the engines' built-in rules. The policy judges custom
	// findings by its checks.custom settings.
	Custom string `json:"custom,omitempty"`
}

// Remediation tells the user how to fix a finding.
type Remediation struct {
	Text string `json:"text,omitempty"`
	URL  string `json:"url,omitempty"`
	// Dependencies only.
	Package          string `json:"package,omitempty"`
	InstalledVersion string `json:"installed_version,omitempty"`
	FixedVersion     string `json:"fixed_version,omitempty"`
}

// Location is "file:line" or "file" when the finding has no line.
func (f Finding) Location() string {
	if f.StartLine > 0 {
		return fmt.Sprintf("%s:%d", f.File, f.StartLine)
	}
	return f.File
}

// GitleaksID is the id gitleaks gives a secret finding and accepts, one a
// line, in .gitleaksignore: commit:file:rule:line for a finding in a commit,
// file:rule:line for one in a tree.
func (f Finding) GitleaksID() string {
	if f.Commit != "" {
		return fmt.Sprintf("%s:%s:%s:%d", f.Commit, f.File, f.RuleID, f.StartLine)
	}
	return fmt.Sprintf("%s:%s:%d", f.File, f.RuleID, f.StartLine)
}

// Fingerprint returns the stable, line-independent fingerprint of a finding:
// the SHA-256 of check, rule, path and a content key. The content key is
// whatever identifies the finding's substance without its position: the
// secret's hash for secrets, package@version for dependencies, the offending
// code for IaC. Moving code inside a file keeps the fingerprint.
func Fingerprint(check, rule, path, contentKey string) string {
	h := sha256.New()
	for _, s := range []string{check, rule, path, contentKey} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// NormalizeContent makes a content key insensitive to indentation and
// trailing whitespace, so re-indented code keeps its fingerprint.
func NormalizeContent(s string) string {
	lines := strings.Split(s, "\n")
	out := lines[:0]
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
