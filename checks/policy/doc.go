// Package policy loads, validates, merges, enforces, explains and evaluates
// gatehouse's policy file, .github/gatehouse.yml. It is pure: no GitHub, no
// clock and no disk (except Load, a convenience for reading one file).
//
// The flow is Parse (or Load) each file, Resolve the layers (built-in
// defaults < server file < org file < repo file) into a Policy, then
// Evaluate scan results against it into one checks.Verdict per check.
//
// # The file (version 1)
//
//	version: 1                     # required
//	checks:
//	  secrets:      { mode: block, extra_rules: [], paths: { ignore: ["vendor/**"] } }
//	  dependencies: { mode: block, min_severity: high, only_fixed: false, paths: { ignore: [] } }
//	  iac:          { mode: block, min_severity: high, paths: { ignore: [] } }
//	  custom:       { mode: block, min_severity: high, paths: { ignore: [] } }
//	new_findings_only: true        # only findings the change introduces block
//	on_error: fail                 # fail | neutral: a scan that cannot complete
//	on_limit: fail                 # fail | neutral: files a limit kept from a check
//	report:
//	  review_comments: true
//	  review_event: REQUEST_CHANGES  # or COMMENT
//	  summary_comment: true
//	  sarif_upload: false
//	suppressions:
//	  from_change: approval        # approval | allow | deny: suppressions a change adds for its own findings
//	  approvers: []                # users or org/teams who may approve them (none: any writer but the author)
//	exceptions:
//	  - id: CVE-2023-1234          # rule id, CVE/GHSA id, AVD id or finding fingerprint
//	    paths: ["legacy/**"]       # optional: only findings in these paths
//	    reason: "not reachable"    # required
//	    owner: "@team-sec"         # optional
//	    expires: 2026-12-31        # optional: applies through this day (UTC)
//	enforce: [checks.secrets.mode, checks.iac.min_severity, exceptions]  # org file only
//	environments:                  # deployments: overlays per environment (names ignore case)
//	  production:                  # the same keys as above but version, enforce, environments
//	    new_findings_only: false
//
// checks.custom holds the settings of the custom Rego checks an org or a
// repository adds (.github/gatehouse/checks): their findings are reported
// in the iac verdict but judged by these settings, mode off does not load
// them, and a custom check that could not run fails the iac verdict in
// block mode (unless on_error is neutral). With checks.iac.mode off and
// custom checks given, the iac verdict judges the custom findings alone.
//
// Modes are block, warn or off; severities critical, high, medium, low or
// info (lower case). Path globs are doublestar patterns relative to the
// repository root ("**" crosses directories). Secrets have no min_severity:
// every secret blocks; only_fixed exists for dependencies only.
// checks.secrets.extra_rules names extra gitleaks rule sets the secrets
// check runs besides the default rules (checks.SecretRuleSets:
// credential-files).
//
// # Defaults
//
//	setting                          default           enforce may only
//	checks.secrets.mode              block             raise (off < warn < block)
//	checks.secrets.extra_rules       []                grow (superset)
//	checks.secrets.paths.ignore      []                shrink (subset)
//	checks.dependencies.mode         block             raise
//	checks.dependencies.min_severity high              lower (info < low < medium < high < critical)
//	checks.dependencies.only_fixed   false             go true → false
//	checks.dependencies.paths.ignore []                shrink
//	checks.iac.mode                  block             raise
//	checks.iac.min_severity          high              lower
//	checks.iac.paths.ignore          []                shrink
//	checks.custom.mode               block             raise
//	checks.custom.min_severity       high              lower
//	checks.custom.paths.ignore       []                shrink
//	new_findings_only                true              go true → false
//	on_error                         fail              go neutral → fail
//	on_limit                         fail              go neutral → fail
//	report.review_comments           true              not change (locked)
//	report.review_event              REQUEST_CHANGES   not change (locked)
//	report.summary_comment           true              not change (locked)
//	report.sarif_upload              false             not change (locked)
//	suppressions.from_change         approval          tighten (allow < approval < deny)
//	suppressions.approvers           []                name some, then only shrink
//	exceptions                       none              not be added to by the repo
//
// # Layers and enforce
//
// A higher layer replaces the values a lower one set (lists such as
// paths.ignore are replaced, not appended); exceptions add up across
// layers. The org file's enforce list names settings, or a prefix of them
// ("checks.iac", "report", "checks"), that the repo file may only tighten,
// as the table says. "exceptions" in enforce makes the repo file's
// exceptions ignored; to let repos add exceptions, leave it out. A repo
// value the org holds back is not an error (that would fail open or break
// every pull request): the org's value stays and Policy.Notes, Explain and
// the verdicts say what was held. enforce in a server or repo file is
// ignored with a note.
//
// # Environments
//
// environments.<name> overlays are not part of a layer's own values:
// Policy.Environment lays each layer's overlay for the name over the
// resolved policy (server, org, repo), when a deployment to that
// environment is decided. The org's enforce list binds the repo's
// overlays as it binds the repo's top level.
package policy
