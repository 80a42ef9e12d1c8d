package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// envString is a flag whose default comes from an environment variable.
func envString(fs *pflag.FlagSet, p *string, name, env, def, usage string) {
	if v, ok := os.LookupEnv(env); ok {
		def = v
	}
	fs.StringVar(p, name, def, usage+" ($"+env+")")
}

func envBool(fs *pflag.FlagSet, p *bool, name, env string, def bool, usage string) {
	if v, ok := os.LookupEnv(env); ok {
		if b, err := strconv.ParseBool(v); err == nil {
			def = b
		}
	}
	fs.BoolVar(p, name, def, usage+" ($"+env+")")
}

func envInt(fs *pflag.FlagSet, p *int, name, env string, def int, usage string) {
	if v, ok := os.LookupEnv(env); ok {
		if n, err := strconv.Atoi(v); err == nil {
			def = n
		}
	}
	fs.IntVar(p, name, def, usage+" ($"+env+")")
}

// readKey loads the app's private key from the variable or the file.
func readKey(pem, path string) ([]byte, error) {
	if strings.TrimSpace(pem) != "" {
		return []byte(strings.ReplaceAll(pem, `\n`, "\n")), nil
	}
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read private key: %w", err)
	}
	return b, nil
}

// defaultDataDir is where gatehouse keeps its store and vulnerability DB
// when GATEHOUSE_DATA_DIR is not set: $XDG_DATA_HOME/gatehouse, or
// ~/.local/share/gatehouse, or ./data when there is no home directory.
func defaultDataDir() string {
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "gatehouse")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "gatehouse")
	}
	return "data"
}

func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

func envDuration(fs *pflag.FlagSet, p *time.Duration, name, env string, def time.Duration, usage string) {
	if v, ok := os.LookupEnv(env); ok {
		if d, err := time.ParseDuration(v); err == nil {
			def = d
		}
	}
	fs.DurationVar(p, name, def, usage+" ($"+env+")")
}
