package secrets

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/spf13/viper"
	"github.com/zricethezav/gitleaks/v8/config"
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
	// dataVersion is a short hash of the embedded rules file, so a verdict
	// says which rules it was computed with.
	dataVersion string
}

// defaultRules loads and compiles the rules once per process. The regular
// expressions of ~220 rules take tens of milliseconds to compile; every
// Scanner after the first reuses them. It also routes gitleaks' own logger
// to slog, which gitleaks only offers as a package variable.
var defaultRules = sync.OnceValues(func() (*ruleSet, error) {
	routeGitleaksLogs()
	return loadDefaultRules()
})

// loadDefaultRules parses gitleaks' embedded default config. gitleaks' own
// loader (detect.NewDetectorDefaultConfig) goes through the global viper;
// this uses a private viper instance so no global configuration is touched.
func loadDefaultRules() (*ruleSet, error) {
	v := viper.New()
	v.SetConfigType("toml")
	if err := v.ReadConfig(strings.NewReader(config.DefaultConfig)); err != nil {
		return nil, fmt.Errorf("read gitleaks default config: %w", err)
	}
	var vc config.ViperConfig
	if err := v.Unmarshal(&vc); err != nil {
		return nil, fmt.Errorf("decode gitleaks default config: %w", err)
	}
	cfg, err := vc.Translate()
	if err != nil {
		return nil, fmt.Errorf("compile gitleaks default rules: %w", err)
	}
	// Translate copies the global viper's config file name into Path, and
	// the detector skips any scanned file with that name. We load no file.
	cfg.Path = ""
	sum := sha256.Sum256([]byte(config.DefaultConfig))
	return &ruleSet{cfg: cfg, dataVersion: hex.EncodeToString(sum[:6])}, nil
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
