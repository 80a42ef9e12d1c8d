package secrets

import (
	"crypto/sha256"
	_ "embed" // the extra rule sets
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"runtime/debug"
	"slices"
	"strings"
	"sync"

	"github.com/spf13/viper"
	"github.com/zricethezav/gitleaks/v8/config"

	"github.com/gatehouse/gatehouse/checks"
)

const (
	// gitleaksModule is the module path whose version Engine reports.
	gitleaksModule = "github.com/zricethezav/gitleaks/v8"
	// gitleaksVersion is reported when the binary carries no build info
	// (keep it equal to the version pinned in go.mod).
	gitleaksVersion = "v8.30.1"
)

// ruleSet is gitleaks' default configuration, compiled once per process and
// shared read-only by every Scanner.
type ruleSet struct {
	cfg config.Config
	// dataVersion is a short hash of the embedded rules files (the default
	// rules and every extra rule set), so a verdict says which rules it was
	// computed with. It does not depend on the extra rule sets a target
	// asks for: those are part of the target's options, and of the cache
	// keys built from them.
	dataVersion string
}

// credentialFilesTOML is the credential-files rule set, in gitleaks' own
// configuration format.
//
//go:embed rules/credential-files.toml
var credentialFilesTOML string

// extraRuleFiles are the extra rule sets a target may ask for
// (checks.Target.SecretRules), by name (checks.SecretRuleSets).
var extraRuleFiles = map[string]string{
	checks.RulesCredentialFiles: credentialFilesTOML,
}

// defaultRules loads and compiles the rules once per process. The regular
// expressions of ~220 rules take tens of milliseconds to compile; every
// Scanner after the first reuses them. It also routes gitleaks' own logger
// to slog, which gitleaks only offers as a package variable.
var defaultRules = sync.OnceValues(func() (*ruleSet, error) {
	routeGitleaksLogs()
	return loadDefaultRules()
})

// extraRules compiles every extra rule set once per process.
var extraRules = sync.OnceValues(func() (map[string]config.Config, error) {
	out := map[string]config.Config{}
	for name, src := range extraRuleFiles {
		cfg, err := parseConfig(src)
		if err != nil {
			return nil, fmt.Errorf("rule set %s: %w", name, err)
		}
		if len(cfg.Allowlists) > 0 {
			// A global allowlist would apply to the default rules too.
			return nil, fmt.Errorf("rule set %s: a global [[allowlists]] entry must name its targetRules", name)
		}
		out[name] = cfg
	}
	return out, nil
})

// loadDefaultRules parses gitleaks' embedded default config.
func loadDefaultRules() (*ruleSet, error) {
	cfg, err := parseConfig(config.DefaultConfig)
	if err != nil {
		return nil, fmt.Errorf("gitleaks default config: %w", err)
	}
	h := sha256.New()
	h.Write([]byte(config.DefaultConfig))
	for _, name := range slices.Sorted(maps.Keys(extraRuleFiles)) {
		h.Write([]byte{0})
		h.Write([]byte(name))
		h.Write([]byte{0})
		h.Write([]byte(extraRuleFiles[name]))
	}
	return &ruleSet{cfg: cfg, dataVersion: hex.EncodeToString(h.Sum(nil)[:6])}, nil
}

// parseConfig parses and compiles a gitleaks TOML configuration. gitleaks'
// own loader (detect.NewDetectorDefaultConfig) goes through the global
// viper; this uses a private viper instance so no global configuration is
// touched. The configuration may not extend another ([extend] reads
// through the global viper).
func parseConfig(src string) (config.Config, error) {
	v := viper.New()
	v.SetConfigType("toml")
	if err := v.ReadConfig(strings.NewReader(src)); err != nil {
		return config.Config{}, fmt.Errorf("read: %w", err)
	}
	var vc config.ViperConfig
	if err := v.Unmarshal(&vc); err != nil {
		return config.Config{}, fmt.Errorf("decode: %w", err)
	}
	if vc.Extend.UseDefault || vc.Extend.Path != "" || vc.Extend.URL != "" {
		return config.Config{}, errors.New("[extend] is not supported")
	}
	cfg, err := translate(&vc)
	if err != nil {
		return config.Config{}, fmt.Errorf("compile: %w", err)
	}
	// Translate copies the global viper's config file name into Path, and
	// the detector skips any scanned file with that name. We load no file.
	cfg.Path = ""
	return cfg, nil
}

// translate compiles the rules; gitleaks panics on a regular expression
// that does not compile.
func translate(vc *config.ViperConfig) (cfg config.Config, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return vc.Translate()
}

// extraConfig returns the rules of the named extra rule sets (each rule
// keeps its own allowlists) under base's global allowlist, which applies
// to every rule as it does to the default ones. Every rule must have a
// path: the extra detector runs only where one admits the file.
func extraConfig(base config.Config, names []string) (config.Config, error) {
	extra, err := extraRules()
	if err != nil {
		return config.Config{}, err
	}
	out := config.Config{Rules: map[string]config.Rule{}, Keywords: map[string]struct{}{}, Allowlists: base.Allowlists}
	for _, name := range names {
		cfg, ok := extra[name]
		if !ok {
			return config.Config{}, fmt.Errorf("unknown rule set %q (known: %s)", name, strings.Join(checks.SecretRuleSets, ", "))
		}
		for _, id := range cfg.OrderedRules {
			r := cfg.Rules[id]
			if _, dup := base.Rules[id]; dup {
				return config.Config{}, fmt.Errorf("rule set %s: rule %s is a default rule", name, id)
			}
			if _, dup := out.Rules[id]; dup {
				return config.Config{}, fmt.Errorf("rule set %s: rule %s is already defined", name, id)
			}
			if r.Path == nil {
				return config.Config{}, fmt.Errorf("rule set %s: rule %s has no path", name, id)
			}
			out.Rules[id] = r
			out.OrderedRules = append(out.OrderedRules, id)
		}
		for k := range cfg.Keywords {
			out.Keywords[k] = struct{}{}
		}
	}
	return out, nil
}

// engineVersion is gitleaks' module version from the binary's build info, or
// the pinned version when the binary carries none.
func engineVersion() string {
	bi, _ := debug.ReadBuildInfo()
	return versionFromBuildInfo(bi)
}

// versionFromBuildInfo finds gitleaks' module version in bi (nil: none).
// Test binaries carry build info without dependencies.
func versionFromBuildInfo(bi *debug.BuildInfo) string {
	if bi == nil {
		return gitleaksVersion
	}
	for _, dep := range bi.Deps {
		if dep.Path != gitleaksModule {
			continue
		}
		if dep.Replace != nil && dep.Replace.Version != "" {
			return dep.Replace.Version
		}
		if dep.Version != "" && dep.Version != "(devel)" {
			return dep.Version
		}
	}
	return gitleaksVersion
}
